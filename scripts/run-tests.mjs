#!/usr/bin/env node
// Runs the compiled tests with node's built-in runner.
//   --unit      only unit tests (beside their sources in target/ and operator/)
//   --real      only tests on real parts (under test/)
//   a substring filters test files by path.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const realOnly = args.includes('--real');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const roots = [];
if (!realOnly) roots.push('dist/target', 'dist/operator');
if (!unitOnly) roots.push('dist/test');
let files = roots.flatMap((r) => walk(r, [])).sort();
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
// Unit tests run first: they are fast and a failure there makes the slow ones moot.
files.sort((a, b) => Number(a.startsWith('dist/test')) - Number(b.startsWith('dist/test')) || a.localeCompare(b));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
