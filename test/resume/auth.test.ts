// In-pod resume with DH-HMAC-CHAP (issue 21, 1): a queue authenticated before a worker SIGKILL is served
// after it on the same TCP connection (the successor reads "authenticated" from the queue's slot), a
// re-authentication on it works, and a queue that had not authenticated yet is still refused everything but
// the AUTH messages, then authenticates. The supervisor with the TypeScript host; ports OS-assigned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTarget, SUPERVISOR_MAIN } from '../support/target-process.js';
import { propertyGetSqe, propertySetSqe, rwSqe, type HostQueue } from '../host/index.js';
import { IoOpc } from '../../target/protocol/opcodes.js';
import { authenticateQueue, connectRaw, writeDhchapConfig } from '../host/auth.js';
import { AUTHREQ_ATR, DYNAMIC_CNTLID } from '../../target/protocol/connect.js';
import { Status } from '../../target/protocol/status.js';
import { formatDhchapSecret } from '../../target/auth/secret.js';
import { killServingWorker } from './support.js';

const HOST = 'nqn.2014-08.org.nvmexpress:uuid:2c4e6a8b-1d3f-4a5b-8c7d-6e5f4a3b2c1d';
const NQN = 'nqn.2026-01.io.nvmeof.test:auth-resume';
const HOSTID = Buffer.from('2c4e6a8b1d3f4a5b8c7d6e5f4a3b2c1d', 'hex');
const SECRET = formatDhchapSecret({ hh: 2, key: Buffer.alloc(48, 0x61) });
const CTRL_SECRET = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x62) });
/** CC as the Linux host enables an I/O controller: EN, IOSQES 6, IOCQES 4; CSTS's offset. */
const CC_ENABLE = 0x460001n;
const CC = 0x14;
const CSTS = 0x1c;

function connect(port: number, qid: number, cntlid: number): Promise<{ q: HostQueue; dw0: number }> {
  return connectRaw(port, { qid, cntlid, subnqn: NQN, hostnqn: HOST, hostid: HOSTID });
}

test('in-pod resume: an authenticated queue stays authenticated across a worker SIGKILL; one that was not stays refused', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-auth-resume-'));
  const port = await freePort();
  const metricsPort = await freePort();
  const config = writeDhchapConfig(dir, { port, metricsPort, nqn: NQN, host: HOST, secret: SECRET, ctrlSecret: CTRL_SECRET, dhGroups: ['ffdhe2048'], backing: 'file' });
  const target = await startTarget(['--connection-slots', '8', '--rx-ring', '4M', '--rings', join(dir, 'rings'), '--config', config], { main: SUPERVISOR_MAIN });
  try {
    const admin = await connect(port, 0, DYNAMIC_CNTLID);
    assert.equal(admin.dw0 & AUTHREQ_ATR, AUTHREQ_ATR);
    const cntlid = admin.dw0 & 0xffff;
    assert.deepEqual(await authenticateQueue(admin.q, { hostnqn: HOST, subnqn: NQN, secret: SECRET, ctrlSecret: CTRL_SECRET }), { hash: 'sha384', dhGroup: 1 });
    assert.equal((await admin.q.submit(propertySetSqe(CC, CC_ENABLE))).status, 0);
    const io = await connect(port, 1, cntlid);
    await authenticateQueue(io.q, { hostnqn: HOST, subnqn: NQN, secret: SECRET });
    const io2 = await connect(port, 2, cntlid); // connected, not authenticated
    const data = Buffer.alloc(8192, 0x5c);
    await io.q.write(1, 8, 16, data);
    assert.equal((await io2.q.submit(propertyGetSqe(CSTS, false))).status, Status.AuthRequired);

    await killServingWorker(`127.0.0.1:${metricsPort}`);

    // The same connections: the authenticated ones are served, the other is still refused until it authenticates.
    const back = Buffer.alloc(8192);
    await io.q.read(1, 8, 16, back);
    assert.ok(back.equals(data), 'read back across the swap on the authenticated I/O queue');
    assert.equal((await admin.q.submit(propertyGetSqe(CSTS, false))).status, 0);
    assert.equal((await io2.q.submit(rwSqe(IoOpc.Read, 1, 0, 1), { inp: Buffer.alloc(512) })).status, Status.AuthRequired);
    await authenticateQueue(io2.q, { hostnqn: HOST, subnqn: NQN, secret: SECRET });
    await io2.q.read(1, 8, 16, back);
    assert.ok(back.equals(data));
    // Re-authentication on a resumed queue (bidirectional, a new DH exchange).
    await authenticateQueue(admin.q, { hostnqn: HOST, subnqn: NQN, secret: SECRET, ctrlSecret: CTRL_SECRET, tid: 9 });
    assert.equal((await admin.q.submit(propertyGetSqe(CSTS, false))).status, 0);
    const recovery = await (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json() as { workerRestarts: number };
    assert.equal(recovery.workerRestarts, 1);
    for (const q of [io2.q, io.q, admin.q]) q.close();
  } finally {
    await target.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
