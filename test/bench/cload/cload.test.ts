// cload, the bench's C client, built with the machine's cc and run briefly against the real target process:
// its verify mode finds no error where there is none (memory and file namespaces, in-capsule and R2T
// writes, two queues, digests), does find a byte changed in the backing file behind the target's back,
// and its raw mode drives the bench's floor server. About 4 s (the first build adds about 1 s).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTarget, type TargetProcess } from '../../host/target-process.js';
import { cloadBinary } from './build.js';
import { runCload, runCloadOk } from './run.js';

const LBA = 512;

describe('cload against the target', () => {
  let t: TargetProcess;
  let dir: string;
  let bin: string;
  let image: string;
  const common = () => ['--port', String(t.port), '--nqn', t.nqn];

  before(async () => {
    bin = cloadBinary();
    dir = mkdtempSync(join(tmpdir(), 'nvmeof-cload-'));
    image = join(dir, 'ns2.img');
    t = await startTarget({ namespaces: ['--memory', '32M', '--namespace', `${image}:16M`] });
  });
  after(async () => {
    await t?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('verify: random 4K reads and in-capsule writes on two queues, memory namespace', async () => {
    const r = await runCloadOk(bin, [...common(), '--nsid', '1', '--verify', '--op', 'mix', '--queues', '2', '--qd', '16', '--span', '8M', '--seconds', '0.6', '--warmup', '0.1'], 'memory verify');
    assert.equal(r.in_capsule >= 4096, true, `IOCCSZ allows 4 KiB in the capsule (${r.in_capsule})`);
    assert.ok(r.iops > 0 && r.ios > 0, `no I/O completed: ${JSON.stringify(r)}`);
    assert.equal(r.errors, 0);
    assert.equal(r.verify_errors, 0);
    assert.ok(r.verified > 1000, `reads checked: ${r.verified}`);
    assert.ok(r.lat_p50_us > 0 && r.lat_p99_us >= r.lat_p50_us);
  });

  test('verify: 128K writes through R2T/H2CData, read back, file namespace, with header and data digests', async () => {
    const r = await runCloadOk(bin, [...common(), '--nsid', '2', '--verify', '--op', 'mix', '--bs', '128K', '--qd', '4', '--span', '8M', '--seconds', '0.4', '--warmup', '0', '--hdgst', '--ddgst'], 'file verify');
    assert.ok(r.bs > r.in_capsule, 'the writes leave after R2T');
    assert.ok(r.iops > 0);
    assert.equal(r.errors, 0);
    assert.equal(r.verify_errors, 0);
    assert.ok(r.verified >= 64, `the read-back checked every written slot (${r.verified})`);
  });

  test('verify finds a byte changed in the backing file behind the target', async () => {
    const span = ['--nsid', '2', '--span', '1M', '--bs', '4096', '--qd', '4', '--verify', '--gen', '77'];
    await runCloadOk(bin, [...common(), ...span, '--fill', '--seconds', '0'], 'fill');
    const clean = await runCloadOk(bin, [...common(), ...span, '--assume-written', '--op', 'read', '--seconds', '0'], 'read back before the change');
    assert.equal(clean.verified, (1 << 20) / 4096);
    // One byte of LBA 1000, inside the pattern's random words, changed through the file (the page cache the target reads).
    const at = 1000 * LBA + 200;
    const fd = openSync(image, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] ^= 0x01;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const r = await runCload(bin, [...common(), ...span, '--assume-written', '--op', 'read', '--seconds', '0']);
    assert.equal(r.code, 3, `exit 3 for a verify error: ${r.stderr}`);
    assert.equal(r.result?.verify_errors, 1);
    assert.equal(r.result?.errors, 0);
    assert.match(r.stderr, /LBA 1000 byte 200 differs/);
  });

  test('raw mode drives the floor server (no Connect): what the bench compares the target with', async () => {
    const floor: ChildProcess = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), '..', 'floor-server.js'), '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        floor.stdout!.once('data', (d: Buffer) => resolve(Number(/ready (\d+)/.exec(d.toString())?.[1])));
        floor.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
      });
      for (const op of ['read', 'write']) {
        const r = await runCloadOk(bin, ['--raw', '--port', String(port), '--blocks', String((64 << 20) / LBA), '--op', op, '--qd', '8', '--seconds', '0.3', '--warmup', '0'], `raw ${op}`);
        assert.ok(r.iops > 0 && r.errors === 0, JSON.stringify(r));
      }
    } finally {
      floor.kill('SIGTERM');
    }
  });

  test('a verify run refuses options it cannot honour', async () => {
    const r = await runCload(bin, [...common(), '--assume-written', '--verify']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--assume-written needs --verify and --gen/);
  });
});
