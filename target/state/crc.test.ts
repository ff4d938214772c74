import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32cNative, crc32cRange, crc32cStep, crc32cWords, crc32cWordsFrom } from './crc.js';

test('CRC32C of "123456789" is e3069283 (the check value) in every implementation', () => {
  const b = Buffer.from('123456789');
  assert.equal(crc32cRange(b, 0, b.length), 0xe3069283);
  assert.equal(crc32cNative(b), 0xe3069283);
  const padded = Buffer.concat([Buffer.from('xx'), b, Buffer.from('yy')]);
  assert.equal(crc32cRange(padded, 2, 11), 0xe3069283);
});

test('table and native CRC32C agree on ranges of every length up to 600 bytes', () => {
  const b = randomBytes(700);
  for (let len = 0; len <= 600; len += 1) {
    const start = len % 7;
    assert.equal(crc32cRange(b, start, start + len), crc32cNative(b.subarray(start, start + len)), `length ${len}`);
  }
});

test('the word-wise CRC equals the byte-wise one on a 32-byte record', () => {
  const b = Buffer.alloc(64);
  randomBytes(64).copy(b);
  const u32 = new Uint32Array(b.buffer, b.byteOffset, 16);
  assert.equal(crc32cWords(u32, 1, 7), crc32cNative(b.subarray(4, 32)));
  assert.equal(crc32cWords(u32, 9, 7), crc32cNative(b.subarray(36, 64)));
});

test('a CRC continued from the saved state of its first words equals the CRC over all of them', () => {
  const b = Buffer.alloc(32);
  randomBytes(32).copy(b);
  const u32 = new Uint32Array(b.buffer, b.byteOffset, 8);
  for (let k = 0; k <= 7; k++) {
    let state = -1;
    for (let i = 1; i < 1 + k; i++) state = crc32cStep(state, u32[i]);
    assert.equal(crc32cWordsFrom(state, u32, 1 + k, 7 - k), crc32cNative(b.subarray(4, 32)), `${k} words saved`);
  }
});
