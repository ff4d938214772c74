import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool, MAX_POOLED } from './buffer-pool.js';

test('released buffers are reused for the same size class', () => {
  const p = new BufferPool(1 << 20);
  const a = p.acquire(5000);
  assert.equal(a.length, 5000);
  p.release(a);
  assert.equal(p.keptBytes, 8192);
  const b = p.acquire(8000);
  assert.equal(b.buffer, a.buffer, 'same memory');
  assert.equal(p.keptBytes, 0);
});

test('the pool keeps at most keepBytes of free buffers and never pools huge or foreign buffers', () => {
  const p = new BufferPool(16384);
  const bufs = [p.acquire(8192), p.acquire(8192), p.acquire(8192)];
  for (const b of bufs) p.release(b);
  assert.equal(p.keptBytes, 16384);
  p.release(Buffer.alloc(4096)); // from Node's shared pool (byteOffset may be non-zero): ignored or small
  const big = p.acquire(MAX_POOLED + 1);
  p.release(big);
  assert.ok(p.keptBytes <= 16384);
});

test('a class-sized buffer comes back as the same object; a part of one gives its whole class buffer back', () => {
  const p = new BufferPool(1 << 20);
  const a = p.acquire(4096);
  p.release(a);
  assert.equal(p.acquire(4096), a, 'the same Buffer, no new view');
  const part = p.acquire(3000);
  assert.equal(part.buffer.byteLength, 4096);
  p.release(part);
  const whole = p.acquire(4096);
  assert.equal(whole.buffer, part.buffer, 'the part returned its whole 4 KiB');
  assert.equal(whole.length, 4096);
  // A view into someone else's larger memory is never taken.
  p.release(Buffer.alloc(65536).subarray(0, 3000));
  assert.equal(p.keptBytes, 0);
});
