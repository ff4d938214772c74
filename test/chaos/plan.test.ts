// The chaos run's plan (chaos.ts plan()): the kinds of the kills and the rows that carry the operator and
// apiserver restarts, for many seeds and lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from './chaos.js';

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => ((a = (Math.imul(a, 1664525) + 1013904223) >>> 0) / 4294967296);
}

test('chaos plan: the deletions asked for, half of each kind; each SIGKILL right before a deletion; the restarts on two deletions', () => {
  for (const deletions of [2, 3, 4, 5, 20, 100]) {
    for (const sigkills of [0, 1, Math.floor(deletions / 4), deletions]) {
      for (let seed = 1; seed <= 20; seed++) {
        const { kinds, events } = plan(deletions, seeded(seed), sigkills);
        const what = `${deletions} deletions, ${sigkills} SIGKILLs, seed ${seed}: ${kinds.join(' ')}`;
        assert.equal(kinds.length, deletions + sigkills, what);
        assert.equal(kinds.filter((k) => k === 'graceful').length, Math.ceil(deletions / 2), what);
        assert.equal(kinds.filter((k) => k === 'force').length, Math.floor(deletions / 2), what);
        assert.equal(kinds.filter((k) => k === 'sigkill').length, sigkills, what);
        // A pod's container is SIGKILLed at most once: a deletion follows every SIGKILL.
        kinds.forEach((k, i) => { if (k === 'sigkill') assert.ok(kinds[i + 1] === 'graceful' || kinds[i + 1] === 'force', what); });
        assert.deepEqual([...events.values()].sort(), ['apiserver', 'operator'], what);
        for (const row of events.keys()) assert.notEqual(kinds[row], 'sigkill', what);
      }
    }
  }
});

test('chaos plan: the same seed gives the same plan', () => {
  const a = plan(20, seeded(7), 5);
  const b = plan(20, seeded(7), 5);
  assert.deepEqual(a.kinds, b.kinds);
  assert.deepEqual([...a.events], [...b.events]);
});
