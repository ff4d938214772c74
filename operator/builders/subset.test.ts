import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containsDesired } from './subset.js';

test('containsDesired: table', () => {
  const cases: Array<[unknown, unknown, boolean]> = [
    [{ a: 1, b: 2 }, { a: 1 }, true],
    [{ a: 1 }, { a: 2 }, false],
    [{ a: { b: [1, 2], c: 'x' } }, { a: { b: [1, 2] } }, true],
    [{ a: [1, 2, 3] }, { a: [1, 2] }, false],
    [{ a: [{ x: 1, y: 2 }] }, { a: [{ x: 1 }] }, true],
    [undefined, { a: 1 }, false],
    [{ a: null }, { a: null }, true],
    [{ a: 'x' }, { a: { b: 1 } }, false],
    [{ a: 1 }, undefined, true],
  ];
  for (const [actual, desired, want] of cases) assert.equal(containsDesired(actual, desired), want, JSON.stringify([actual, desired]));
});
