import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from './file.js';
import { readAsync, writeAsync } from './backend.js';

test('file backend: writes read back, unaligned and across calls; a tail past EOF of a shrunk file reads as zeroes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-backend-'));
  const path = join(dir, 'ns.img');
  const b = await FileBackend.openFile(path, 1 << 20);
  try {
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
    truncateSync(path, 8192);
    const tail = Buffer.alloc(8192, 0xee);
    await readAsync(b, 4096, 8192, tail);
    assert.deepEqual(tail.subarray(0, 4096), Buffer.concat([Buffer.alloc(1), data]).subarray(0, 4096));
    assert.ok(tail.subarray(4096).every((x) => x === 0), 'past EOF reads as zeroes');
    await assert.rejects(readAsync(b, 0, 10, Buffer.alloc(4)), 'a destination too small is an error, not a silent short read');
  } finally {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
