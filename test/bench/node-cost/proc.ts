// What a pod costs its node, read from this machine's /proc and cgroup files (test/bench/node-cost.ts).
//
// - PSS of each process (/proc/<pid>/smaps_rollup): a page shared by n processes counts 1/n in each, so
//   the Node binary's text, shared by every target process on the node, is spread over all of them and the
//   sum over a node's processes is what they take from it together.
// - The pod cgroup's working set as the kubelet computes it (cAdvisor's `workingSet`): usage minus the
//   inactive file pages, on cgroup v1 `memory.usage_in_bytes - total_inactive_file` of memory.stat, on v2
//   `memory.current - inactive_file`. It is what evictions and the memory limit see; it includes the pod's
//   tmpfs pages (the in-pod-resume rings in /dev/shm) and the active page cache of its files.
// - The pod cgroup's CPU time (cpuacct.usage on v1, cpu.stat usage_usec on v2), every process of the pod
//   counted, the sandbox's too.
// The parsers are pure; the readers only open files.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** smaps_rollup's fields, in bytes (the file gives kB). */
export interface Smaps { rss: number; pss: number; pssAnon: number; pssFile: number; pssShmem: number }

export function parseSmapsRollup(text: string): Smaps {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!m) throw new Error(`smaps_rollup has no ${key} line`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('Rss'), pss: kb('Pss'), pssAnon: kb('Pss_Anon'), pssFile: kb('Pss_File'), pssShmem: kb('Pss_Shmem') };
}

/** `key value` lines (memory.stat, cpu.stat). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** A cgroup's memory as the kubelet sees it, and what of it is page cache. Bytes. */
export interface CgroupMemory { usage: number; workingSet: number; anon: number; shmem: number; activeFile: number; inactiveFile: number }

/** v1 names its hierarchical totals total_*; v2's memory.stat is hierarchical already. */
export function cgroupMemory(usage: number, stat: Map<string, number>, v2: boolean): CgroupMemory {
  const get = (v1Key: string, v2Key: string) => {
    const v = stat.get(v2 ? v2Key : v1Key);
    if (v === undefined) throw new Error(`memory.stat has no ${v2 ? v2Key : v1Key}`);
    return v;
  };
  const inactiveFile = get('total_inactive_file', 'inactive_file');
  return {
    usage,
    workingSet: Math.max(0, usage - inactiveFile),
    anon: get('total_rss', 'anon'),
    shmem: get('total_shmem', 'shmem'),
    activeFile: get('total_active_file', 'active_file'),
    inactiveFile,
  };
}

/** The cgroup of `pid` that holds `controller` (v1), or its unified one (v2): an absolute directory. */
export function cgroupDir(pid: number, controller: 'memory' | 'cpuacct'): { dir: string; v2: boolean } {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  for (const line of lines) {
    const [, controllers, path] = line.split(/:(.*?):/);
    if (controllers !== undefined && controllers.split(',').includes(controller)) return { dir: join(CGROUP_ROOT, controllers, path ?? '/'), v2: false };
  }
  const unified = lines.find((l) => l.startsWith('0::'));
  if (unified) return { dir: join(CGROUP_ROOT, unified.slice(3)), v2: true };
  throw new Error(`/proc/${pid}/cgroup has no ${controller} hierarchy`);
}

/** The pod's cgroup: the parent of a container's (cgroupfs driver: .../kubepods/<qos>/pod<uid>/<container>). */
export function podCgroup(containerPid: number, controller: 'memory' | 'cpuacct'): { dir: string; v2: boolean } {
  const c = cgroupDir(containerPid, controller);
  const dir = dirname(c.dir);
  if (!/\/pod[0-9a-f-]+(\.slice)?$/.test(dir)) throw new Error(`${c.dir}: its parent ${dir} is not a pod cgroup`);
  return { dir, v2: c.v2 };
}

export function readPodMemory(containerPid: number): CgroupMemory {
  const { dir, v2 } = podCgroup(containerPid, 'memory');
  const usage = Number(readFileSync(join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8').trim());
  return cgroupMemory(usage, parseKeyValues(readFileSync(join(dir, 'memory.stat'), 'utf8')), v2);
}

/** CPU time of the pod's cgroup, in seconds. */
export function readPodCpuSeconds(containerPid: number): number {
  const { dir, v2 } = podCgroup(containerPid, 'cpuacct');
  if (v2) {
    const us = parseKeyValues(readFileSync(join(dir, 'cpu.stat'), 'utf8')).get('usage_usec');
    if (us === undefined) throw new Error(`${dir}/cpu.stat has no usage_usec`);
    return us / 1e6;
  }
  return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8').trim()) / 1e9;
}

/** The parent PID from /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function parsePpid(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** `root` and every process under it, parents first. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let ppid: number;
    try {
      ppid = parsePpid(readFileSync(`/proc/${d}/stat`, 'utf8'));
    } catch {
      continue; // gone meanwhile
    }
    const list = children.get(ppid) ?? [];
    list.push(Number(d));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(root);
  return out;
}

export type Role = 'target' | 'supervisor' | 'worker' | 'standby' | 'other';

/**
 * What a target pod's process is, from its command line and environment: the supervisor (dist/target/
 * supervisor.js), a worker it forked (dist/target/resume/worker.js; NVMEOF_WORKER_STANDBY=1 in the
 * environment of the standby, which is the one it was forked with, so a standby that took over still says
 * so: the script measures pods that never lost a worker), or the plain target (dist/target/main.js).
 */
export function roleOf(cmdline: string[], environ: string[]): Role {
  const script = cmdline.find((a) => a.endsWith('.js')) ?? '';
  if (script.endsWith('/supervisor.js')) return 'supervisor';
  if (script.endsWith('/resume/worker.js')) return environ.includes('NVMEOF_WORKER_STANDBY=1') ? 'standby' : 'worker';
  if (script.endsWith('/target/main.js')) return 'target';
  return 'other';
}

export interface ProcessCost { pid: number; role: Role; smaps: Smaps }

export function readProcess(pid: number): ProcessCost {
  const nul = (f: string) => readFileSync(`/proc/${pid}/${f}`, 'utf8').split('\0').filter(Boolean);
  return { pid, role: roleOf(nul('cmdline'), nul('environ')), smaps: parseSmapsRollup(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')) };
}
