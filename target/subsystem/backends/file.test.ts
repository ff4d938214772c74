import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FileBackend } from './file.js';
import { readAsync, writeAsync } from './backend.js';

test('file backend: writes read back, unaligned and across calls, through the mapping', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-backend-'));
  const path = join(dir, 'ns.img');
  const b = await FileBackend.openFile(path, 1 << 20);
  try {
    assert.equal(b.mapped, true, 'the safe-mmap addon loads (scripts/prepare.sh builds dist/native/safe-mmap.node)');
    const data = Buffer.alloc(12345);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    await writeAsync(b, 4097, data, false);
    await writeAsync(b, 70000, data.subarray(0, 512), true);
    const out = Buffer.alloc(12345, 0xee);
    await readAsync(b, 4097, out.length, out);
    assert.deepEqual(out, data);
    assert.deepEqual(readFileSync(path).subarray(70000, 70512), data.subarray(0, 512), 'the bytes are in the file');
    const never = Buffer.alloc(4096, 0xee);
    await readAsync(b, 200000, 4096, never);
    assert.ok(never.every((x) => x === 0), 'never-written blocks read as zeroes');
    await assert.rejects(readAsync(b, 0, 10, Buffer.alloc(4)), 'a destination too small is an error, not a silent short read');
  } finally {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file backend: page-cache I/O completes on the event loop; after a stall it goes to the thread pool, same data, FUA and errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-backend-'));
  const b = await FileBackend.openFile(join(dir, 'ns.img'), 1 << 20);
  try {
    /** Runs one call; says whether `done` ran before the call returned (the event loop's path) and with what. */
    const run = async (call: (done: (ctx: undefined, err: Error | null) => void) => void) => {
      let returned = false;
      let sync = false;
      const err = await new Promise<Error | null>((resolve) => {
        call((_ctx, e) => {
          sync = !returned;
          resolve(e);
        });
        returned = true;
      });
      return { sync, err };
    };
    /**
     * The call ran on the loop, unless that very call stalled past the guard's budget (a preempted CI
     * machine): then the guard has tripped and says so. A loop path that never runs fails either way.
     */
    const onLoop = (r: { sync: boolean; err: Error | null }, guard: typeof b.readGuard, what: string) => {
      assert.equal(r.err, null, what);
      assert.ok(r.sync || !guard.allowSync(performance.now()), `${what}: went to the thread pool with the guard untripped`);
    };
    const data = Buffer.alloc(8192, 0x5a);
    const out = Buffer.alloc(8192);
    onLoop(await run((d) => b.write(4096, data, false, d, undefined)), b.writeGuard, 'write');
    onLoop(await run((d) => b.read(4096, 8192, out, d, undefined)), b.readGuard, 'read');
    assert.deepEqual(out, data);
    // FUA: the write itself on the loop, the fdatasync on the pool: done comes later.
    assert.deepEqual(await run((d) => b.write(0, data.subarray(0, 4096), true, d, undefined)), { sync: false, err: null });
    const tooSmall = await run((d) => b.read(0, 10, Buffer.alloc(4), d, undefined));
    assert.ok(tooSmall.sync || !b.readGuard.allowSync(performance.now()));
    assert.ok(tooSmall.err, 'a destination too small is an error on the loop path too');

    // A call that stalled the loop for longer than the budget: both kinds go to the pool for the cool-off.
    const now = performance.now();
    assert.equal(b.readGuard.record(now - 1000, now, 4096), true);
    assert.equal(b.writeGuard.record(now - 1000, now, 4096), true);
    const other = Buffer.alloc(4096, 0xc3);
    assert.deepEqual(await run((d) => b.write(65536, other, false, d, undefined)), { sync: false, err: null });
    const back = Buffer.alloc(4096);
    assert.deepEqual(await run((d) => b.read(65536, 4096, back, d, undefined)), { sync: false, err: null });
    assert.deepEqual(back, other);
    assert.deepEqual(await run((d) => b.write(65536, other, true, d, undefined)), { sync: false, err: null });
    const small = await run((d) => b.read(0, 10, Buffer.alloc(4), d, undefined));
    assert.ok(small.err, 'a destination too small is an error on the pool path');
  } finally {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file backend: a file grown live is mapped over its new range before it is served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-backend-'));
  const path = join(dir, 'ns.img');
  const b = await FileBackend.openFile(path, 1 << 20);
  try {
    assert.equal(await b.resize(4 << 20), 4 << 20);
    assert.equal(statSync(path).size, 4 << 20);
    const data = Buffer.alloc(4096, 0x77);
    await writeAsync(b, (4 << 20) - 4096, data, false); // past the first mapping: SIGBUS-free only if remapped
    const back = Buffer.alloc(4096);
    await readAsync(b, (4 << 20) - 4096, 4096, back);
    assert.deepEqual(back, data);
    assert.deepEqual(readFileSync(path).subarray((4 << 20) - 4096), data, 'in the file');
  } finally {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file backend: a file truncated under the target raises SIGBUS on the mapping: that I/O and every later one fail with EIO, the process and other backings go on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-backend-'));
  const b = await FileBackend.openFile(join(dir, 'ns.img'), 1 << 20);
  const other = await FileBackend.openFile(join(dir, 'other.img'), 1 << 20);
  try {
    assert.equal(b.mapped, true, 'the safe-mmap addon loads');
    const data = Buffer.alloc(4096, 0x3c);
    await writeAsync(b, 0, data, false);
    await writeAsync(b, 65536, data, false);
    truncateSync(join(dir, 'ns.img'), 8192);
    const isSigbus = (e: unknown) => (e as NodeJS.ErrnoException).code === 'EIO' && /SIGBUS/.test((e as Error).message);
    await assert.rejects(readAsync(b, 65536, 4096, Buffer.alloc(4096)), isSigbus, 'a read past the new end');
    await assert.rejects(readAsync(b, 0, 4096, Buffer.alloc(4096)), isSigbus, 'offline: a read inside the file fails too');
    await assert.rejects(writeAsync(b, 0, data, false), isSigbus, 'offline: writes fail');
    await assert.rejects(b.flush(), isSigbus, 'offline: a flush fails (writes may have been lost)');
    await assert.rejects(b.zero(0, 4096), isSigbus);

    // A write fault past the end: another backing, faulted by a write first.
    await writeAsync(other, 0, data, false);
    truncateSync(join(dir, 'other.img'), 4096);
    await assert.rejects(writeAsync(other, 65536, data, false), isSigbus, 'a write past the new end');
  } finally {
    await b.close();
    await other.close();
  }
  const third = await FileBackend.openFile(join(dir, 'third.img'), 1 << 20);
  try {
    const data = Buffer.alloc(4096, 0x11);
    await writeAsync(third, 4096, data, true);
    const back = Buffer.alloc(4096);
    await readAsync(third, 4096, 4096, back);
    assert.deepEqual(back, data, 'a backing opened after the faults serves');
  } finally {
    await third.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file backend: without the addon (NVMEOF_NO_MMAP=1) it serves with readSync/writeSync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-backend-'));
  try {
    const script = `
      const { FileBackend } = await import(${JSON.stringify(new URL('./file.js', import.meta.url).href)});
      const { readAsync, writeAsync } = await import(${JSON.stringify(new URL('./backend.js', import.meta.url).href)});
      const b = await FileBackend.openFile(${JSON.stringify(join(dir, 'ns.img'))}, 1 << 20);
      const data = Buffer.alloc(8192, 0x6b);
      await writeAsync(b, 4096, data, true);
      const back = Buffer.alloc(8192);
      await readAsync(b, 4096, 8192, back);
      console.log(JSON.stringify({ mapped: b.mapped, same: back.equals(data) }));
      await b.close();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NVMEOF_NO_MMAP: '1' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { mapped: false, same: true });
    assert.equal(readFileSync(join(dir, 'ns.img')).subarray(4096, 12288).every((x) => x === 0x6b), true, 'in the file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
