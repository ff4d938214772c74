// The protocol-error check over target pods' logs (pod-protocol-errors.ts): the kubelet's folders and
// CRI line format, lines split into P parts or across reads, other containers, restarts, the allow-list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolErrorLog } from '../../target/transport/protocol-error-log.js';
import { PodProtocolErrorWatch } from './pod-protocol-errors.js';

const json = (message: string, meta: Record<string, unknown> = {}) =>
  JSON.stringify({ component: 'target', level: 'warn', message, ...meta, timestamp: '2026-01-01T00:00:00.000Z' });
const cri = (text: string, part: 'F' | 'P' = 'F', stream = 'stdout') => `2026-01-01T00:00:00.000000000Z ${stream} ${part} ${text}\n`;
const CID = json(ProtocolErrorLog.termReqSent, { kind: 'cid_conflict', error: 'command identifier 3 is already in flight' });
const DIGEST = json(ProtocolErrorLog.termReqSent, { kind: 'digest', error: 'header digest mismatch' });

function podDir(root: string, pod: string, container = 'target'): string {
  const d = join(root, `ns_${pod}_0000-uid`, container);
  mkdirSync(d, { recursive: true });
  return d;
}

test('a target pod\'s protocol error fails the check, quoted with its pod; other lines, other containers and allowed ones do not', () => {
  const root = mkdtempSync(join(tmpdir(), 'pod-logs-'));
  try {
    const clean = new PodProtocolErrorWatch(root);
    const a = podDir(root, 'a-target-x');
    writeFileSync(join(a, '0.log'), cri(json('serving')) + cri(json('controller removed', { reason: 'protocol error: x' })));
    podDir(root, 'op', 'operator');
    writeFileSync(join(root, 'ns_op_0000-uid', 'operator', '0.log'), cri(CID));
    clean.check();
    assert.deepEqual(clean.lines, []);

    // A restart's file, a line written in two reads, and one split into P parts by the runtime.
    appendFileSync(join(a, '1.log'), cri(CID).slice(0, 40));
    const w = new PodProtocolErrorWatch(root, [/"kind":"digest"/]);
    w.start();
    appendFileSync(join(a, '1.log'), cri(CID).slice(40));
    appendFileSync(join(a, '1.log'), cri(DIGEST.slice(0, 30), 'P') + cri(DIGEST.slice(30), 'F', 'stderr'));
    const b = podDir(root, 'b-target-y');
    writeFileSync(join(b, '0.log'), cri(CID.slice(0, 50), 'P') + cri(CID.slice(50)));
    assert.throws(() => w.check(), (e: Error) => {
      assert.match(e.message, /a target pod logged 2 protocol errors the test did not provoke/);
      assert.ok(e.message.includes(`ns_a-target-x_0000-uid: ${CID}`), e.message);
      assert.ok(e.message.includes(`ns_b-target-y_0000-uid: ${CID}`), e.message);
      assert.ok(!e.message.includes('digest'), 'the allowed one is not quoted');
      return true;
    });
    assert.equal(w.lines.length, 3, 'the allowed one was seen too');
    assert.equal(w.filesRead, 3, 'a-target-x 0.log and 1.log, b-target-y 0.log (not the operator\'s)');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('no pod log folder yet: nothing to find', () => {
  const w = new PodProtocolErrorWatch(join(tmpdir(), 'no-such-pod-logs-folder'));
  w.check();
  assert.deepEqual(w.lines, []);
});
