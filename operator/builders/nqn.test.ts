import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nqnProblem } from '../../target/contract.js';
import { deriveNqn, DERIVED_NQN_PREFIX, NQN_MAX_BYTES, nqnInUse } from './nqn.js';

test('deriveNqn: short names are kept readable', () => {
  assert.equal(deriveNqn('storage', 'vol'), `${DERIVED_NQN_PREFIX}storage:vol`);
});

test('deriveNqn: table of lengths stays within 223 bytes and valid for the target', () => {
  const cases: Array<[string, string]> = [
    ['a', 'b'],
    ['x'.repeat(63), 'y'.repeat(150)],
    ['x'.repeat(63), 'y'.repeat(253)],
    ['ns', 'a.b.c-d'.repeat(36)],
  ];
  for (const [ns, name] of cases) {
    const nqn = deriveNqn(ns, name);
    assert.ok(Buffer.byteLength(nqn) <= NQN_MAX_BYTES, `${nqn.length} bytes`);
    assert.equal(nqnProblem(nqn), undefined, nqn);
    assert.equal(deriveNqn(ns, name), nqn, 'deterministic');
  }
});

test('deriveNqn: long names that share a prefix still differ', () => {
  const a = deriveNqn('ns', 'v'.repeat(240) + 'a');
  const b = deriveNqn('ns', 'v'.repeat(240) + 'b');
  assert.notEqual(a, b);
  assert.equal(Buffer.byteLength(a), NQN_MAX_BYTES);
});

test('deriveNqn: the hash covers namespace and name apart', () => {
  assert.notEqual(deriveNqn('a'.repeat(63), 'b'.repeat(200)), deriveNqn('a'.repeat(62), 'a' + 'b'.repeat(200)));
});

test('nqnInUse: spec, then the recorded status, then derived', () => {
  assert.equal(nqnInUse({ nqn: 'nqn.2024-01.io.x:a' }, { nqn: 'nqn.2024-01.io.x:b' }, 'n', 'm'), 'nqn.2024-01.io.x:a');
  assert.equal(nqnInUse({}, { nqn: 'nqn.2024-01.io.x:b' }, 'n', 'm'), 'nqn.2024-01.io.x:b');
  assert.equal(nqnInUse({}, undefined, 'n', 'm'), deriveNqn('n', 'm'));
});
