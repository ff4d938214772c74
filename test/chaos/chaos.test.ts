// Issue 7's acceptance, in CI: 20 deletions of the target pod (graceful and forced, at random
// intervals), 5 SIGKILLs of the target process in its live pod (the container restarts in place), one
// restart of the operator and one of kube-apiserver, while the Linux kernel host in qemu writes and
// verifies through the target; nothing may be lost (see chaos.ts and README.md here). CHAOS_POD_KILLS,
// CHAOS_SIGKILLS and CHAOS_SEED change the length and repeat a run; `npm run chaos -- --kills N` runs
// it by hand. A missing part fails the test with what to install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from './chaos.js';

const KILLS = Number(process.env.CHAOS_POD_KILLS ?? 20);
const SIGKILLS = process.env.CHAOS_SIGKILLS ? Number(process.env.CHAOS_SIGKILLS) : undefined;
const SEED = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : undefined;

test(`${KILLS} target pod deletions, SIGKILLs of the target in its pod, an operator restart and a kube-apiserver restart under verified I/O from the Linux host lose nothing`, { timeout: 30 * 60_000 }, async () => {
  assert.ok(KILLS >= 20 || process.env.CHAOS_POD_KILLS, 'the CI run deletes the target pod at least 20 times');
  const r = await runChaos({ kills: KILLS, sigkills: SIGKILLS, seed: SEED });
  console.log(`\n${r.table}\n`);
  for (const l of r.summary) console.log(l);
  console.log('phases (s): ' + r.timings.map(([n, s]) => `${n} ${s.toFixed(1)}`).join(', '));
  for (const ch of r.checks) console.log(`${ch.ok ? 'ok  ' : 'FAIL'} ${ch.name}: ${ch.detail}`);
  const failed = r.checks.filter((ch) => !ch.ok);
  assert.deepEqual(failed.map((ch) => `${ch.name}: ${ch.detail}`), [], `seed ${r.seed}`);
});
