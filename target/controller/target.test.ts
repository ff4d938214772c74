// The target's dispatch (target.ts) called directly: check() before data moves, execute() once it is in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { Namespace } from '../subsystem/namespace.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { Qpair } from './qpair.js';
import { Target } from './target.js';
import { nullObserver, type BackendError, type Logger } from './observer.js';
import { CC_ENABLE, FailingBackend, FakeTransport, HOSTID, HOSTNQN, NQN, request, subsystem } from './test-support/harness.js';

function recordingLogger(lines: Array<[string, string, Record<string, unknown> | undefined]>): Logger {
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => { lines.push([level, msg, meta]); };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

test('a backend error is logged with the namespace, path, range and errno, and reported to the observer', async () => {
  const sub = subsystem([new Namespace(1, 512, deriveNamespaceIds(NQN, 1), new FailingBackend(1 << 20, '/dev/disk/by-id/nvme-x'))]);
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const reported: BackendError[] = [];
  const target = new Target([sub], { logger: recordingLogger(lines), observer: { ...nullObserver, backendError: (e) => reported.push(e) } });
  const ctrl = target.createController(sub, HOSTNQN, HOSTID, 0)!;
  ctrl.setCC(CC_ENABLE);
  const transport = new FakeTransport();
  const q = new Qpair(ctrl, 1, 127, transport, true);
  ctrl.ioQueues.set(1, q);
  const { req, done } = request(buildSqe({ opc: IoOpc.Read, cid: 3, nsid: 1, sglLen: 4096, cdw10: 64, cdw12: 7 }), q);
  assert.equal(target.check(req, q), 0);
  target.execute(req, q, transport);
  assert.equal((await done).status, Status.UnrecoveredReadError);
  assert.deepEqual(reported.map((e) => [e.nsid, e.offset, e.length, e.errno]), [[1, 64 * 512, 4096, 'EIO']]);
  const errors = lines.filter(([level]) => level === 'error');
  assert.deepEqual(errors, [['error', 'backend error', {
    subnqn: NQN, nsid: 1, path: '/dev/disk/by-id/nvme-x', op: 'read', offset: 32768, length: 4096, errno: 'EIO',
    error: 'EIO: i/o error, read', status: 'UnrecoveredReadError', cntlid: ctrl.cntlid, hostnqn: HOSTNQN,
  }]]);
});
