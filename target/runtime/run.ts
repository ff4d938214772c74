// Wires a validated configuration into a running target: state files (recovery), subsystems, the front end
// that brings connections (transport/front-end.ts), metrics and HTTP. Order: HTTP first (so /readyz can say
// what we wait for), then each subsystem's state file (waiting for its lock if another process holds it),
// then the front end (its listeners waiting for a port in use), then serving, which ends the recovery.
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { TargetConfig } from '../config/config.js';
import type { Logger } from '../controller/observer.js';
import { Target, type ControllerStore } from '../controller/target.js';
import type { IoRecords } from '../controller/io-records.js';
import { DATA_BUDGET_BYTES, DataBudget } from '../transport/data-budget.js';
import type { FrontEnd } from '../transport/front-end.js';
import { TargetMetrics } from '../metrics.js';
import { startHttp } from '../http.js';
import { listenWhenFree } from '../transport/port-wait.js';
import { buildSubsystem } from './build.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import { SubsystemPersistence } from './persistence.js';
import { StateFileError } from '../state/state-file.js';
import { ConfigStatus } from './config-status.js';
import { offlineNamespaces, registerOfflineGauge } from './offline-namespaces.js';
import { applyConfig, BLOCK_RECHECK_MS, recheckBlockDevices, type ApplyResult, type LiveTarget } from './reconfigure.js';

export interface RunningTarget {
  target: Target;
  frontEnd: FrontEnd;
  metrics: TargetMetrics;
  http: Server | undefined;
  persistence: Map<Subsystem, SubsystemPersistence>;
  /** Which configuration is served (GET /recovery `config`, the config metrics). */
  configStatus: ConfigStatus;
  /** The configuration served now. */
  readonly config: TargetConfig;
  /** Applies a new configuration whole, or refuses it whole (runtime/reconfigure.ts); logged and counted either way. */
  reconfigure(next: TargetConfig): Promise<ApplyResult>;
  shutdown(): Promise<void>;
}

export interface RunOptions {
  /** Overrides the node's boot id (tests of node reboots). */
  bootId?: string;
  /**
   * An error after runTarget may have returned that leaves the target unable to serve (its metrics and
   * health port held by another process): serve.ts ends the process with it. Without it: logged.
   */
  onFatal?(e: unknown): void;
  /** A live change of the log level (the process's logger). */
  setLogLevel?(level: NonNullable<TargetConfig['logLevel']>): void;
}

export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;

/** Start of this process in Unix ms: recovery duration counts from here. */
function processStartMs(): number {
  return Math.round(performance.timeOrigin);
}

/** The refusal reported already is this one. */
const sameRefusal = (r: { generation: number; error: string } | undefined, generation: number, error: string) => r?.generation === generation && r.error === error;

/** Runs the target with `frontEnd` bringing its connections (TcpFrontEnd, or the rings of in-pod resume). */
export async function runTarget(config: TargetConfig, log: Logger, frontEnd: FrontEnd, opts: RunOptions = {}): Promise<RunningTarget> {
  const startedAt = processStartMs();
  let ready = false;
  let notReady = 'starting';
  const refused: string[] = [];
  const persistence = new Map<Subsystem, SubsystemPersistence>();
  const metrics = new TargetMetrics(config.subsystems.map((s) => s.nqn));
  const configStatus = new ConfigStatus(metrics.registry, config.generation ?? 0, new Date(startedAt));
  // Set once every state-file lock is held (port-wait.ts: until then a port in use is the old container's).
  let locksHeldAt: number | undefined;
  // The HTTP server binds in the background: a force-deleted pod's container may hold its port for a
  // while, and waiting for it must not hold up (or be held up by) the state-file lock and the listeners.
  let http: Server | undefined;
  let stopped = false;
  const subsystems: Subsystem[] = []; // the served ones, changed in place by live reconfiguration
  registerOfflineGauge(metrics.registry, () => subsystems);
  if (config.metrics) {
    const m = config.metrics;
    listenWhenFree(() => startHttp(m.address, m.port, {
      registry: metrics.registry,
      notReadyReason: () => (ready ? (refused.length ? `refusing to serve: ${refused.join('; ')}` : undefined) : notReady),
      recovery: () => ({ ...(recoveryJson(persistence) as object), ...frontEnd.recovery?.(), config: configStatus.json(), offline: offlineNamespaces(subsystems) }),
    }), { what: 'metrics and health endpoints', address: m.address, port: m.port, log, locksHeldSinceMs: () => locksHeldAt, stopped: () => stopped })
      .then((server) => {
        http = server;
        if (stopped) server.close();
      }, (e) => {
        if (stopped) return;
        // Without its endpoints the target is never seen ready: a port it cannot have ends the process.
        if (opts.onFatal) opts.onFatal(e);
        else log.error('cannot serve metrics and health endpoints', { address: m.address, port: m.port, error: String(e) });
      });
  }

  const openPersistence = (sub: Subsystem, s: TargetConfig['subsystems'][number]) => SubsystemPersistence.open({
    sub, cfg: s, log, registry: metrics.registry, bootId: opts.bootId,
    onWaitingForLock: (holder) => {
      notReady = `waiting for state-file lock ${s.stateFile}.lock${holder ? ` (held by ${holder})` : ''}`;
    },
  });
  for (const s of config.subsystems) {
    const sub = await buildSubsystem(s);
    if (s.stateFile) {
      try {
        const p = await openPersistence(sub, s);
        persistence.set(sub, p);
      } catch (e) {
        if (!(e instanceof StateFileError)) throw e;
        // A file from a newer layout (or one we cannot write) is kept untouched; this subsystem is not
        // served, the reason is logged and reported by /readyz, and the process stays up: no crash loop.
        const why = `${s.nqn}: ${e.message}`;
        refused.push(why);
        log.error('refusing to serve subsystem: state file unusable and kept as is', { subnqn: s.nqn, error: e.message });
        for (const n of sub.namespaces.values()) await n.backend.close();
        continue;
      }
    }
    subsystems.push(sub);
  }
  locksHeldAt = Date.now();

  const stores = new Map<Subsystem, ControllerStore>();
  // Where connections may record their qpairs and commands (the TCP front end's connections do).
  const records = new Map<Subsystem, IoRecords>();
  for (const [sub, p] of persistence) {
    stores.set(sub, p);
    records.set(sub, p.sf.connections);
  }
  const target = new Target(subsystems, { observer: metrics, logger: log, discoveryListeners: config.discoveryListeners, stores, records });

  const budget = new DataBudget(DATA_BUDGET_BYTES, frontEnd.perConnectionBudget);
  await frontEnd.start({
    target, budget, registry: metrics.registry, subsystems, log,
    notReady: (reason) => { notReady = reason; },
    locksHeldSinceMs: () => locksHeldAt,
  });
  ready = true;
  for (const p of persistence.values()) p.serving(startedAt);
  log.info('serving', {
    listeners: frontEnd.addresses,
    subsystems: subsystems.map((s) => ({ nqn: s.nqn, namespaces: [...s.namespaces.values()].map((n) => ({ nsid: n.nsid, kind: n.backend.kind, size: n.backend.size, blockSize: n.blockSize })) })),
    startupSeconds: (Date.now() - startedAt) / 1000,
  });

  const live: LiveTarget = {
    config, target, frontEnd, subsystems, persistence, log, openPersistence,
    setLogLevel: (level) => opts.setLogLevel?.(level),
    removedNamespaces: new Map(),
  };
  const blockRecheck = setInterval(() => void recheckBlockDevices(live), BLOCK_RECHECK_MS);
  blockRecheck.unref();
  // Live changes never overlap: each waits for the one before.
  let applying: Promise<unknown> = Promise.resolve();
  return {
    target, frontEnd, metrics, persistence, configStatus,
    get config() {
      return live.config;
    },
    get http() {
      return http;
    },
    reconfigure(next) {
      const run = applying.then(async () => {
        if (stopped) return { ok: false, error: 'the target is shutting down' } as ApplyResult;
        const t0 = Date.now();
        const r = await applyConfig(live, next);
        const generation = next.generation ?? 0;
        if (r.ok) {
          configStatus.applied(generation);
          log.info('configuration applied', { generation, changes: r.summary, ms: Date.now() - t0 });
        } else if (!(r.retry && sameRefusal(configStatus.json().rejected, generation, r.error))) {
          // (A content tried again while a key file it names is missing is reported and logged once.)
          configStatus.rejected(generation, r.error);
          // One line naming the field and the reason; the old configuration keeps serving.
          log.error(`configuration refused: ${r.error}`, { generation, served: configStatus.served });
        }
        return r;
      });
      applying = run;
      return run;
    },
    async shutdown() {
      stopped = true;
      clearInterval(blockRecheck);
      const graceMs = (live.config.shutdownGraceSeconds ?? DEFAULT_SHUTDOWN_GRACE_SECONDS) * 1000;
      ready = false;
      notReady = 'shutting down';
      await frontEnd.stopAccepting();
      const deadline = Date.now() + graceMs;
      while (target.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (target.inflight > 0) log.warn('shutdown grace expired with commands in flight', { inflight: target.inflight });
      target.shutdown('target shutting down');
      frontEnd.closeConnections();
      for (const s of subsystems) {
        for (const n of s.namespaces.values()) {
          await n.backend.flush();
          await n.backend.close();
        }
      }
      // Data is flushed before the state says "clean": a clean flag never covers unflushed writes.
      for (const p of persistence.values()) p.closeClean();
      http?.close();
      log.info('stopped');
    },
  };
}

/**
 * GET /recovery: the report of the (first) persistent subsystem at the top level, as the operator reads
 * it (one subsystem per pod), and every subsystem's report under `subsystems`.
 */
function recoveryJson(persistence: Map<Subsystem, SubsystemPersistence>): unknown {
  const all = [...persistence.entries()].map(([sub, p]) => [sub.nqn, p.report()] as const);
  const first = all[0]?.[1] ?? { count: 0, outcomes: { fresh: 0, clean: 0, restored: 0, corrupt: 0 }, bootCount: 0, last: null };
  return { ...first, subsystems: Object.fromEntries(all) };
}
