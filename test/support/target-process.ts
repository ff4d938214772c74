// Starts the target (dist/target/main.js) as a child process for tests and benchmarks, the way a user runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGET_NODE_FLAGS } from '../../target/node-flags.js';
import { ProtocolErrorWatch } from './protocol-errors.js';

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

export const TARGET_MAIN = join(repoRoot(), 'dist', 'target', 'main.js');
/** In-pod resume: the supervisor, which forks the worker (dist/target/resume/worker.js) with the same flags. */
export const SUPERVISOR_MAIN = join(repoRoot(), 'dist', 'target', 'supervisor.js');

/** Ports freePort() has handed out in this process. */
const handedOut = new Set<number>();

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1, and that no earlier call in this process returned:
 * the kernel may give a port it just released to the next bind(0), so two calls in a row (a target's NVMe
 * and metrics ports) could get the same one, and the test's HTTP requests then reached the NVMe listener.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

export interface TargetProcess {
  child: ChildProcess;
  pid: number;
  /** Every line the target printed (JSON logs on stdout, anything on stderr). */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Sends `signal` (if the process still runs), waits for its exit and its output, then fails (rejects) if it
   * logged a protocol error `expectProtocolErrors` does not allow (test/support/protocol-errors.ts; checked
   * once per process).
   */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every protocol-error line it logged so far, expected or not. */
  protocolErrors: string[];
}

export interface StartOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  onLine?: (line: string) => void;
  /** Keep only the last this many lines (default: all). */
  keepLines?: number;
  /** The entry point (default TARGET_MAIN; SUPERVISOR_MAIN for in-pod resume). */
  main?: string;
  /** Protocol errors the test provokes on purpose: patterns matched against the log line (default: none). */
  expectProtocolErrors?: readonly RegExp[];
}

/** Starts the target with `args` and resolves once it serves. */
export async function startTarget(args: string[], opts: StartOptions = {}): Promise<TargetProcess> {
  const child = spawn(process.execPath, [...TARGET_NODE_FLAGS, opts.main ?? TARGET_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  const lines: string[] = [];
  const watch = new ProtocolErrorWatch(opts.expectProtocolErrors, `the target (pid ${child.pid})`);
  let serving = false;
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      watch.onLine(line);
      lines.push(line);
      if (opts.keepLines && lines.length > opts.keepLines) lines.splice(0, lines.length - opts.keepLines);
      if (line.includes('"message":"serving"')) serving = true;
      opts.onLine?.(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // 'close' comes after the last output ('exit' may come before it); bounded, in case a child of the
  // process (the in-pod resume worker) still holds the pipes.
  const outputDone = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let dead: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((r) => { dead = r; });
  // Ready: /readyz answers 200 when a metrics address is given (any log level), else the "serving" log line.
  const m = args.indexOf('--metrics');
  const readyz = m >= 0 ? `http://${args[m + 1]}/readyz` : undefined;
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (!serving) {
    if (readyz) {
      try {
        if ((await fetch(readyz)).status === 200) break;
      } catch { /* not listening yet */ }
    }
    if (dead) throw new Error(`target exited (${JSON.stringify(dead)}) before serving:\n${lines.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`target did not serve within ${opts.timeoutMs ?? 15_000} ms:\n${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child, pid: child.pid!, lines, exited, protocolErrors: watch.lines,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!dead) child.kill(signal);
      const r = await exited;
      await Promise.race([outputDone, new Promise((resolve) => setTimeout(resolve, 2000))]);
      watch.check();
      return r;
    },
  };
}
