// Whatever reads the target's logs may go away (a log shipper restarted, a terminal closed): the target,
// the supervisor and its worker then get EPIPE on stdout. Each must go on serving the same connections,
// silently: no crash, no worker restart loop, and no loop logging its own logging error (the supervisor
// did that once, at 60 MB/s and most of a CPU).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostController } from '../host/index.js';
import { cpuSeconds, startTarget, type TargetProcess } from '../host/target-process.js';
import { startSupervised, type Supervised } from '../resume/support.js';
import { sleep } from '../support/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nvmeof-log-lost-'));
  dirs.push(d);
  return d;
}

/** Closes the reading end of the process's stdout and stderr pipes: its next log line gets EPIPE. */
function loseOutput(t: TargetProcess): void {
  t.proc.stdout?.destroy();
  t.proc.stderr?.destroy();
}

/** A PDU of unknown type: the target answers with a C2HTermReq and logs a warning. */
function sendBadPdu(t: TargetProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: t.host, port: t.port }, () => s.write(Buffer.alloc(128, 0x7f)));
    s.on('data', () => { /* the C2HTermReq */ });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

/** Verified I/O on every queue of `c`, and a Keep Alive. */
async function io(c: HostController, seed: number): Promise<void> {
  for (const [i, q] of c.io.entries()) {
    const data = Buffer.alloc(8192, `${seed}:${i};`);
    await q.write(1, i * 64, 16, data);
    const back = Buffer.alloc(8192);
    await q.read(1, i * 64, 16, back);
    assert.ok(back.equals(data), `queue ${i + 1} reads back what it wrote`);
  }
  await c.keepAlive();
}

/** CPU seconds the process (and its children) used over `ms` milliseconds. */
async function cpuOver(pid: number, ms: number): Promise<number> {
  const before = cpuSeconds(pid);
  await sleep(ms);
  return cpuSeconds(pid) - before;
}

describe('the log reader goes away', () => {
  test('the target goes on serving its connections, and new ones, without logging', async () => {
    const dir = tempDir();
    const t = await startTarget({ namespaces: ['--namespace', `${join(dir, 'ns1.img')}:64M`], extra: ['--state', join(dir, 'state.bin')], logLevel: 'debug' });
    try {
      const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 2, kato: 5000 });
      await io(c, 1);
      loseOutput(t);
      // Each of these logs: a protocol error (warn), a new association and its end (info).
      await sendBadPdu(t);
      const c2 = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 1, kato: 5000 });
      await io(c2, 2);
      await c2.disconnect();
      await io(c, 3);
      const cpu = await cpuOver(t.pid, 3000);
      assert.ok(t.alive(), 'the target is running');
      assert.ok(cpu < 1, `an idle target uses almost no CPU, not ${cpu.toFixed(2)} s in 3 s`);
      assert.match(await t.metrics(), /nvmeof_/, 'metrics still answer');
      await c.disconnect();
    } finally {
      await t.stop();
    }
  });

  test('the supervisor and its worker go on: a killed worker is replaced once, the connections resume', async () => {
    const dir = tempDir();
    const t: Supervised = await startSupervised({ namespaces: ['--namespace', `${join(dir, 'ns1.img')}:64M`], extra: ['--state', join(dir, 'state.bin')], logLevel: 'debug' });
    try {
      const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 2, kato: 5000 });
      await io(c, 1);
      const before = await t.recovery();
      loseOutput(t);
      await sendBadPdu(t);
      // Both the supervisor ("worker exited") and the new worker ("connections resumed") log.
      await t.killWorker();
      await io(c, 2);
      const cpu = await cpuOver(t.pid, 3000);
      const after = await t.recovery();
      assert.ok(t.alive(), 'the supervisor is running');
      assert.equal(after.workerRestarts - before.workerRestarts, 1, 'one kill, one restart: the new worker did not die on its logs');
      assert.equal(after.resume.connectionsResumed - before.resume.connectionsResumed, 3, 'the admin and both I/O queues resumed');
      assert.ok(cpu < 1, `an idle supervisor and worker use almost no CPU, not ${cpu.toFixed(2)} s in 3 s`);
      await c.disconnect();
    } finally {
      await t.stop();
    }
  });
});
