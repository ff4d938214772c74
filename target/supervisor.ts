// Entry point of in-pod resume (opt-in): `node dist/target/supervisor.js [supervisor flags] <target flags>`.
// The supervisor holds the sockets and forks dist/target/resume/worker.js with the target flags; a worker
// that dies (SIGKILL, OOM, a crash) is replaced and takes over every connection without the hosts noticing.
// Supervisor flags (node:util parseArgs; every other argument is the target's, passed on in its order, as for dist/target/main.js):
//   --rings FILE            the rings' header file; each connection slot is FILE.<n> (default
//                           /dev/shm/nvmeof-rings-<first listener>, else in the temp folder)
//   --connection-slots N    connections at once (default 64); a slot's file (rx + tx + 136 KiB) is made the
//                           first time it is used, so memory follows the most connections open at once
//   --rx-ring SIZE          receive ring per connection, a power of two, at least 2M (default 4M): half of it
//                           bounds the connection's R2T data, the rest holds capsules (8.3 KiB each at most)
//   --tx-ring SIZE          transmit ring per connection, a power of two, at least 2M (default 2M)
//   --no-standby-worker     no worker loaded ahead to take over at once (saves an idle process)
//   --worker-hang-timeout S a worker that answers no ping for S seconds (default 3, 0: never) is killed and
//                           replaced like a crashed one, within the Linux host's default keep-alive budget
//                           (a Keep Alive once part of KATO passed without completions, due within KATO, 5 s)
//   --proxied-sockets       plain TCP connections go through the supervisor as TLS ones do (it reads and
//                           writes the sockets, the worker only the rings) instead of being direct (the
//                           worker reads and writes them itself: one process woken per I/O, not three);
//                           also NVMEOF_PROXIED_SOCKETS=1. Direct needs the safe-mmap addon (else proxied)
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as tokenize } from 'node:util';
import { parseArgs, parseSize } from './config/cli.js';
import { ConfigError, type TargetConfig } from './config/config.js';
import type { Logger } from './controller/observer.js';
import { createLogger } from './log.js';
import { exitForError } from './termination-message.js';
import { SUPERVISOR_DEFAULTS, Supervisor } from './resume/supervisor.js';
import { listenerTable } from './resume/listeners.js';
import { MAX_TRANSFER } from './controller/limits.js';
import { isPowerOfTwo } from './resume/layout.js';
import { StartupError } from './startup-error.js';
import { TlsKeySource } from './tls/key-source.js';
import type { PskSubsystems } from './tls/keys.js';

/**
 * Named after the first listener, which no other target on the machine can hold: a supervisor started again
 * (after a crash, say) replaces its predecessor's files instead of leaving them behind.
 */
function defaultRingsPath(first: { address: string; port: number } | undefined): string {
  const shm = '/dev/shm';
  const dir = existsSync(shm) && statSync(shm).isDirectory() ? shm : tmpdir();
  const name = first ? `${first.address.replace(/[^0-9A-Za-z.]/g, '_')}-${first.port}` : String(process.pid);
  return join(dir, `nvmeof-rings-${name}`);
}

/** The supervisor's own flags; every other argument is the target's, passed on in its order. */
const SUPERVISOR_FLAGS = {
  'rings': { type: 'string' },
  'connection-slots': { type: 'string' },
  'rx-ring': { type: 'string' },
  'tx-ring': { type: 'string' },
  'no-standby-worker': { type: 'boolean' },
  'worker-hang-timeout': { type: 'string' },
  'proxied-sockets': { type: 'boolean' },
} as const;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const targetArgs: string[] = [];
  let ringsPath: string | undefined;
  // The defaults are SUPERVISOR_DEFAULTS' (operator/builders/pod.test.ts sizes /dev/shm from them).
  let slots: number = SUPERVISOR_DEFAULTS.connectionSlots;
  let rxSize: number = SUPERVISOR_DEFAULTS.rxRingBytes;
  let txSize: number = SUPERVISOR_DEFAULTS.txRingBytes;
  let standby: boolean = SUPERVISOR_DEFAULTS.standbyWorker;
  let hangSeconds: number = SUPERVISOR_DEFAULTS.workerHangTimeoutSeconds;
  let proxiedSockets = process.env.NVMEOF_PROXIED_SOCKETS === '1';
  let config;
  try {
    // Not strict: the target's flags are unknown here. A token of a target flag (or its value) is passed
    // on as the argument it came from; the target's own parser checks it.
    const { tokens } = tokenize({ args: argv, options: SUPERVISOR_FLAGS, strict: false, allowPositionals: true, tokens: true });
    let passed = -1; // the last argument passed on: `-ab` is one argument, two tokens
    for (const t of tokens) {
      if (t.kind !== 'option' || !Object.hasOwn(SUPERVISOR_FLAGS, t.name) || !argv[t.index].startsWith('--')) {
        if (t.index !== passed) targetArgs.push(argv[t.index]);
        passed = t.index;
        continue;
      }
      const flag = t.rawName;
      const value = (): string => {
        // `--rings --listen x`: the next flag is no value (`--rings=--x` is).
        if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--'))) throw new ConfigError(flag, 'needs a value');
        return t.value;
      };
      switch (t.name) {
        case 'rings': ringsPath = value(); break;
        case 'connection-slots': slots = Number(value()); break;
        case 'rx-ring': rxSize = parseSize(value(), flag); break;
        case 'tx-ring': txSize = parseSize(value(), flag); break;
        case 'no-standby-worker': standby = false; break;
        case 'worker-hang-timeout': hangSeconds = Number(value()); break;
        case 'proxied-sockets': proxiedSockets = true; break;
      }
    }
    if (!Number.isFinite(hangSeconds) || hangSeconds < 0) throw new ConfigError('--worker-hang-timeout', 'must be a number of seconds, 0 or more');
    if (!Number.isInteger(slots) || slots < 1 || slots > 4096) throw new ConfigError('--connection-slots', 'must be an integer in [1, 4096]');
    if (!isPowerOfTwo(rxSize) || rxSize < 2 << 20) throw new ConfigError('--rx-ring', 'must be a power of two of at least 2M');
    // The largest unit is a C2HData of MDTS bytes with its headers and CapsuleResp.
    if (!isPowerOfTwo(txSize) || txSize < 2 * MAX_TRANSFER) throw new ConfigError('--tx-ring', `must be a power of two of at least ${2 * MAX_TRANSFER / (1 << 20)}M`);
    config = parseArgs(targetArgs);
  } catch (e) {
    if (e instanceof ConfigError) exitForError('nvmeof-target supervisor', e);
    throw e;
  }
  const log = createLogger(config.logLevel ?? 'info', { process: 'supervisor' });
  const listeners = listenerTable(config);
  // TLS ends here, in the process that owns the sockets: the keys are read before any port listens.
  const tlsKeys = listeners.some((l) => l.tls) ? tlsKeySource(config.subsystems, log) : undefined;
  const sup = new Supervisor({
    workerPath: join(dirname(fileURLToPath(import.meta.url)), 'resume', 'worker.js'),
    workerArgs: targetArgs,
    listeners,
    rings: { path: ringsPath ?? defaultRingsPath(listeners[0]), slots, rxSize, txSize, records: SUPERVISOR_DEFAULTS.recordsPerSlot },
    log,
    firstWorkerEnv: process.env.NVMEOF_RESUME_FAULT ? { NVMEOF_RESUME_FAULT: process.env.NVMEOF_RESUME_FAULT } : undefined,
    standby,
    hangTimeoutMs: hangSeconds * 1000,
    proxiedSockets,
    ...(tlsKeys ? { tlsKeys: () => tlsKeys.current(), prepareTlsKeys: (s: PskSubsystems) => tlsKeys.prepare(s) } : {}),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('supervisor shutting down', { signal });
    sup.stop().then((code) => process.exit(code), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP reads the --config file at once (issue 20's contract): the worker watches it, so it is told. Without
  // a handler SIGHUP would end the supervisor (outside a container) with every connection it holds.
  process.on('SIGHUP', () => {
    const pid = sup.workerPid;
    if (pid) process.kill(pid, 'SIGHUP');
  });
  // The supervisor's death ends every host connection: an unexpected error is logged, not fatal.
  process.on('uncaughtException', (e) => log.error('supervisor error (kept running)', { error: e instanceof Error ? e.stack : String(e) }));
  await sup.start();
}

/** The TLS keys, read before any port listens: a missing or malformed key ends the start, naming the host. */
function tlsKeySource(subsystems: TargetConfig['subsystems'], log: Logger): TlsKeySource {
  try {
    return new TlsKeySource(subsystems, log);
  } catch (e) {
    exitForError('nvmeof-target supervisor', new StartupError(`TLS: ${(e as Error).message}`, { cause: e }));
  }
}

main().catch((e) => exitForError('nvmeof-target supervisor', e));
