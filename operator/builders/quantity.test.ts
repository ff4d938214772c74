import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBytes, QuantityError } from './quantity.js';

test('parseBytes: accepted quantities', () => {
  const cases: Array<[string | number, number]> = [
    [4096, 4096], ['4096', 4096], ['1Ki', 1024], ['64Mi', 64 * 2 ** 20], ['1Gi', 2 ** 30], ['2Ti', 2 * 2 ** 40],
    ['1k', 1000], ['500M', 500e6], ['1G', 1e9], ['1T', 1e12], ['1P', 1e15], ['0', 0],
  ];
  for (const [q, bytes] of cases) assert.equal(parseBytes(q), bytes, String(q));
});

test('parseBytes: refused quantities', () => {
  for (const q of ['1.5Gi', '-1', '1gi', '1Ei', 'abc', '', '1 Gi', 1.5, -4096, Number.MAX_SAFE_INTEGER + 2, '9999999Pi']) {
    assert.throws(() => parseBytes(q as string | number), QuantityError, String(q));
  }
});
