// `npm run chaos -- --kills N [--sigkills M] [--seed S] [--verbose]`: the chaos run of chaos.test.ts, as
// long as asked: N deletions of the target pod and M (default N / 4) SIGKILLs of the target in its pod.
// Prints the per-kill table and every check; exits 1 if a check failed.
import { runChaos } from './chaos.js';

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: npm run chaos -- [--kills N (pod deletions, default 20, at least 2)] [--sigkills M (default N / 4, at most N)] [--seed S] [--verbose]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let kills = 20;
let sigkills: number | undefined;
let seed: number | undefined;
let verbose = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const val = () => {
    const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
    if (v === undefined || !/^\d+$/.test(v)) usage(`${a.split('=')[0]} needs a non-negative integer`);
    return Number(v);
  };
  if (a === '--kills' || a.startsWith('--kills=')) kills = val();
  else if (a === '--sigkills' || a.startsWith('--sigkills=')) sigkills = val();
  else if (a === '--seed' || a.startsWith('--seed=')) seed = val();
  else if (a === '--verbose' || a === '-v') verbose = true;
  else if (a === '--help' || a === '-h') usage('');
  else usage(`unknown argument ${a}`);
}
if (kills < 2) usage('--kills must be at least 2');
if (sigkills !== undefined && sigkills > kills) usage('--sigkills must be at most --kills');

try {
  const r = await runChaos({ kills, sigkills, seed, verbose });
  console.log(`\n${r.table}\n`);
  for (const l of r.summary) console.log(l);
  console.log('phases (s): ' + r.timings.map(([n, s]) => `${n} ${s.toFixed(1)}`).join(', '));
  for (const c of r.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  const failed = r.checks.filter((c) => !c.ok).length;
  console.log(failed ? `${failed} check(s) failed (seed ${r.seed})` : `all ${r.checks.length} checks passed (seed ${r.seed})`);
  process.exit(failed ? 1 : 0);
} catch (e) {
  console.error(`chaos: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
