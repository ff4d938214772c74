// A real single-node Kubernetes cluster on this machine: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd + runc, kubelet and
// kube-proxy, all started here and stopped by PID. See test/README.md,
// "Kubernetes cluster", for the layout and why it is built this way.
//
// Every component runs inside a network namespace made for the cluster
// (`nvmeof-<name>`), joined to the host by a veth pair: the host side is
// 10.213.<n>.1, the cluster side 10.213.<n>.2, which is the node's IP and the API
// server's advertised address. The namespace has no default route, so nothing a
// pod sends can leave the machine. Pods reach the API server through the
// `kubernetes` Service (10.96.0.1:443, DNAT by kube-proxy to 10.213.<n>.2:6443);
// host-network pods can also use 127.0.0.1:6443. The host reaches the API server
// at https://10.213.<n>.2:6443 (the kubeconfig says so).
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { buildImages, type ImageSet } from './images.js';
import { cacheDir, findBinaries, k8sVersion, type Binaries } from './paths.js';
import { Pki } from './pki.js';

export interface ClusterOptions {
  /** names the state directory, the network namespace and the veth pair (default "test") */
  name?: string;
  /** working files; wiped at start (default ${NVMEOF_CACHE}/run/<name>) */
  stateDir?: string;
  /** third octet of the veth subnet 10.213.<n>.0/30 (default: derived from name, 1..250) */
  subnetIndex?: number;
  /** progress lines (default: console.log with a prefix) */
  log?: (msg: string) => void;
  /** stop the cluster on SIGINT/SIGTERM/SIGHUP, then exit (default true) */
  handleSignals?: boolean;
  /** how long to wait for each component to become ready (default 120 s) */
  timeoutMs?: number;
}

export interface KubectlOptions {
  /** fed to kubectl's standard input (for `apply -f -`) */
  input?: string;
  timeoutMs?: number;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  name: string;
  /** admin kubeconfig (system:masters) */
  kubeconfig: string;
  /** https://10.213.<n>.2:6443 */
  server: string;
  nodeName: string;
  /** the node's IP, the API server's advertised address, inside the cluster's network namespace */
  nodeIP: string;
  /** the API server as pods see it: the `kubernetes` Service */
  serviceIP: string;
  podCIDR: string;
  serviceCIDR: string;
  /** the network namespace every component runs in (`ip netns exec <netns> ...` reaches pods) */
  netns: string;
  stateDir: string;
  /** logs of each component: <logDir>/<component>.log */
  logDir: string;
  /** the project's images, imported into containerd */
  images: ImageSet;
  binaries: Binaries;
  /** seconds each start phase took */
  timings: Record<string, number>;
  /** runs kubectl against the cluster; resolves to stdout, rejects (with stderr) on a non-zero exit */
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  /** the same, resolving to the exit code and both outputs whatever the exit code */
  kubectlResult(args: string[], opts?: KubectlOptions): Promise<CommandResult>;
  /** runs helm against the cluster (KUBECONFIG set) */
  helm(args: string[], opts?: KubectlOptions): Promise<string>;
  /** runs `ctr` against the cluster's containerd in the k8s.io namespace */
  ctr(args: string[]): Promise<string>;
  /** GET on the API server as admin; resolves to the parsed JSON (rejects on a status >= 400) */
  apiGet(path: string): Promise<unknown>;
  /** (re)builds the images and imports them (for code that changed dist/ after start) */
  reloadImages(): Promise<ImageSet>;
  /**
   * Restarts kube-apiserver alone (etcd and every other component keep running): SIGTERM, waits for it
   * to exit (SIGKILL after `graceMs`, default 30 s), optionally stays down `downMs`, starts it again with
   * the same flags and waits for /readyz. Resolves to the milliseconds it took to stop, the time without
   * an API server (from SIGTERM to ready again) and the time from its start to ready.
   * (Here, 1.34 drains its requests within ~0.1 s of SIGTERM but its process then lingers for 30 s or
   * more: callers that care about time pass a short graceMs.)
   */
  restartApiserver(opts?: { downMs?: number; graceMs?: number }): Promise<{ stopMs: number; downMs: number; readyMs: number }>;
  /** stops everything started, by PID, and unmounts what was mounted; safe to call twice */
  stop(): Promise<void>;
}

const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy'] as const;
type Component = (typeof COMPONENTS)[number];

const POD_CIDR = '10.244.0.0/24';
const SERVICE_CIDR = '10.96.0.0/24';
const SERVICE_IP = '10.96.0.1';
const CGROUP_ROOT = '/sys/fs/cgroup';
/**
 * The signals that stop the cluster: Ctrl-C (SIGINT, to the terminal's process group), SIGTERM (to npm,
 * which forwards it to this process: `npm start` execs its way to node), and SIGHUP (its terminal closed).
 */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function defaultSubnetIndex(name: string): number {
  if (name === 'test') return 1;
  if (name === 'start') return 2;
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 247;
  return h + 3;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat); // a zombie has ended
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Paths the cluster uses, derived from its name alone: enough to clean up after a crash. */
class Layout {
  readonly netns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostIP: string;
  readonly nodeIP: string;
  readonly cgroupName: string;
  readonly cniNetwork: string;
  constructor(
    readonly name: string,
    readonly stateDir: string,
    readonly subnetIndex: number,
  ) {
    this.netns = `nvmeof-${name}`;
    this.hostIf = `nvk${subnetIndex}h`;
    this.nsIf = `nvk${subnetIndex}n`;
    this.hostIP = `10.213.${subnetIndex}.1`;
    this.nodeIP = `10.213.${subnetIndex}.2`;
    this.cgroupName = `nvmeof-${name}`;
    this.cniNetwork = `nvmeof-${name}`;
  }
  get pidDir() {
    return join(this.stateDir, 'pids');
  }
  get logDir() {
    return join(this.stateDir, 'logs');
  }
  get containerdSock() {
    return join(this.stateDir, 'containerd', 'containerd.sock');
  }
}

/** Runs a command to completion; throws with its stderr on failure. */
function run(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): CommandResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
  const res = { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  if (res.code !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${res.code}): ${res.stderr.trim()}`);
  return res;
}

function runAsync(cmd: string, args: string[], opts: KubectlOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr: stderr + (err && code === 1 && !stderr ? String(err) : '') });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

// ---------------------------------------------------------------------------------
// Stopping: by PID, from the pid files, so that it also cleans up after a crash.

function killPid(pid: number, what: string, graceMs: number, log: (m: string) => void): void {
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

function readPid(l: Layout, c: string): number | undefined {
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

function cgroupHierarchies(): string[] {
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

function mountsUnder(dir: string): string[] {
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
function stopLayout(l: Layout, bins: { ctr?: string; ip?: string }, log: (m: string) => void): void {
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

// ---------------------------------------------------------------------------------

function layoutFor(opts: ClusterOptions): Layout {
  const name = opts.name ?? 'test';
  if (!/^[a-z0-9]{1,12}$/.test(name)) throw new Error(`cluster name ${JSON.stringify(name)}: 1-12 lowercase letters or digits`);
  return new Layout(name, opts.stateDir ?? join(cacheDir(), 'run', name), opts.subnetIndex ?? defaultSubnetIndex(name));
}

/** The state directory a cluster of these options uses (wiped when it starts). */
export function clusterStateDir(opts: ClusterOptions = {}): string {
  return layoutFor(opts).stateDir;
}

/** Stops a cluster left running by a process that is gone (or by `cli up`). */
export function stopStaleCluster(opts: ClusterOptions = {}): void {
  const l = layoutFor(opts);
  const log = opts.log ?? ((m: string) => console.log(`cluster(${l.name}): ${m}`));
  stopLayout(l, { ctr: 'ctr', ip: 'ip' }, log);
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const l = layoutFor(opts);
  const log = opts.log ?? ((m: string) => console.log(`cluster(${l.name}): ${m}`));
  const timeoutMs = opts.timeoutMs ?? 120_000;
  if (process.getuid?.() !== 0) throw new Error('the cluster needs root (network namespaces, mounts, cgroups)');
  const bins = findBinaries();
  const timings: Record<string, number> = {};
  let phaseT = Date.now();
  const phase = (name: string) => {
    const s = (Date.now() - phaseT) / 1000;
    timings[name] = s;
    log(`${name}: ${s.toFixed(1)} s`);
    phaseT = Date.now();
  };
  const t0 = Date.now();

  // Leftovers of an earlier run with this name (a crash, a SIGKILL) go first.
  stopLayout(l, bins, log);
  const stuck = mountsUnder(l.stateDir);
  if (stuck.length) throw new Error(`cannot reuse ${l.stateDir}: still mounted there (umount them first): ${stuck.join(' ')}`);
  rmSync(l.stateDir, { recursive: true, force: true });
  for (const d of ['pids', 'logs', 'pki', 'etcd', 'containerd', 'kubelet', 'cni/net.d', 'cni/ipam', 'pod-logs', 'config']) {
    mkdirSync(join(l.stateDir, d), { recursive: true });
  }
  const cfg = (n: string) => join(l.stateDir, 'config', n);
  const pki = new Pki(join(l.stateDir, 'pki'), bins.openssl);
  const nodeName = `nvmeof-${l.name}`;
  const server = `https://${l.nodeIP}:6443`;
  // Each component joins the cluster's network namespace (nsenter: only that namespace; `ip netns exec`
  // would also remount /sys and hide the cgroup mounts), and is killed if this process dies (setpriv
  // --pdeathsig), so that a SIGKILLed test leaves no busy control plane; the next start cleans up the rest.
  const nsenter = (bin: string, args: string[]) => ({
    cmd: bins.setpriv,
    args: ['--pdeathsig', 'KILL', '--', bins.nsenter, `--net=/run/netns/${l.netns}`, '--', bin, ...args],
  });

  const procs = new Map<Component, ChildProcess>();
  // Components stopped on purpose while the cluster runs (restartApiserver): their exit is no failure.
  const expectedExits = new Set<ChildProcess>();
  let stopped = false;
  let stopping: Promise<void> | undefined;
  const exits: string[] = [];
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    const t = Date.now();
    stopLayout(l, bins, log);
    log(`stopped in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    process.removeListener('exit', onExit);
    if (opts.handleSignals !== false) for (const sig of STOP_SIGNALS) process.removeListener(sig, onSignal);
  };
  const onExit = () => stopSync();
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping the cluster`);
    stopSync();
    process.exit(128 + osConstants.signals[sig]);
  };
  process.on('exit', onExit);
  if (opts.handleSignals !== false) for (const sig of STOP_SIGNALS) process.on(sig, onSignal);

  const startProc = (c: Component, bin: string, args: string[]) => {
    const { cmd, args: full } = nsenter(bin, args);
    const logFile = join(l.logDir, `${c}.log`);
    appendFileSync(logFile, `# ${bin} ${args.join(' ')}\n`);
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, full, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    if (!child.pid) throw new Error(`${c}: could not start ${bin}`);
    writeFileSync(join(l.pidDir, `${c}.pid`), String(child.pid));
    child.unref();
    child.on('exit', (code, sig) => {
      if (!stopped && !expectedExits.delete(child)) {
        const msg = `${c} exited (${sig ?? code}); last lines of ${logFile}:\n${tail(logFile, 20)}`;
        exits.push(msg);
        log(msg);
      }
    });
    procs.set(c, child);
  };
  const checkAlive = () => {
    if (exits.length) throw new Error(exits.join('\n'));
  };
  const waitFor = async (what: string, fn: () => Promise<boolean> | boolean, ms = timeoutMs) => {
    const until = Date.now() + ms;
    for (;;) {
      checkAlive();
      try {
        if (await fn()) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > until) throw new Error(`timed out after ${ms / 1000} s waiting for ${what} (logs in ${l.logDir})`);
      await sleep(250);
    }
  };

  try {
    // --- network namespace ----------------------------------------------------------
    const ip = (...a: string[]) => run(bins.ip, a);
    const inNs = (cmd: string, ...a: string[]) => run(bins.nsenter, [`--net=/run/netns/${l.netns}`, '--', cmd, ...a]);
    ip('netns', 'add', l.netns);
    inNs(bins.ip, 'link', 'set', 'lo', 'up');
    ip('link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', l.nsIf, 'netns', l.netns);
    ip('addr', 'add', `${l.hostIP}/30`, 'dev', l.hostIf);
    ip('link', 'set', l.hostIf, 'up');
    inNs(bins.ip, 'addr', 'add', `${l.nodeIP}/30`, 'dev', l.nsIf);
    inNs(bins.ip, 'link', 'set', l.nsIf, 'up');
    run('modprobe', ['br_netfilter'], { allowFail: true });
    for (const s of ['net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1', 'net.ipv4.conf.all.route_localnet=1']) {
      const r = run(bins.nsenter, [`--net=/run/netns/${l.netns}`, '--', 'sysctl', '-qw', s], { allowFail: true });
      if (r.code !== 0) log(`WARNING: sysctl ${s} in ${l.netns}: ${r.stderr.trim()}`);
    }
    phase('network namespace');

    // --- certificates and kubeconfigs ----------------------------------------------
    pki.init();
    pki.issue({
      name: 'kube-apiserver', cn: 'kube-apiserver', server: true,
      dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost', nodeName],
      ips: [l.nodeIP, SERVICE_IP, '127.0.0.1'],
    });
    pki.issue({ name: 'apiserver-kubelet-client', cn: 'kube-apiserver-kubelet-client', org: 'system:masters', client: true });
    pki.issue({ name: 'front-proxy-client', cn: 'front-proxy-client', client: true, ca: 'front-proxy-ca' });
    pki.issue({ name: 'admin', cn: 'nvmeof-admin', org: 'system:masters', client: true });
    pki.issue({ name: 'kube-controller-manager', cn: 'system:kube-controller-manager', client: true });
    pki.issue({ name: 'kube-scheduler', cn: 'system:kube-scheduler', client: true });
    pki.issue({ name: 'kube-proxy', cn: 'system:kube-proxy', client: true });
    pki.issue({ name: 'kubelet-client', cn: `system:node:${nodeName}`, org: 'system:nodes', client: true });
    pki.issue({ name: 'kubelet', cn: nodeName, server: true, dns: [nodeName, 'localhost'], ips: [l.nodeIP, '127.0.0.1'] });
    const kubeconfig = join(l.stateDir, 'admin.kubeconfig');
    pki.kubeconfig(kubeconfig, server, 'admin', 'admin');
    // The components talk to the API server on the namespace's loopback.
    const local = 'https://127.0.0.1:6443';
    pki.kubeconfig(cfg('kube-controller-manager.kubeconfig'), local, 'kube-controller-manager', 'system:kube-controller-manager');
    pki.kubeconfig(cfg('kube-scheduler.kubeconfig'), local, 'kube-scheduler', 'system:kube-scheduler');
    pki.kubeconfig(cfg('kube-proxy.kubeconfig'), local, 'kube-proxy', 'system:kube-proxy');
    pki.kubeconfig(cfg('kubelet.kubeconfig'), local, 'kubelet-client', `system:node:${nodeName}`);
    phase('certificates');

    // --- images ---------------------------------------------------------------------
    const images = buildImages({ log });
    phase('images');

    // --- etcd, kube-apiserver --------------------------------------------------------
    startProc('etcd', bins.etcd, [
      '--name=nvmeof', `--data-dir=${join(l.stateDir, 'etcd')}`,
      '--listen-client-urls=http://127.0.0.1:2379', '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380', '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=nvmeof=http://127.0.0.1:2380', '--listen-metrics-urls=http://127.0.0.1:2381',
      '--unsafe-no-fsync=true', '--log-level=warn',
    ]);
    const p = (n: string, e: 'crt' | 'key' | 'pub') => pki.path(n, e);
    const apiserverArgs = [
      `--advertise-address=${l.nodeIP}`, '--bind-address=0.0.0.0', '--secure-port=6443',
      '--etcd-servers=http://127.0.0.1:2379',
      '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      `--client-ca-file=${p('ca', 'crt')}`,
      `--tls-cert-file=${p('kube-apiserver', 'crt')}`, `--tls-private-key-file=${p('kube-apiserver', 'key')}`,
      `--kubelet-client-certificate=${p('apiserver-kubelet-client', 'crt')}`,
      `--kubelet-client-key=${p('apiserver-kubelet-client', 'key')}`,
      '--kubelet-preferred-address-types=InternalIP',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${p('sa', 'pub')}`, `--service-account-signing-key-file=${p('sa', 'key')}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // The aggregation layer's front proxy, as kubeadm sets it up (the controllers read its CA).
      `--requestheader-client-ca-file=${p('front-proxy-ca', 'crt')}`, '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${p('front-proxy-client', 'crt')}`, `--proxy-client-key-file=${p('front-proxy-client', 'key')}`,
      '--profiling=false', '--v=1',
    ];
    startProc('kube-apiserver', bins.kubeApiserver, apiserverArgs);
    const ca = readFileSync(p('ca', 'crt'));
    const cert = readFileSync(p('admin', 'crt'));
    const key = readFileSync(p('admin', 'key'));
    const apiRequest = (path: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request(`${server}${path}`, { ca, cert, key, timeout: 10_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
    const apiGet = async (path: string): Promise<unknown> => {
      const r = await apiRequest(path);
      if (r.status >= 400) throw new Error(`GET ${path}: ${r.status} ${r.body.slice(0, 500)}`);
      return JSON.parse(r.body);
    };
    await waitFor('kube-apiserver /readyz', async () => (await apiRequest('/readyz')).status === 200);
    phase('etcd + kube-apiserver');

    // --- controller-manager, scheduler ----------------------------------------------
    const cmKubeconfig = cfg('kube-controller-manager.kubeconfig');
    startProc('kube-controller-manager', bins.kubeControllerManager, [
      `--kubeconfig=${cmKubeconfig}`, `--authentication-kubeconfig=${cmKubeconfig}`, `--authorization-kubeconfig=${cmKubeconfig}`,
      '--bind-address=127.0.0.1', '--leader-elect=false', '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${p('ca', 'crt')}`, `--cluster-signing-key-file=${p('ca', 'key')}`,
      `--root-ca-file=${p('ca', 'crt')}`, `--service-account-private-key-file=${p('sa', 'key')}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`, '--allocate-node-cidrs=false', '--v=1',
    ]);
    const schedKubeconfig = cfg('kube-scheduler.kubeconfig');
    startProc('kube-scheduler', bins.kubeScheduler, [
      `--kubeconfig=${schedKubeconfig}`, `--authentication-kubeconfig=${schedKubeconfig}`, `--authorization-kubeconfig=${schedKubeconfig}`,
      '--bind-address=127.0.0.1', '--leader-elect=false', '--v=1',
    ]);

    // --- containerd -----------------------------------------------------------------
    const cd = join(l.stateDir, 'containerd');
    writeFileSync(
      cfg('containerd.toml'),
      `version = 2
root = "${cd}/root"
state = "${cd}/state"
plugin_dir = ""
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${l.containerdSock}"
[ttrpc]
  address = "${cd}/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${cd}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${images.pause}"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  # This machine withholds CAP_SYS_RESOURCE: a negative oom_score_adj is refused, so cap it at containerd's own.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${bins.runc}"
        Root = "${cd}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${bins.cniBinDir}"
    conf_dir = "${join(l.stateDir, 'cni/net.d')}"
    max_conf_num = 1
`,
    );
    writeFileSync(
      join(l.stateDir, 'cni/net.d/10-nvmeof.conflist'),
      JSON.stringify(
        {
          cniVersion: '0.4.0',
          name: l.cniNetwork,
          plugins: [
            {
              type: 'bridge', bridge: 'cni-nvmeof', isGateway: true, ipMasq: false, hairpinMode: true,
              ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(l.stateDir, 'cni/ipam') },
            },
            { type: 'portmap', capabilities: { portMappings: true } },
          ],
        },
        null,
        2,
      ),
    );
    startProc('containerd', bins.containerd, ['--config', cfg('containerd.toml')]);
    await waitFor('containerd', () => existsSync(l.containerdSock) && run(bins.ctr, ['--address', l.containerdSock, 'version'], { allowFail: true }).code === 0, 60_000);
    const ctr = async (args: string[]) => {
      const r = await runAsync(bins.ctr, ['--address', l.containerdSock, '--namespace', 'k8s.io', ...args], { timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`ctr ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    };
    const importImages = async (set: ImageSet) => {
      await ctr(['images', 'import', set.archive]);
    };
    await importImages(images);
    phase('controllers + containerd + image import');

    // --- kubelet, kube-proxy ---------------------------------------------------------
    for (const h of cgroupHierarchies()) {
      const d = join(CGROUP_ROOT, h, l.cgroupName);
      mkdirSync(d, { recursive: true });
      if (h === 'cpuset') {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(d, f), readFileSync(join(CGROUP_ROOT, h, f)));
      }
    }
    // Pods' DNS. The cluster has no DNS server: no CoreDNS image can be had here, and CoreDNS built
    // from the module proxy does not fit in this module (1.12.1, kubeadm's pairing for 1.34, does not
    // compile against client-go 0.34; later ones raise grpc, otel, x/net and 20 more of Kubernetes'
    // own dependencies). Pods need none: they reach the API server by KUBERNETES_SERVICE_HOST, Services
    // by IP, their own name by /etc/hosts. With clusterDNS empty, the kubelet warns MissingClusterDNS,
    // on the node and on every pod that asks for cluster DNS (ClusterFirst, the default, and the target
    // pods' ClusterFirstWithHostNet), then gives it `nameserver 127.0.0.1` all the same. So clusterDNS
    // says that here, once: 127.0.0.1, the pod's own loopback (the node's, for host-network pods),
    // where nothing listens on port 53, so a lookup fails at once (connection refused), not after a
    // timeout as with an address nobody answers; pods get the cluster's search path, and no Warning.
    // resolvConf "": no host resolvers either (the namespace has no route out to them).
    writeFileSync(
      cfg('kubelet.yaml'),
      `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${l.nodeIP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "${p('ca', 'crt')}"}
authorization:
  mode: Webhook
tlsCertFile: "${p('kubelet', 'crt')}"
tlsPrivateKeyFile: "${p('kubelet', 'key')}"
containerRuntimeEndpoint: "unix://${l.containerdSock}"
cgroupDriver: cgroupfs
cgroupRoot: "/${l.cgroupName}"
failCgroupV1: false
failSwapOn: false
podCIDR: "${POD_CIDR}"
# No cluster DNS: each pod's own loopback, where nothing serves (see cluster.ts).
clusterDNS: ["127.0.0.1"]
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: "${join(l.stateDir, 'pod-logs')}"
registerNode: true
rotateCertificates: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
runtimeRequestTimeout: 10m
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
`,
    );
    startProc('kubelet', bins.kubelet, [
      `--config=${cfg('kubelet.yaml')}`, `--kubeconfig=${cfg('kubelet.kubeconfig')}`,
      `--root-dir=${join(l.stateDir, 'kubelet')}`, `--cert-dir=${join(l.stateDir, 'kubelet/pki')}`,
      `--hostname-override=${nodeName}`, `--node-ip=${l.nodeIP}`, '--v=1',
    ]);
    writeFileSync(
      cfg('kube-proxy.yaml'),
      `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: "${cfg('kube-proxy.kubeconfig')}"
mode: iptables
clusterCIDR: "${POD_CIDR}"
hostnameOverride: "${nodeName}"
bindAddress: ${l.nodeIP}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`,
    );
    startProc('kube-proxy', bins.kubeProxy, [`--config=${cfg('kube-proxy.yaml')}`, '--v=1']);
    await waitFor(`node ${nodeName} Ready`, async () => {
      const n = (await apiGet(`/api/v1/nodes/${nodeName}`)) as { status?: { conditions?: { type: string; status: string }[] } };
      return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    await waitFor('the default ServiceAccount', async () => {
      await apiGet('/api/v1/namespaces/default/serviceaccounts/default');
      return true;
    });
    phase('kubelet + kube-proxy, node Ready');
    timings.total = (Date.now() - t0) / 1000;
    log(`up in ${timings.total.toFixed(1)} s: Kubernetes ${k8sVersion()}, node ${nodeName} Ready; KUBECONFIG=${kubeconfig}`);

    const kubectlEnv = { ...process.env, KUBECONFIG: kubeconfig };
    const kubectlResult = (args: string[], o: KubectlOptions = {}) => runAsync(bins.kubectl, args, { ...o, env: kubectlEnv });
    const cluster: Cluster = {
      name: l.name,
      kubeconfig,
      server,
      nodeName,
      nodeIP: l.nodeIP,
      serviceIP: SERVICE_IP,
      podCIDR: POD_CIDR,
      serviceCIDR: SERVICE_CIDR,
      netns: l.netns,
      stateDir: l.stateDir,
      logDir: l.logDir,
      images,
      binaries: bins,
      timings,
      kubectlResult,
      async kubectl(args, o) {
        const r = await kubectlResult(args, o);
        if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
        return r.stdout;
      },
      async helm(args, o) {
        const r = await runAsync(bins.helm, args, { ...o, env: kubectlEnv });
        if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
        return r.stdout;
      },
      ctr,
      apiGet,
      async reloadImages() {
        const set = buildImages({ log });
        await importImages(set);
        cluster.images = set;
        return set;
      },
      async restartApiserver(o = {}) {
        if (stopped) throw new Error('the cluster is stopped');
        const t = Date.now();
        const child = procs.get('kube-apiserver');
        const pid = readPid(l, 'kube-apiserver');
        if (child) expectedExits.add(child);
        if (pid) {
          process.kill(pid, 'SIGTERM');
          const graceMs = o.graceMs ?? 30_000;
          const until = Date.now() + graceMs;
          while (alive(pid) && Date.now() < until) await sleep(50);
          if (alive(pid)) {
            log(`kube-apiserver (pid ${pid}) still running ${graceMs} ms after SIGTERM: SIGKILL`);
            process.kill(pid, 'SIGKILL');
            while (alive(pid)) await sleep(50);
          }
        }
        const stopMs = Date.now() - t;
        if (o.downMs) await sleep(o.downMs);
        const t2 = Date.now();
        startProc('kube-apiserver', bins.kubeApiserver, apiserverArgs);
        await waitFor('kube-apiserver /readyz after its restart', async () => (await apiRequest('/readyz')).status === 200);
        const readyMs = Date.now() - t2;
        const downMs = Date.now() - t;
        log(`kube-apiserver restarted: stopped in ${stopMs} ms, ready ${readyMs} ms after its start (${downMs} ms without it)`);
        return { stopMs, downMs, readyMs };
      },
      stop() {
        stopping ??= Promise.resolve().then(stopSync);
        return stopping;
      },
    };
    return cluster;
  } catch (err) {
    log(`start failed: ${(err as Error).message}`);
    stopSync();
    throw err;
  }
}

/**
 * Warning events that say something true of this machine, which nothing in the project can change:
 * the kubelet's CgroupV1, once at its start (the machine mounts cgroup v1 for the controllers;
 * `failCgroupV1: false` is what lets the kubelet run on it).
 */
export const MACHINE_WARNINGS: RegExp[] = [/^default Node\/\S+ CgroupV1 /];

/**
 * The Warning events in these namespaces, one line each (`namespace kind/name reason (count): message`),
 * but those matching `except` (default: the machine's own). A healthy start has none; node events are in `default`.
 */
export async function warningEvents(c: Cluster, namespaces: string[], except: RegExp[] = MACHINE_WARNINGS): Promise<string[]> {
  const out = await c.kubectl(['get', 'events', '--all-namespaces', '--field-selector', 'type=Warning', '-o', 'json']);
  const items = (JSON.parse(out) as {
    items: { metadata: { namespace: string }; involvedObject: { kind?: string; name?: string }; reason?: string; message?: string; count?: number }[];
  }).items;
  return items
    .filter((e) => namespaces.includes(e.metadata.namespace))
    .map((e) => `${e.metadata.namespace} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason} (${e.count ?? 1}): ${e.message?.trim()}`)
    .filter((w) => !except.some((r) => r.test(w)));
}

function tail(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}
