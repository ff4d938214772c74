// Wires a validated configuration into a running target: subsystems, listeners, metrics and HTTP.
import type { Server } from 'node:http';
import type { TargetConfig } from '../config/config.js';
import type { Logger } from '../controller/observer.js';
import { Target } from '../controller/target.js';
import { Listener } from '../transport/listener.js';
import { TargetMetrics } from '../metrics.js';
import { startHttp } from '../http.js';
import { buildSubsystem } from './build.js';
import type { Subsystem } from '../subsystem/subsystem.js';

export interface RunningTarget {
  target: Target;
  listeners: Listener[];
  metrics: TargetMetrics;
  http: Server | undefined;
  shutdown(): Promise<void>;
}

export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;

export async function runTarget(config: TargetConfig, log: Logger): Promise<RunningTarget> {
  const subsystems: Subsystem[] = [];
  for (const s of config.subsystems) subsystems.push(await buildSubsystem(s));
  const metrics = new TargetMetrics(subsystems.map((s) => s.nqn));
  const target = new Target(subsystems, { observer: metrics, logger: log, discoveryListeners: config.discoveryListeners });
  let ready = false;
  let notReady = 'starting';
  const http = config.metrics
    ? await startHttp(config.metrics.address, config.metrics.port, {
      registry: metrics.registry,
      notReadyReason: () => (ready ? undefined : notReady),
      recovery: () => ({ count: 0, outcomes: { fresh: 0, clean: 0, restored: 0, corrupt: 0 } }),
    })
    : undefined;
  const seen = new Set<string>();
  const listeners: Listener[] = [];
  for (const s of config.subsystems) {
    for (const l of s.listeners) {
      const key = `${l.address}:${l.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      listeners.push(new Listener(l, target));
    }
  }
  for (const l of config.discoveryListeners ?? []) {
    const key = `${l.address}:${l.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    listeners.push(new Listener(l, target, true));
  }
  for (const l of listeners) {
    // A force-deleted pod's container may still hold the port: wait for it, saying so, never crash-loop.
    for (let attempt = 0; ; attempt++) {
      try {
        await l.listen();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
        notReady = `waiting for port ${l.config.address}:${l.config.port} (in use)`;
        if (attempt % 10 === 0) log.warn('listener address in use; waiting for it', { address: l.config.address, port: l.config.port });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
  ready = true;
  log.info('serving', {
    listeners: listeners.map((l) => l.address),
    subsystems: subsystems.map((s) => ({ nqn: s.nqn, namespaces: [...s.namespaces.values()].map((n) => ({ nsid: n.nsid, kind: n.backend.kind, size: n.backend.size, blockSize: n.blockSize })) })),
  });

  const graceMs = (config.shutdownGraceSeconds ?? DEFAULT_SHUTDOWN_GRACE_SECONDS) * 1000;
  return {
    target, listeners, metrics, http,
    async shutdown() {
      ready = false;
      notReady = 'shutting down';
      await Promise.all(listeners.map((l) => l.stopAccepting()));
      const deadline = Date.now() + graceMs;
      while (target.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (target.inflight > 0) log.warn('shutdown grace expired with commands in flight', { inflight: target.inflight });
      target.shutdown('target shutting down');
      for (const l of listeners) l.closeConnections();
      for (const s of subsystems) {
        for (const n of s.namespaces.values()) {
          await n.backend.flush();
          await n.backend.close();
        }
      }
      http?.close();
      log.info('stopped');
    },
  };
}
