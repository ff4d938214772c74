// Stopping: by PID, from the pid files, so that it also cleans up after a crash; then the mounts,
// cgroups, network namespace, veth pair and host-side files the cluster left.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT, type Component, type Layout } from './layout.js';
import { alive, cmdline, run, sleepSync } from './proc.js';

export function killPid(pid: number, what: string, graceMs: number, log: (m: string) => void): void {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) sleepSync(50);
  if (alive(pid)) {
    log(`${what} (pid ${pid}) still running after ${graceMs} ms: SIGKILL`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    const until2 = Date.now() + 5000;
    while (alive(pid) && Date.now() < until2) sleepSync(50);
  }
}

export function readPid(l: Layout, c: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(l.pidDir, `${c}.pid`), 'utf8').trim());
    // A reused PID belongs to someone else: only a process started with our state dir is ours.
    if (pid > 0 && alive(pid) && cmdline(pid).includes(l.stateDir)) return pid;
  } catch {
    /* no pid file */
  }
  return undefined;
}

/** Every process in the cluster's cgroups (the pods' containers). */
function cgroupPids(l: Layout): number[] {
  const pids = new Set<number>();
  const visit = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    try {
      for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p.trim()) pids.add(Number(p));
    } catch {
      /* not a cgroup dir */
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        if (statSync(p).isDirectory()) visit(p);
      } catch {
        /* gone */
      }
    }
  };
  for (const h of cgroupHierarchies()) visit(join(CGROUP_ROOT, h, l.cgroupName));
  return [...pids];
}

export function cgroupHierarchies(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const mp = f[4];
    if (mp && mp.startsWith(CGROUP_ROOT + '/') && / - cgroup2? /.test(line)) out.push(mp.slice(CGROUP_ROOT.length + 1));
  }
  return out;
}

function removeCgroups(l: Layout): void {
  const rm = (d: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        if (statSync(p).isDirectory()) rm(p);
      } catch {
        /* gone */
      }
    }
    try {
      rmdirSync(d);
    } catch {
      /* busy or gone */
    }
  };
  for (const h of cgroupHierarchies()) rm(join(CGROUP_ROOT, h, l.cgroupName));
}

export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\040/g, ' ');
    if (p === dir || p.startsWith(dir + '/')) out.push(p);
  }
  return out;
}

function unmountAll(dir: string, log: (m: string) => void): void {
  for (let round = 0; round < 10; round++) {
    const mps = mountsUnder(dir);
    if (mps.length === 0) return;
    // Last mounted first; deeper first.
    for (const mp of mps.reverse().sort((a, b) => b.split('/').length - a.split('/').length)) {
      if (run('umount', [mp], { allowFail: true }).code !== 0 && round >= 2) run('umount', ['-l', mp], { allowFail: true });
    }
  }
  const left = mountsUnder(dir);
  if (left.length) log(`WARNING: still mounted: ${left.join(' ')}`);
}

/** Stops a cluster by what its state directory records: works after a crash of the process that started it. */
export function stopLayout(l: Layout, bins: { ctr?: string; ip?: string }, log: (m: string) => void): void {
  const order: Component[] = ['kube-proxy', 'kubelet', 'kube-scheduler', 'kube-controller-manager'];
  for (const c of order) {
    const pid = readPid(l, c);
    if (pid) killPid(pid, c, 10_000, log);
  }
  // The containers: end them through containerd while it runs, so runc cleans up.
  const containerd = readPid(l, 'containerd');
  if (containerd && bins.ctr && existsSync(l.containerdSock)) {
    const ctr = (args: string[]) => run(bins.ctr!, ['--address', l.containerdSock, '--namespace', 'k8s.io', ...args], { allowFail: true });
    const tasks = ctr(['tasks', 'ls', '-q']).stdout.split('\n').filter(Boolean);
    for (const t of tasks) ctr(['tasks', 'kill', '--all', '--signal', 'SIGKILL', t]);
    for (const t of tasks) ctr(['tasks', 'delete', '--force', t]);
  }
  if (containerd) killPid(containerd, 'containerd', 10_000, log);
  // Shims left behind (containerd-shim-runc-v2 ... -address <our socket>), and whatever is still in our cgroups.
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cl = cmdline(Number(d));
    if (cl.includes('containerd-shim') && cl.includes(l.containerdSock)) {
      try {
        process.kill(Number(d), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (let i = 0; i < 50; i++) {
    const pids = cgroupPids(l);
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    sleepSync(100);
  }
  for (const c of ['kube-apiserver', 'etcd'] as Component[]) {
    const pid = readPid(l, c);
    if (pid) killPid(pid, c, 10_000, log);
  }
  unmountAll(l.stateDir, log);
  removeCgroups(l);
  if (bins.ip) {
    if (existsSync(`/run/netns/${l.netns}`)) run(bins.ip, ['netns', 'delete', l.netns], { allowFail: true });
    run(bins.ip, ['link', 'delete', l.hostIf], { allowFail: true });
  }
  // kubelet links each container's log into /var/log/containers; containerd's CNI keeps results in /var/lib/cni.
  try {
    for (const n of readdirSync('/var/log/containers')) {
      const p = join('/var/log/containers', n);
      try {
        if (readlinkSync(p).startsWith(l.stateDir + '/')) rmSync(p, { force: true });
      } catch {
        /* not a link */
      }
    }
  } catch {
    /* no such dir */
  }
  try {
    for (const n of readdirSync('/var/lib/cni/results')) {
      if (n.startsWith(l.cniNetwork + '-')) rmSync(join('/var/lib/cni/results', n), { force: true });
    }
  } catch {
    /* no such dir */
  }
  rmSync(l.pidDir, { recursive: true, force: true });
  // The bulky parts (unpacked images, etcd's data) go; the logs stay for a look after the run.
  // Never while anything is mounted below: a leftover bind mount would let rm reach a hostPath.
  if (mountsUnder(l.stateDir).length === 0) {
    for (const d of ['containerd', 'etcd', 'kubelet']) rmSync(join(l.stateDir, d), { recursive: true, force: true });
  }
}
