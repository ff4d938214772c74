// node-cost's pure parts: the /proc and cgroup parsers on text as the kernel writes it, and the sizing
// arithmetic. The measurement itself (node-cost.ts) runs by hand on the real cluster; this checks the
// numbers it prints follow from what it read. Also reads this process's own files once, so a kernel whose
// smaps_rollup or cgroup files the parsers no longer understand fails here, not after a 10-minute run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupDir, cgroupMemory, parseKeyValues, parsePpid, parseSmapsRollup, readProcess, roleOf } from './proc.js';
import { millicores, podsThatFit, sizingRow, sizingTable, type ModeCost } from './sizing.js';

const MIB = 2 ** 20;

const SMAPS = `55d0c0a00000-7ffd5b9fe000 ---p 00000000 00:00 0                          [rollup]
Rss:               89524 kB
Pss:               43356 kB
Pss_Dirty:         32932 kB
Pss_Anon:          32908 kB
Pss_File:          10448 kB
Pss_Shmem:             0 kB
Shared_Clean:      55356 kB
`;

test('smaps_rollup: kB lines to bytes; a missing field is an error', () => {
  assert.deepEqual(parseSmapsRollup(SMAPS), { rss: 89524 * 1024, pss: 43356 * 1024, pssAnon: 32908 * 1024, pssFile: 10448 * 1024, pssShmem: 0 });
  assert.throws(() => parseSmapsRollup(SMAPS.replace(/^Pss_Anon.*\n/m, '')), /no Pss_Anon line/);
});

test('working set as the kubelet computes it: usage minus inactive file pages, v1 and v2 names', () => {
  const v1 = parseKeyValues('cache 300\nrss 50\ntotal_cache 3000\ntotal_rss 500\ntotal_shmem 70\ntotal_active_file 1200\ntotal_inactive_file 1800\n');
  assert.deepEqual(cgroupMemory(5000, v1, false), { usage: 5000, workingSet: 3200, anon: 500, shmem: 70, activeFile: 1200, inactiveFile: 1800 });
  const v2 = parseKeyValues('anon 400\nfile 900\nshmem 10\nactive_file 100\ninactive_file 800\n');
  assert.equal(cgroupMemory(1300, v2, true).workingSet, 500);
  assert.equal(cgroupMemory(100, v2, true).workingSet, 0, 'never negative (usage read before the stat)');
  assert.throws(() => cgroupMemory(1, v2, false), /no total_inactive_file/);
});

test('parent PID past a command name with spaces and parentheses', () => {
  assert.equal(parsePpid('4242 (node (a) b) S 17 4242 4242 0 -1'), 17);
});

test('roles of a target pod\'s processes', () => {
  assert.equal(roleOf(['node', '--max-semi-space-size=4', '/app/dist/target/main.js', '--config', 'x'], []), 'target');
  assert.equal(roleOf(['node', '/app/dist/target/supervisor.js', '--rings', 'r'], []), 'supervisor');
  assert.equal(roleOf(['/usr/bin/node', '--expose-gc', '/app/dist/target/resume/worker.js'], ['NVMEOF_RINGS=r', 'NVMEOF_WORKER_STANDBY=1']), 'standby');
  assert.equal(roleOf(['/usr/bin/node', '/app/dist/target/resume/worker.js'], ['NVMEOF_RINGS=r']), 'worker');
  assert.equal(roleOf(['/pause'], []), 'other');
});

test('this process: smaps_rollup and its memory cgroup are readable', () => {
  const me = readProcess(process.pid);
  assert.ok(me.smaps.pss > 0 && me.smaps.rss >= me.smaps.pss, JSON.stringify(me.smaps));
  assert.match(cgroupDir(process.pid, 'memory').dir, /^\/sys\/fs\/cgroup\//);
});

test('CPU quantities in millicores', () => {
  assert.equal(millicores('100m'), 100);
  assert.equal(millicores('2'), 2000);
  assert.equal(millicores('0.5'), 500);
  assert.equal(millicores(1), 1000);
  assert.equal(millicores('1Gi'), undefined);
  assert.equal(millicores(undefined), undefined);
});

test('pods that fit: the scarcer resource binds', () => {
  assert.deepEqual(podsThatFit({ millicores: 1950, bytes: 24 * 1024 * MIB }, { millicores: 100, bytes: 128 * MIB }), { pods: 19, bound: 'cpu' });
  assert.deepEqual(podsThatFit({ millicores: 1950, bytes: 1024 * MIB }, { millicores: 10, bytes: 128 * MIB }), { pods: 8, bound: 'memory' });
});

test('sizing row: medians of the idle pods, the load\'s CPU above idle per 1K IOPS', () => {
  const idle = (mc: number, ws: number, pss: number) => ({ millicores: mc, workingSet: ws * MIB, pss: pss * MIB, pssByRole: {} });
  const c: ModeCost = {
    mode: 'plain', subsystems: 3, ready: 3,
    idle: [idle(4, 34, 30), idle(5, 36, 32), idle(40, 90, 80)],
    loaded: { iops: 10_000, millicores: 405, workingSetPeak: 400 * MIB, workingSetSettled: 390 * MIB, activeFileAtPeak: 256 * MIB, unreclaimablePeak: 128 * MIB, pssPeak: 110 * MIB },
  };
  const r = sizingRow(c);
  assert.equal(r.idleMillicores, 5);
  assert.equal(r.perCoreIdle, 200);
  assert.equal(r.perGiBIdle, Math.floor(1024 / 36), 'the larger of working set and PSS');
  assert.equal(r.millicoresPerKiops, 40);
  assert.equal(r.perCoreLoaded, Math.floor(1000 / 45));
  assert.equal(r.perGiBLoaded, 8);
  const table = sizingTable([r]);
  assert.match(table, /^\| mode \|/);
  assert.match(table, /\| plain \| 5\.0m \| 36\.0 MiB \(32\.0\) \| 200 \| 28 \| 40m \(405m at 10\.0K\) \| 22 \| 128 MiB \(400\) \| 8 \|$/m);
});
