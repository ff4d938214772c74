// In-pod resume against the supervisor process, with the TypeScript host: bytes relay through the rings,
// and a SIGKILLed worker is replaced without the host's connections noticing (same TCP connections, same
// controller, I/O goes on), idle and with commands in flight.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { HostController, HostQueue } from '../host/index.js';
import { TermFes } from '../../target/protocol/pdu.js';
import { DISCOVERY_NQN } from '../../target/protocol/opcodes.js';
import { hangWorker, startSupervised, type Supervised } from './support.js';

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let x = seed | 1;
  for (let i = 0; i < len; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

describe('in-pod resume', () => {
  let t: Supervised;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nvmeof-resume-'));
    t = await startSupervised({
      namespaces: ['--namespace', `${join(dir, 'ns1.img')}:64M`], extra: ['--state', join(dir, 'state.bin')],
      expectProtocolErrors: [/"kind":"pdu_type"/], // provoked: a PDU type no host sends
    });
  });
  after(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('I/O through the supervisor: in-capsule, R2T with several H2CData, reads, with and without digests', async () => {
    for (const digests of [false, true]) {
      const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, hdgst: digests, ddgst: digests, ioQueues: 2, kato: 5000 });
      try {
        for (const [i, len] of [4096, 8192, 65536, 512 * 1024].entries()) {
          const data = pattern(len, i + 1);
          const q = c.io[i % 2];
          await q.write(1, i * 2048, len / 512, data);
          const back = Buffer.alloc(len);
          await q.read(1, i * 2048, len / 512, back);
          assert.ok(back.equals(data), `read back ${len} bytes`);
        }
      } finally {
        await c.disconnect();
      }
    }
  });

  test('an idle worker killed with SIGKILL: the same connections go on', async () => {
    const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 2, kato: 5000 });
    try {
      const before = await t.recovery();
      const a = pattern(65536, 7);
      await c.io[0].write(1, 0, 128, a);
      await t.killWorker();
      const back = Buffer.alloc(65536);
      await c.io[1].read(1, 0, 128, back);
      assert.ok(back.equals(a));
      const b = pattern(8192, 9);
      await c.io[0].write(1, 256, 16, b);
      await c.io[0].read(1, 256, 16, back.subarray(0, 8192));
      assert.ok(back.subarray(0, 8192).equals(b));
      const id = await c.identifyController();
      assert.equal(id.cntlid, c.cntlid, 'the same controller');
      await c.keepAlive();
      const after = await t.recovery();
      assert.equal(after.workerRestarts, before.workerRestarts + 1);
      assert.equal(after.resume.connectionsResumed - before.resume.connectionsResumed, 3, 'admin and two I/O queues resumed');
    } finally {
      await c.disconnect();
    }
  });

  test('a discovery controller resumes too', async () => {
    const c = await HostController.connect({ host: t.host, port: t.port, subnqn: DISCOVERY_NQN, kato: 5000 });
    try {
      const a = await c.discoveryLog();
      await t.killWorker();
      const b = await c.discoveryLog();
      assert.deepEqual(b.records, a.records);
    } finally {
      await c.disconnect();
    }
  });

  test('a bad PDU followed by the host\'s FIN still gets its C2HTermReq, as from the direct target', async () => {
    const q = await HostQueue.open({ host: t.host, port: t.port });
    const bad = Buffer.alloc(72);
    bad[0] = 0x7f; // a PDU type no host sends
    bad[2] = 72;
    bad.writeUInt32LE(72, 4);
    q.sendRaw(bad);
    (q as unknown as { sock: Socket }).sock.end();
    const info = await q.closed;
    assert.equal(info.termReq?.fes, TermFes.InvalidHeaderField);
  });

  test('a hung worker (SIGSTOP) is killed by the watchdog and replaced: the same connections go on', async () => {
    const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 1, kato: 5000 });
    try {
      const before = await t.recovery();
      const a = pattern(16384, 11);
      await c.io[0].write(1, 512, 32, a);
      const stoppedAt = Date.now();
      // Sent to the stopped worker: answered by the next one.
      const back = Buffer.alloc(16384);
      const read = c.io[0].read(1, 512, 32, back);
      const ka = c.keepAlive();
      await hangWorker(`${t.host}:${t.metricsPort}`);
      const replacedMs = Date.now() - stoppedAt;
      await Promise.all([read, ka]);
      assert.ok(back.equals(a), 'the read sent during the hang returns the data');
      const after = await t.recovery();
      assert.equal(after.resume.workerHangs - before.resume.workerHangs, 1, 'one hung worker killed');
      assert.equal(after.workerRestarts - before.workerRestarts, 1, 'one restart');
      assert.equal(after.resume.connectionsResumed - before.resume.connectionsResumed, 2, 'admin and I/O queue resumed');
      assert.ok(replacedMs >= 2500, `not killed before the 3 s timeout (${replacedMs} ms)`);
      assert.match(await (await fetch(`http://${t.host}:${t.metricsPort}/metrics`)).text(), /nvmeof_target_worker_hangs_total\{subsystem="[^"]+"\} [1-9]/);
    } finally {
      await c.disconnect();
    }
  });

  test('keep-alive: the deadline counts from the last command before the kill, not from the restart', async () => {
    const kato = 3000;
    const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 1, kato, sendKeepAlive: false });
    const last = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    await t.killWorker();
    const resumedAt = Date.now();
    const info = await c.admin.closed;
    const after = Date.now() - last;
    assert.ok(info.closedByController, 'the controller ended the connection');
    assert.ok(after >= kato - 100 && after < kato + 700, `closed ${after} ms after the last command (KATO ${kato} ms; ${resumedAt - last} ms at the restart)`);
    for (const q of c.io) q.destroy();
  });
});

describe('in-pod resume without a standby worker, and its shutdown', () => {
  test('a worker forked after the kill takes over; SIGTERM stops it cleanly and removes the rings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvmeof-resume-'));
    const rings = join(dir, 'rings');
    const args = { namespaces: ['--namespace', `${join(dir, 'ns1.img')}:16M`], extra: ['--state', join(dir, 'state.bin')], supervisorFlags: ['--no-standby-worker', '--rings', rings, '--connection-slots', '4'] };
    let t = await startSupervised(args);
    try {
      const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 1, kato: 5000 });
      const data = pattern(65536, 3);
      await c.io[0].write(1, 0, 128, data);
      await t.killWorker();
      const back = Buffer.alloc(65536);
      await c.io[0].read(1, 0, 128, back);
      assert.ok(back.equals(data));
      assert.ok(existsSync(`${rings}.0`) && existsSync(`${rings}.1`) && !existsSync(`${rings}.2`), 'a slot file per connection open at once');
      await c.disconnect();
      await t.stop(15_000);
      assert.deepEqual(await t.exited, { code: 0, signal: null });
      assert.ok(!existsSync(rings) && !existsSync(`${rings}.0`), 'the rings files are gone');
      t = await startSupervised(args);
      const r = await (await fetch(`http://${t.host}:${t.metricsPort}/recovery`)).json() as { last: { outcome: string } };
      assert.equal(r.last.outcome, 'clean', 'the worker marked its state file clean');
    } finally {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('in-pod resume with a memory namespace', () => {
  test('is refused: the connections close so the host reconnects and sees the new, empty namespace', async () => {
    const t = await startSupervised({ namespaces: ['--memory', '16M'] });
    try {
      const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 1, kato: 5000 });
      await c.io[0].write(1, 0, 8, Buffer.alloc(4096, 1));
      await t.killWorker();
      const [a, q] = await Promise.all([c.admin.closed, c.io[0].closed]);
      assert.ok(a.closedByController && q.closedByController);
    } finally {
      await t.stop();
    }
  });
});
