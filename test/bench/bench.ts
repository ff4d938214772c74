// `npm run bench`: the target in its own process, driven over loopback by the TypeScript host library, and
// in the same run the raw TCP floor (floor-server.ts) driven by the same library. Prints one table:
// 4K random read and write at QD 1, 32 and 128, 128K sequential read; IOPS, MiB/s, p50/p99 latency, the
// server's CPU seconds per million I/Os; memory and file backends, persistence (--state) off and on,
// digests off and on; the same workloads driven by cload, the C client (c-client.ts), against the floor and
// issue 19's configs; then the target's RSS with 64 connections at QD 128 doing 128 KiB I/O.
// Environment: BENCH_SECONDS (measured seconds per row, default 3, split into BENCH_TRIALS trials, default 5,
// each after BENCH_WARMUP seconds, default 0.2),
// BENCH_FILTER (a regular expression on "config workload", or rss, restart, stores, datapath), BENCH_SIZE (namespace size, default 1G),
// BENCH_JSON (write the results there too), BENCH_BASELINE (another build's dist/ folder: every target
// config runs twice in each round, as built here and as that build, and an A/B table ends the run),
// BENCH_CLOAD_POLL (qd1, the default: cload spins on its sockets at QD 1 instead of sleeping in epoll_wait;
// 1 at every depth; 0 never).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostController } from '../host/controller.js';
import { HostQueue } from '../host/queue.js';
import { freePort, memoryOf, startTarget, SUPERVISOR_MAIN, TARGET_MAIN, type TargetArgs } from '../host/target-process.js';
import { precondition, runWorkload, type Workload, type WorkloadResult } from './workload.js';
import { benchStateStore, type StateStoreBench } from '../../target/state/bench.js';
import { benchDataPath, type DataPathRow } from './data-path.js';
import { median, medianRow, pairedRatio, type Row } from './rows.js';
import { C_CONFIGS, C_FLOOR, C_PREFIX, CLIENT_LIMIT, cClientGoals, clientBound, cloadFill, cloadPollSaying, cloadTrial, type CServer } from './c-client.js';
import { cloadBinary } from './cload/build.js';
import { formatInterchangePsk, hostIdentities } from '../../target/tls/psk.js';
import { dhchapConnectTable } from './dhchap-connect.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.2);
const TRIALS = Math.max(1, Number(process.env.BENCH_TRIALS ?? 5));
const FILTER = process.env.BENCH_FILTER ? new RegExp(process.env.BENCH_FILTER) : undefined;
const SIZE = process.env.BENCH_SIZE ?? '1G';
/** Seconds of each RSS workload: V8's heap grows for the first several seconds of such a load, then settles. */
const RSS_SECONDS = Number(process.env.BENCH_RSS_SECONDS ?? 10);
/** Another build's dist/ folder, run beside this one (A/B). */
const BASELINE = process.env.BENCH_BASELINE;
const BASELINE_TAG = ' [baseline]';
const LBA = 512;

const WORKLOADS: Workload[] = [
  { name: '4K randread QD1', op: 'read', pattern: 'rand', bs: 4096, qd: 1 },
  { name: '4K randread QD32', op: 'read', pattern: 'rand', bs: 4096, qd: 32 },
  { name: '4K randread QD128', op: 'read', pattern: 'rand', bs: 4096, qd: 128 },
  { name: '4K randwrite QD1', op: 'write', pattern: 'rand', bs: 4096, qd: 1 },
  { name: '4K randwrite QD32', op: 'write', pattern: 'rand', bs: 4096, qd: 32 },
  { name: '4K randwrite QD128', op: 'write', pattern: 'rand', bs: 4096, qd: 128 },
  { name: '128K seqread QD32', op: 'read', pattern: 'seq', bs: 131072, qd: 32 },
];

interface Config {
  name: string;
  floor?: boolean;
  backend?: 'memory' | 'file';
  state?: boolean;
  digests?: boolean;
  /** In-pod resume: the supervisor (dist/target/supervisor.js) holds the sockets, a worker serves. */
  supervisor?: boolean;
  /** TLS 1.3 with a PSK on the listener ('required') and on the host's queues (target/tls; TypeScript host only). */
  tls?: boolean;
  /** The dist/ folder of the build to run (default: this one). */
  dist?: string;
}

const CONFIGS: Config[] = ([
  { name: 'floor (raw TCP)', floor: true },
  { name: 'memory', backend: 'memory' },
  { name: 'memory +state', backend: 'memory', state: true },
  { name: 'memory +state +digests', backend: 'memory', state: true, digests: true },
  { name: 'file', backend: 'file' },
  { name: 'file +state', backend: 'file', state: true },
  { name: 'file +state +digests', backend: 'file', state: true, digests: true },
  { name: 'memory +supervisor', backend: 'memory', supervisor: true },
  { name: 'memory +tls', backend: 'memory', tls: true },
  { name: 'memory +supervisor +tls', backend: 'memory', supervisor: true, tls: true },
  { name: 'file +state +supervisor', backend: 'file', state: true, supervisor: true },
] as Config[]).flatMap((c) => (BASELINE && !c.floor ? [c, { ...c, name: `${c.name}${BASELINE_TAG}`, dist: BASELINE }] : [c]));

/** The config's name without the A/B tag: what C_CONFIGS lists. */
function baseName(c: Config): string {
  return c.name.endsWith(BASELINE_TAG) ? c.name.slice(0, -BASELINE_TAG.length) : c.name;
}

/** The name of a config's rows driven by cload (`C: memory`, `C: memory [baseline]`), or undefined if cload does not drive it. */
function cName(c: Config): string | undefined {
  return C_CONFIGS.includes(baseName(c)) ? `${C_PREFIX}${c.name}` : undefined;
}

function selected(name: string | undefined, w: Workload): boolean {
  return name !== undefined && (!FILTER || FILTER.test(`${name} ${w.name}`));
}

interface Server {
  pid: number;
  host: string;
  port: number;
  nqn: string;
  stop(): Promise<void>;
}

async function startFloor(): Promise<Server> {
  const port = await freePort();
  const main = join(dirname(fileURLToPath(import.meta.url)), 'floor-server.js');
  const proc = spawn(process.execPath, [main, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
  return {
    pid: proc.pid!, host: '127.0.0.1', port, nqn: '',
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

function backendArgs(c: Config, dir: string, tag: string): string[] {
  const ns = c.backend === 'memory' ? ['--memory', SIZE] : ['--namespace', `${join(dir, `${tag}.img`)}:${SIZE}`];
  return [...ns, ...(c.state ? ['--state', join(dir, `${tag}.state`)] : [])];
}

const BENCH_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:5e1f0c2b-7a3d-4b9e-8c6f-2d4a1b0e9f37';

/** A TLS config's PSK: the key file and flags for the target, and the identity and TLS PSK the host offers. */
function benchTls(dir: string, tag: string): { args: string[]; host(subnqn: string): { identity: string; psk: Buffer } } {
  const key = { transform: 1 as const, key: Buffer.alloc(32, 0x6b) };
  const file = join(dir, `${tag}.psk`);
  writeFileSync(file, formatInterchangePsk(key));
  return {
    args: ['--tls', 'required', '--tls-psk', `${BENCH_HOSTNQN}=${file}`],
    host: (subnqn) => {
      const [v0] = hostIdentities('compat', key, BENCH_HOSTNQN, subnqn);
      return { identity: v0.identity, psk: v0.key };
    },
  };
}

function blocksOf(size: string): number {
  const m = /^(\d+)([KMGT]?)/i.exec(size)!;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return (Number(m[1]) * mult) / LBA;
}

interface Running {
  config: Config;
  server: Server;
  queues: HostQueue[];
  close(): Promise<void>;
}

/** Starts a config's server and connects one I/O queue of depth 128 to it. */
async function start(c: Config, dir: string): Promise<Running> {
  if (c.floor) {
    const server = await startFloor();
    const q = await HostQueue.open({ host: server.host, port: server.port, depth: 128 });
    q.inCapsuleMax = 8192;
    return { config: c, server, queues: [q], close: async () => { q.close(); await q.closed; } };
  }
  const tag = c.name.replace(/\W+/g, '-');
  const entry = c.supervisor ? SUPERVISOR_MAIN : TARGET_MAIN;
  const main = c.dist ? join(c.dist, 'target', basename(entry)) : entry;
  // Connection slots: the TypeScript host's two connections and a cload trial's two, with room for the
  // previous trial's while the supervisor notices they closed.
  const tls = c.tls ? benchTls(dir, tag) : undefined;
  const extra = [...(c.supervisor ? ['--connection-slots', '8'] : []), ...(tls?.args ?? [])];
  const server = await startTarget({ namespaces: backendArgs(c, dir, tag), logLevel: 'warn', main, extra });
  const ctrl = await HostController.connect({
    host: server.host, port: server.port, subnqn: server.nqn, hdgst: c.digests, ddgst: c.digests, queueDepth: 128,
    ...(tls ? { hostnqn: BENCH_HOSTNQN, tls: tls.host(server.nqn) } : {}),
  });
  return { config: c, server, queues: ctrl.io, close: () => ctrl.disconnect() };
}

/**
 * Every config runs at once (idle ones cost nothing), and each workload runs in TRIALS rounds that visit
 * every config in turn: whatever else loads the machine loads all configs alike, and the median trial of
 * each config is reported.
 */
async function runAll(dir: string, rows: Row[]): Promise<void> {
  const configs = CONFIGS.filter((c) => WORKLOADS.some((w) => selected(c.name, w) || selected(cName(c), w)));
  const running: Running[] = [];
  try {
    // Built before any server starts: a machine without cc fails here, saying what to install.
    const cload = configs.some((c) => WORKLOADS.some((w) => selected(cName(c), w))) ? cloadBinary() : undefined;
    for (const c of configs) running.push(await start(c, dir));
    let preconditioned = false;
    for (const w of WORKLOADS) {
      const todo = running.filter((r) => selected(r.config.name, w));
      if (!todo.length) continue;
      if (w.op === 'write' && !preconditioned) {
        preconditioned = true;
        for (const r of running.filter((x) => x.config.backend === 'memory')) {
          const errors = await precondition(r.queues, 1, blocksOf(SIZE), LBA);
          if (errors) throw new Error(`${r.config.name}: ${errors} writes failed while preconditioning`);
        }
      }
      const trials = new Map<Running, WorkloadResult[]>(todo.map((r) => [r, []]));
      for (let t = 0; t < TRIALS; t++) {
        // Odd rounds visit the configs in reverse, so no config always runs right after another.
        for (const r of t % 2 ? [...todo].reverse() : todo) {
          const res = await runWorkload(w, { queues: r.queues, nsid: 1, blocks: blocksOf(SIZE), lbaSize: LBA, seconds: SECONDS / TRIALS, warmupSeconds: WARMUP, serverPid: r.server.pid });
          trials.get(r)!.push(res);
        }
      }
      for (const r of todo) {
        rows.push(medianRow(r.config.name, w.name, trials.get(r)!));
        printRow(rows[rows.length - 1], rows);
      }
    }
    if (cload) await runC(cload, running, rows);
    for (const r of running) await r.close();
  } finally {
    for (const r of running) await r.server.stop();
  }
}

/**
 * The same workloads driven by cload, after the TypeScript host's rows: every namespace is first written
 * whole (so, unlike the rows above, reads read written blocks, as in issue 19's measurements), then each
 * workload runs TRIALS rounds visiting every C config in turn (odd rounds in reverse), one cload process
 * (its own controller, one I/O queue) per trial.
 */
async function runC(cload: string, running: Running[], rows: Row[]): Promise<void> {
  const server = (r: Running): CServer => ({ host: r.server.host, port: r.server.port, nqn: r.server.nqn, pid: r.server.pid, floor: !!r.config.floor });
  const all = running.filter((r) => WORKLOADS.some((w) => selected(cName(r.config), w)));
  for (const r of all) if (!r.config.floor) await cloadFill(cload, server(r), blocksOf(SIZE), LBA);
  for (const w of WORKLOADS) {
    const todo = all.filter((r) => selected(cName(r.config), w));
    const trials = new Map<Running, WorkloadResult[]>(todo.map((r) => [r, []]));
    for (let t = 0; t < TRIALS; t++) {
      for (const r of t % 2 ? [...todo].reverse() : todo) {
        trials.get(r)!.push(await cloadTrial(cload, server(r), w, { seconds: SECONDS / TRIALS, warmupSeconds: WARMUP, blocks: blocksOf(SIZE), lbaSize: LBA }));
      }
    }
    for (const r of todo) {
      rows.push(medianRow(cName(r.config)!, w.name, trials.get(r)!));
      printRow(rows[rows.length - 1], rows);
    }
  }
}

interface RssResult {
  config: string;
  idleMiB: number;
  readPeakMiB: number;
  writePeakMiB: number;
  readIops: number;
  writeIops: number;
  anonPeakMiB: number;
  /** The peak of RSS less the memory namespace's own resident pages (the data written to it): the target's memory. */
  ownPeakMiB: number;
  /** The same, settled: the median over the second half of the write workload. */
  ownSettledMiB: number;
}

/**
 * Resident bytes of the memory namespace: the one anonymous mapping at least as large as the namespace
 * (MemoryBackend's calloc'd Buffer; nothing else in the process comes near 1 GiB).
 */
function namespaceResident(pid: number, nsBytes: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return 0;
  }
  let big = false;
  let total = 0;
  for (const line of text.split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) big = parseInt(range[2], 16) - parseInt(range[1], 16) >= nsBytes;
    else if (big && line.startsWith('Rss:')) total += Number(/(\d+) kB/.exec(line)?.[1] ?? 0) * 1024;
  }
  return total;
}

/** 64 I/O queues (connections) at QD 128 each, 128 KiB random reads then writes; the target's peak RSS. */
async function runRss(c: Config, dir: string): Promise<RssResult> {
  const tag = `rss-${c.name.replace(/\W+/g, '-')}`;
  const t = await startTarget({ namespaces: backendArgs(c, dir, tag), logLevel: 'warn' });
  try {
    const ctrl = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues: 64, queueDepth: 128 });
    const idle = memoryOf(t.pid);
    let peak = 0;
    let anonPeak = 0;
    let ownPeak = 0;
    const owns: number[] = [];
    const blocks = blocksOf(SIZE);
    const nsBytes = blocks * LBA;
    const sample = () => {
      const m = memoryOf(t.pid);
      peak = Math.max(peak, m.rss);
      anonPeak = Math.max(anonPeak, m.anon);
      const own = m.rss - (c.backend === 'memory' ? namespaceResident(t.pid, nsBytes) : 0);
      ownPeak = Math.max(ownPeak, own);
      owns.push(own);
    };
    const common = { queues: ctrl.io, nsid: 1, blocks, lbaSize: LBA, seconds: RSS_SECONDS, warmupSeconds: WARMUP, serverPid: t.pid, sharedBuffer: true, sample };
    const read = await runWorkload({ name: '128K randread', op: 'read', pattern: 'rand', bs: 131072, qd: 64 * 128 }, common);
    const readPeak = peak;
    peak = 0;
    owns.length = 0;
    const write = await runWorkload({ name: '128K randwrite', op: 'write', pattern: 'rand', bs: 131072, qd: 64 * 128 }, common);
    await ctrl.disconnect();
    const mib = (b: number) => b / 1048576;
    return { config: c.name, idleMiB: mib(idle.rss), readPeakMiB: mib(readPeak), writePeakMiB: mib(peak), readIops: read.iops, writeIops: write.iops, anonPeakMiB: mib(anonPeak), ownPeakMiB: mib(ownPeak), ownSettledMiB: mib(median(owns.slice(Math.floor(owns.length / 2)))) };
  } finally {
    await t.stop();
  }
}

interface RestartResult {
  /** Spawn of the new process to /readyz 200, per kill. */
  toServingMs: number[];
  /** The target's own recovery duration (process start to serving), from /recovery. */
  recoveryMs: number[];
}

/** SIGKILL of a target with a state file and a file namespace, then the time until the new process serves. */
async function runRestart(dir: string, kills = 5): Promise<RestartResult> {
  const args: TargetArgs = { namespaces: ['--namespace', join(dir, 'restart.img:256M')], extra: ['--state', join(dir, 'restart-state.bin')], logLevel: 'warn' };
  const out: RestartResult = { toServingMs: [], recoveryMs: [] };
  let t = await startTarget(args);
  for (let i = 0; i < kills; i++) {
    t.proc.kill('SIGKILL');
    await t.exited;
    const t0 = Date.now();
    t = await startTarget(args);
    out.toServingMs.push(Date.now() - t0);
    const rec = await (await fetch(`http://${t.host}:${t.metricsPort}/recovery`)).json() as { last?: { outcome: string; durationSeconds: number } };
    if (rec.last?.outcome !== 'restored') throw new Error(`restart ${i + 1}: outcome ${rec.last?.outcome}, expected restored`);
    out.recoveryMs.push(rec.last.durationSeconds * 1000);
  }
  await t.stop();
  return out;
}

const HEAD = ['config', 'workload', 'IOPS', 'MiB/s', 'p50 us', 'p99 us', 'CPU s/MIO', 'vs floor'];
const WIDTH = [26, 20, 9, 8, 8, 8, 9, 8];

function cell(s: string, i: number): string {
  return i < 2 ? s.padEnd(WIDTH[i]) : s.padStart(WIDTH[i]);
}

/** A row, its IOPS as a share of the floor's driven by the same client, and a mark where that client is the limit. */
function printRow(r: Row, rows: Row[]): void {
  const c = r.config.startsWith(C_PREFIX);
  const floor = rows.find((x) => x.config === (c ? C_FLOOR : CONFIGS[0].name) && x.workload === r.workload);
  const vs = floor && r.config !== floor.config ? `${(pairedRatio(r, floor) * 100).toFixed(0)}%` : '';
  const cells = [r.config, r.workload, r.iops.toFixed(0), r.mibps.toFixed(1), r.p50us.toFixed(1), r.p99us.toFixed(1), r.cpuPerMio.toFixed(1), vs];
  const why = c ? clientBound(r, floor) : '';
  const client = c ? ` client CPU ${((r.clientCpuShare ?? 0) * 100).toFixed(0)}%${why ? `, client-bound (${why})` : ''}` : '';
  process.stdout.write(`| ${cells.map(cell).join(' | ')} |${client}${r.errors ? ` ${r.errors} ERRORS` : ''}\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-bench-'));
  const rows: Row[] = [];
  const rss: RssResult[] = [];
  process.stdout.write(`nvmeof-operator bench: ${SECONDS} s per row (median of ${TRIALS} trials, each after ${WARMUP} s warm-up), namespace ${SIZE} of ${LBA}-byte blocks, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}\n`);
  process.stdout.write('Server and host library on one machine over loopback; one I/O queue (connection) per row; CPU is the server process\'s.\n');
  process.stdout.write(`Rows "${C_PREFIX}..." are driven by cload, the C client (one thread, ${cloadPollSaying}), on namespaces written whole first; "vs floor" is against its own floor row; ` +
    `after each, the share of a CPU cload used, and "client-bound" where the row is at ${(CLIENT_LIMIT * 100).toFixed(0)}% or more of the floor's (a Node server) or cload's CPU is (the client side, not the target, is the limit there).\n\n`);
  process.stdout.write(`| ${HEAD.map(cell).join(' | ')} |\n|${WIDTH.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|\n`);
  try {
    await runAll(dir, rows);
    if (!FILTER || FILTER.test('rss')) {
      for (const c of CONFIGS.filter((x) => x.name === 'memory +state' || x.name === 'file +state')) rss.push(await runRss(c, dir));
      process.stdout.write(`\nRSS of the target, 64 connections (I/O queues) x QD 128, 128 KiB random I/O, ${RSS_SECONDS} s of reads then of writes:\n\n`);
      process.stdout.write('| config | idle MiB | peak MiB, reads | peak MiB, writes | peak anon MiB | peak MiB less the memory namespace\'s data | the same, settled (second half of the writes) | read IOPS | write IOPS |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n');
      for (const r of rss) {
        process.stdout.write(`| ${r.config} | ${r.idleMiB.toFixed(0)} | ${r.readPeakMiB.toFixed(0)} | ${r.writePeakMiB.toFixed(0)} | ${r.anonPeakMiB.toFixed(0)} | ${r.ownPeakMiB.toFixed(0)} | ${r.ownSettledMiB.toFixed(0)} | ${r.readIops.toFixed(0)} | ${r.writeIops.toFixed(0)} |\n`);
      }
    }
    if (!FILTER || FILTER.test('restart')) {
      const r = await runRestart(dir);
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      process.stdout.write(`\nRestart after SIGKILL (state file, file namespace), ${r.toServingMs.length} kills: ` +
        `spawn to serving median ${med(r.toServingMs).toFixed(0)} ms (all: ${r.toServingMs.join(', ')}); ` +
        `recovery (process start to serving, from /recovery) median ${med(r.recoveryMs).toFixed(0)} ms\n`);
    }
    // The stores persistence adds to each I/O, timed alone: the IOPS of two configurations differ by
    // more than these few hundred nanoseconds from trial to trial on a machine the client shares.
    let store: StateStoreBench | undefined;
    if (!FILTER || FILTER.test('stores')) {
      store = await benchStateStore({ dir, iterations: 1_000_000, syncIterations: 20 });
      process.stdout.write(`\nState-file stores per read or in-capsule write (the SQ head; the in-flight record begun at executing, ended): ` +
        `${storesPerIoNs(store).toFixed(0)} ns (${store.sqhdStoreNs.toFixed(0)} + ${store.inflightPerIoNs.toFixed(0)}); ` +
        `per R2T write ${(store.sqhdStoreNs + store.inflightPerR2tIoNs).toFixed(0)} ns; ` +
        `a controller record ${(store.controllerWriteNs / 1000).toFixed(1)} us, with durability node (msync) ${(store.controllerWriteSyncNs / 1000).toFixed(0)} us\n`);
    }
    // The same question without the loopback's noise: the target's own work per I/O, in this process.
    let dataPath: DataPathRow[] | undefined;
    if (!FILTER || FILTER.test('datapath')) {
      dataPath = await benchDataPath({ rounds: 31, ios: 100_000 });
      process.stdout.write(`\nData path in one process (a Connection fed chunks of 32 capsules, memory namespace, no socket; median of 31 alternating rounds), ns per I/O:\n\n| workload | without state file | with state file | added | added, median of per-round ratios |\n|---|--:|--:|--:|--:|\n`);
      for (const d of dataPath) {
        process.stdout.write(`| ${d.workload} | ${d.plainNs.toFixed(0)} | ${d.stateNs.toFixed(0)} | ${(d.stateNs - d.plainNs).toFixed(0)} | ${(d.costRatio * 100).toFixed(1)}% |\n`);
      }
    }
    // What DH-HMAC-CHAP adds to a connect, per DH group (issue 21, 5; TLS's cost is in the rows above).
    if (!FILTER || FILTER.test('dhchap')) {
      process.stdout.write('\n');
      await dhchapConnectTable(Number(process.env.BENCH_DHCHAP_ROUNDS ?? 15), (s) => process.stdout.write(s));
    }
    summary(rows, rss, store, dataPath);
    if (BASELINE) abTable(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ seconds: SECONDS, rows, rss }, null, 2));
}

/** This build against the baseline's, per config and workload: paired (per-round) medians, as "vs floor". */
function abTable(rows: Row[]): void {
  const lines: string[] = [];
  for (const b of rows.filter((r) => r.config.endsWith(BASELINE_TAG))) {
    const a = rows.find((r) => r.config === b.config.slice(0, -BASELINE_TAG.length) && r.workload === b.workload);
    if (!a) continue;
    const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
    lines.push(`| ${a.config} | ${a.workload} | ${b.iops.toFixed(0)} | ${a.iops.toFixed(0)} | ${pct(pairedRatio(a, b))} | ${b.cpuPerMio.toFixed(2)} | ${a.cpuPerMio.toFixed(2)} | ${pct(pairedRatio(a, b, 'trialCpu'))} |`);
  }
  if (!lines.length) return;
  process.stdout.write(`\nA/B: this build (new) against ${BASELINE} (old), ${TRIALS} rounds each visiting both; change = median of the per-round ratios new/old:\n\n`);
  process.stdout.write('| config | workload | IOPS old | IOPS new | IOPS change | CPU us/IO old | CPU us/IO new | CPU change |\n|---|---|--:|--:|--:|--:|--:|--:|\n');
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** What persistence adds to a read or an in-capsule write (every I/O of the QD32 rows): the SQ head's and the in-flight record's stores. */
function storesPerIoNs(store: StateStoreBench): number {
  return store.inflightPerIoNs + store.sqhdStoreNs;
}

/** The goals of issue 8, as ratios measured in this run. */
function summary(rows: Row[], rss: RssResult[], store?: StateStoreBench, dataPath?: DataPathRow[]): void {
  const get = (config: string, workload: string) => rows.find((r) => r.config === config && r.workload === workload);
  const lines: string[] = [];
  const ratio = (what: string, a: Row | undefined, b: Row | undefined, goal: string) => {
    if (a && b) lines.push(`- ${what}: ${(pairedRatio(a, b) * 100).toFixed(0)}% (median of ${a.trialIops.length} per-round ratios; medians ${a.iops.toFixed(0)} / ${b.iops.toFixed(0)} IOPS; goal ${goal})`);
  };
  ratio('memory +state, 4K randread QD32 vs floor', get('memory +state', '4K randread QD32'), get('floor (raw TCP)', '4K randread QD32'), '>= 60%');
  ratio('memory +state, 4K randread QD1 vs floor', get('memory +state', '4K randread QD1'), get('floor (raw TCP)', '4K randread QD1'), '>= 90%');
  for (const w of ['4K randread QD32', '4K randwrite QD32']) {
    const on = get('memory +state', w);
    const off = get('memory', w);
    if (on && off) {
      lines.push(`- persistence cost, memory, ${w}: ${((1 - pairedRatio(on, off)) * 100).toFixed(1)}% (median of per-round IOPS ratios; goal <= 3%; negative means noise)`);
      const cpu = (pairedRatio(on, off, 'trialCpu') - 1) * 100;
      lines.push(`- persistence cost, memory, ${w}, as measured CPU: ${cpu >= 0 ? '+' : ''}${cpu.toFixed(1)}% target CPU per I/O (median of per-round ratios, ${off.cpuPerMio.toFixed(2)} -> ${on.cpuPerMio.toFixed(2)} us)`);
    }
    // cpuPerMio is CPU seconds per million I/Os, i.e. microseconds per I/O.
    if (on && store) {
      const perIo = storesPerIoNs(store);
      lines.push(`- persistence cost, memory, ${w}, as the stores timed alone: ${perIo.toFixed(0)} ns of the ${(on.cpuPerMio * 1000).toFixed(0)} ns the target spends per I/O = ${((perIo / (on.cpuPerMio * 1000)) * 100).toFixed(1)}% (a lower bound: in the data path the same stores cost more, see the measured line)`);
    }
    const d = dataPath?.find((x) => x.workload === w);
    if (on && d) {
      const added = d.stateNs - d.plainNs;
      lines.push(`- persistence cost, memory, ${w}, as the data path's added work: ${added.toFixed(0)} ns per I/O in one process (${(d.costRatio * 100).toFixed(1)}% of its JavaScript work) of the ${(on.cpuPerMio * 1000).toFixed(0)} ns the target spends per I/O over loopback = ${((added / (on.cpuPerMio * 1000)) * 100).toFixed(1)}% (goal <= 3%)`);
    }
  }
  for (const r of rss) {
    const peak = Math.max(r.readPeakMiB, r.writePeakMiB);
    lines.push(`- RSS, ${r.config}, 64 x QD128 x 128 KiB: peak ${peak.toFixed(0)} MiB` +
      `${r.ownPeakMiB < peak - 1 ? `, ${r.ownPeakMiB.toFixed(0)} MiB without the data written to the memory namespace` : ''}; settled ${r.ownSettledMiB.toFixed(0)} MiB (goal <= 150 MiB)`);
  }
  if (lines.length) process.stdout.write(`\nGoals (issue 8):\n${lines.join('\n')}\n`);
  const c = cClientGoals(get);
  if (c.length) process.stdout.write(`\nGoals (issue 19, with the C client; ratios are medians of per-round ratios of interleaved rounds):\n${c.join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
