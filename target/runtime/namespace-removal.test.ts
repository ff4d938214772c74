// A namespace removed by a live change while a command on it is at the backend (runtime/reconfigure.ts):
// the nsid is inactive at once, the command at the backend completes with its own status, and only then is
// the backend flushed and closed and the namespace's reservations forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { Namespace } from '../subsystem/namespace.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import type { Backend, IoDone } from '../subsystem/backends/backend.js';
import { Target } from '../controller/target.js';
import { checkIo, executeIo } from '../controller/io.js';
import { startIo } from '../controller/reservations.js';
import { nullLogger } from '../controller/observer.js';
import { NQN, memoryNamespace, request, rig, subsystem } from '../controller/test-support/harness.js';
import { validateConfig, type TargetConfig } from '../config/config.js';
import { applyConfig, type LiveTarget } from './reconfigure.js';

/** Writes complete when the test says so; records flush and close. */
class HeldBackend implements Backend {
  readonly kind = 'memory' as const;
  readonly size = 1 << 20;
  held: Array<() => void> = [];
  calls: string[] = [];
  read<T>(_o: number, _l: number, _d: Buffer, done: IoDone<T>, ctx: T): void { done(ctx, null); }
  write<T>(_o: number, _s: Buffer, _f: boolean, done: IoDone<T>, ctx: T): void { this.held.push(() => done(ctx, null)); }
  async flush(): Promise<void> { this.calls.push('flush'); }
  async zero(): Promise<void> {}
  async close(): Promise<void> { this.calls.push('close'); }
}

const cfg = (nsids: number[]): TargetConfig => validateConfig({
  apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
  subsystems: [{ nqn: NQN, allowAnyHost: true, listeners: [{ address: '127.0.0.1', port: 4420 }], namespaces: nsids.map((nsid) => ({ nsid, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } })) }],
});

const tick = () => new Promise((r) => setTimeout(r, 5));

test('a removed namespace: inactive at once, its write at the backend completes, then flush and close', async () => {
  const backend = new HeldBackend();
  const sub = subsystem([new Namespace(1, 512, deriveNamespaceIds(NQN, 1), backend), memoryNamespace(2)]);
  const r = rig(sub);
  const target = new Target([sub]);
  const live: LiveTarget = {
    config: cfg([1, 2]), target, frontEnd: { perConnectionBudget: 0, addresses: [], start: async () => {}, stopAccepting: async () => {}, closeConnections: () => {} },
    subsystems: [sub], persistence: new Map(), log: nullLogger,
    openPersistence: () => { throw new Error('no state files here'); },
    setLogLevel: () => {},
    removedNamespaces: new Map(),
  };
  // A write on nsid 1 reaches the backend and is held there.
  const { req, done } = request(buildSqe({ opc: IoOpc.Write, cid: 7, nsid: 1, sglLen: 512, cdw10: 0, cdw12: 0 }), r.io, Buffer.alloc(512, 1));
  assert.equal(checkIo(req, sub), 0);
  assert.ok(startIo(req, r.ctrl));
  executeIo(req, sub, sub.smart);
  assert.equal(backend.held.length, 1);
  // A second write whose data is still moving (checked before the change, executed after it).
  const moving = request(buildSqe({ opc: IoOpc.Write, cid: 8, nsid: 1, sglLen: 512, cdw10: 1, cdw12: 0 }), r.io, Buffer.alloc(512, 2));
  assert.equal(checkIo(moving.req, sub), 0);

  const res = await applyConfig(live, cfg([2]));
  assert.ok(res.ok, res.ok ? '' : res.error);
  assert.deepEqual(sub.activeNsids(), [2], 'inactive at once');
  const after = request(buildSqe({ opc: IoOpc.Read, cid: 9, nsid: 1, sglLen: 512, cdw10: 0, cdw12: 0 }), r.io);
  assert.equal(checkIo(after.req, sub), Status.InvalidNamespace, 'a new command on it');
  assert.ok(startIo(moving.req, r.ctrl));
  executeIo(moving.req, sub, sub.smart);
  assert.equal((await moving.done).status, Status.InvalidNamespace, 'the command whose data was moving');

  await tick();
  assert.deepEqual(backend.calls, [], 'not closed while its write is at the backend');
  backend.held[0]();
  assert.equal((await done).status, 0, 'the write at the backend completes with its own status');
  for (let i = 0; i < 50 && backend.calls.length < 2; i++) await tick();
  assert.deepEqual(backend.calls, ['flush', 'close']);
  assert.equal(sub.retiring.size, 0);
});
