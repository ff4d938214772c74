import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryBackend } from './memory.js';
import { readAsync, writeAsync } from './backend.js';

/** A plain model of the namespace: what every read must return. */
function model(size: number) {
  const m = Buffer.alloc(size);
  return { write: (o: number, b: Buffer) => b.copy(m, o), zero: (o: number, l: number) => m.fill(0, o, o + l), read: (o: number, l: number) => m.subarray(o, o + l) };
}

test('memory backend: reads across written and never-written chunks match a plain buffer', async () => {
  const size = 64 * 4096;
  const b = new MemoryBackend(size);
  const m = model(size);
  // Unaligned writes that start and end inside chunks, a write spanning several, and zeroes over both kinds.
  const ops: Array<['w', number, number] | ['z', number, number]> = [
    ['w', 4096 + 512, 1024], ['w', 10 * 4096 - 512, 3 * 4096 + 1024], ['w', 30 * 4096, 4096],
    ['z', 10 * 4096, 4096], ['z', 40 * 4096, 8 * 4096], ['w', 63 * 4096 + 3584, 512], ['z', 4096 + 1024, 512],
  ];
  for (const [k, o, l] of ops) {
    if (k === 'w') {
      const d = randomBytes(l);
      await writeAsync(b, o, d, false);
      m.write(o, d);
    } else {
      await b.zero(o, l);
      m.zero(o, l);
    }
  }
  for (const [o, l] of [[0, size], [4096, 4096], [512, 8192], [9 * 4096 + 100, 6 * 4096], [63 * 4096, 4096], [30 * 4096 - 512, 1024]]) {
    const dst = Buffer.alloc(l, 0xa5); // what a pooled buffer held before: every byte must be overwritten
    await readAsync(b, o, l, dst);
    assert.ok(dst.equals(m.read(o, l)), `read ${o}+${l}`);
  }
});
