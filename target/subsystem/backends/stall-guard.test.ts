import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StallGuard, BUDGET_MS, BUDGET_SHARE, MAX_COOL_MS, MIN_COOL_MS, PROBE_MS, SLOW_BASE_MS, SLOW_PER_PAGE_MS, STALL_RATIO } from './stall-guard.js';

/** Replays calls [start, took, bytes] on a fresh guard; returns, per call, whether it tripped and the resume time. */
function replay(calls: Array<[number, number, number]>): Array<{ tripped: boolean; resumeAt: number }> {
  const g = new StallGuard();
  return calls.map(([start, took, bytes]) => {
    assert.ok(g.allowSync(start), `a call at ${start} ms ran while the guard said the pool`);
    const tripped = g.record(start, start + took, bytes);
    return { tripped, resumeAt: g.resumeAt };
  });
}

const K4 = 4096;
const M1 = 1 << 20;

test('stall guard: what counts as slow, and the budget slow calls spend', () => {
  const limit4k = SLOW_BASE_MS + SLOW_PER_PAGE_MS;
  const limit1m = SLOW_BASE_MS + SLOW_PER_PAGE_MS * 256;
  const cases: Array<{ name: string; calls: Array<[number, number, number]>; trips: boolean[] }> = [
    { name: 'page-cache hits never trip', calls: Array.from({ length: 1000 }, (_, i) => [i * 0.01, 0.005, K4]), trips: Array(1000).fill(false) },
    { name: 'a 1 MiB copy under its own limit is not slow', calls: Array.from({ length: 100 }, (_, i) => [i, limit1m * 0.99, M1]), trips: Array(100).fill(false) },
    { name: 'one preemption-sized stall within the budget does not trip', calls: [[0, BUDGET_MS * 0.9, K4], [1000, 0.005, K4]], trips: [false, false] },
    { name: 'one call longer than the budget trips at once (a failing device)', calls: [[0, BUDGET_MS + 1, K4]], trips: [true] },
    {
      name: 'disk-latency misses overdraw the budget within a few calls',
      calls: [[0, 8, K4], [8.1, 8, K4], [16.2, 8, K4]],
      trips: [false, false, true],
    },
    {
      name: 'slow calls paced below the refill share never trip',
      calls: Array.from({ length: 50 }, (_, i) => [i * 2 * (1 / BUDGET_SHARE), 2, K4]),
      trips: Array(50).fill(false),
    },
    { name: 'calls at the 4 KiB limit, back to back, are not slow', calls: Array.from({ length: 1000 }, (_, i) => [i * limit4k, limit4k - 1e-9, K4]), trips: Array(1000).fill(false) },
  ];
  for (const c of cases) {
    assert.deepEqual(replay(c.calls).map((r) => r.tripped), c.trips, c.name);
  }
  // Just over the limit, back to back: each spends its duration less the refill of that time, so the
  // budget lasts BUDGET_MS / (took * (1 - BUDGET_SHARE)) calls.
  const took = limit4k + 0.001;
  const g = new StallGuard();
  let first = -1;
  for (let i = 0; first < 0 && i < 400; i++) if (g.record(i * took, (i + 1) * took, K4)) first = i;
  assert.equal(first, Math.floor(BUDGET_MS / (took * (1 - BUDGET_SHARE))), 'just over the limit is slow and spends the budget');
});

test('stall guard: cool-offs start short, double while probes keep stalling, scale with the stall, reset later', () => {
  const g = new StallGuard();
  const big = BUDGET_MS + 1; // one such call trips
  // First trip: MIN_COOL_MS, or STALL_RATIO times the call if longer.
  assert.equal(g.record(0, big, K4), true);
  const firstEnd = big + Math.max(MIN_COOL_MS, STALL_RATIO * big);
  assert.equal(g.resumeAt, firstEnd);
  assert.equal(g.allowSync(firstEnd - 0.001), false, 'the pool during the cool-off');
  assert.equal(g.allowSync(firstEnd), true, 'synchronous again once it ends');
  // The probe right after stalls again: the cool-off doubles (unless the stall's own share is longer).
  const cools: number[] = [];
  let t = firstEnd;
  let cool = MIN_COOL_MS;
  for (let i = 0; i < 12; i++) {
    const start = g.resumeAt + 1;
    assert.ok(start - g.resumeAt <= PROBE_MS);
    g.record(start, start + 1, K4); // a slow call within the budget: no trip yet
    assert.equal(g.record(start + 1, start + 1 + big, K4), true);
    cool = Math.min(cool * 2, MAX_COOL_MS);
    t = start + 1 + big;
    cools.push(g.resumeAt - t);
    assert.equal(g.resumeAt - t, Math.max(cool, STALL_RATIO * big), `cool-off ${i}`);
  }
  assert.equal(cools[cools.length - 1], MAX_COOL_MS, 'capped');
  // A trip long after the last cool-off ended starts again at the minimum.
  const late = g.resumeAt + PROBE_MS + 1000;
  assert.equal(g.record(late, late + big, K4), true);
  assert.equal(g.resumeAt - (late + big), Math.max(MIN_COOL_MS, STALL_RATIO * big));
  // A 30 s stall (a failing disk's command timeout) keeps the loop off the device for STALL_RATIO times as long.
  const later = g.resumeAt + PROBE_MS + 1000;
  assert.equal(g.record(later, later + 30_000, K4), true);
  assert.equal(g.resumeAt - (later + 30_000), STALL_RATIO * 30_000);
  assert.equal(g.trips, 15);
});
