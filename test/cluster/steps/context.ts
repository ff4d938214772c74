// What every step of startCluster shares (StepContext): the cluster's layout and binaries, its log,
// its certificates and config files, the processes started so far, how to start one more and how to
// wait for something; and stopOnExit, which stops them all when this process ends or is signalled.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { ClusterOptions } from '../cluster.js';
import type { Component, Layout } from '../layout.js';
import type { Binaries } from '../paths.js';
import { Pki } from '../pki.js';
import { sleep, tail } from '../proc.js';
import { stopLayout } from '../stop.js';

/**
 * The signals that stop the cluster: Ctrl-C (SIGINT, to the terminal's process group), SIGTERM (to npm,
 * which forwards it to this process: `npm start` execs its way to node), and SIGHUP (its terminal closed).
 */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface StepContext {
  readonly l: Layout;
  readonly bins: Binaries;
  readonly log: (m: string) => void;
  /** <stateDir>/config/<n> */
  cfg(n: string): string;
  readonly pki: Pki;
  /** a file of the cluster's PKI: pki.path(n, e) */
  p(n: string, e: 'crt' | 'key' | 'pub'): string;
  readonly nodeName: string;
  /** https://10.213.<n>.2:6443 */
  readonly server: string;
  /** the processes started so far, by component */
  readonly procs: Map<Component, ChildProcess>;
  /** Components stopped on purpose while the cluster runs (restartApiserver): their exit is no failure. */
  readonly expectedExits: Set<ChildProcess>;
  /** true once the cluster is stopped (stopOnExit's stop ran): an exit is then no failure */
  stopped: boolean;
  /** starts a component in the cluster's network namespace: logs/<c>.log, pids/<c>.pid */
  startProc(c: Component, bin: string, args: string[]): void;
  /** polls fn every 250 ms until true (default: the start's timeout); throws at once when a component exited */
  waitFor(what: string, fn: () => Promise<boolean> | boolean, ms?: number): Promise<void>;
}

export function newContext(l: Layout, bins: Binaries, log: (m: string) => void, timeoutMs: number): StepContext {
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
  const p = (n: string, e: 'crt' | 'key' | 'pub') => pki.path(n, e);

  const procs = new Map<Component, ChildProcess>();
  // Components stopped on purpose while the cluster runs (restartApiserver): their exit is no failure.
  const expectedExits = new Set<ChildProcess>();
  const exits: string[] = [];

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
      if (!ctx.stopped && !expectedExits.delete(child)) {
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
  const ctx: StepContext = { l, bins, log, cfg, pki, p, nodeName, server, procs, expectedExits, stopped: false, startProc, waitFor };
  return ctx;
}

/**
 * Stops the cluster when this process exits and, unless opts.handleSignals is false, on STOP_SIGNALS
 * (then exits). Returns that stop, synchronous and safe to call twice.
 */
export function stopOnExit(ctx: StepContext, opts: ClusterOptions): () => void {
  const { l, bins, log } = ctx;
  const stopSync = () => {
    if (ctx.stopped) return;
    ctx.stopped = true;
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
  return stopSync;
}
