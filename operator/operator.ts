// One running operator: the HTTP server, leader election and, while leading, the manager.
// main.ts runs one from its configuration; tests on a real cluster start one against any kubeconfig.
import { KubeConfig } from '@kubernetes/client-node';
import type http from 'node:http';
import type { OperatorConfig } from './config.js';
import { Manager } from './controller/manager.js';
import type { RecoveryReader } from './controller/recovery-client.js';
import { startHttpServer } from './http.js';
import { KubeRest } from './kube/rest.js';
import { DEFAULT_LEADER_TIMING, LeaderElector } from './leader.js';
import type { LogFn } from './log.js';
import { OperatorMetrics } from './metrics.js';

export interface RunningOperator {
  readonly manager: Manager;
  readonly metrics: OperatorMetrics;
  readonly server: http.Server;
  isLeader(): boolean;
  /** Graceful: stop reconciling, release the lease, close the server. */
  stop(): Promise<void>;
  /** Resolves when leadership is lost (the process should exit and restart as a follower). */
  readonly lost: Promise<void>;
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export interface StartOptions {
  config: OperatorConfig;
  log: LogFn;
  kc?: KubeConfig;
  readRecovery?: RecoveryReader;
  /** Host the HTTP server binds (default all addresses). */
  httpHost?: string;
}

export async function startOperator(opts: StartOptions): Promise<RunningOperator> {
  const { config, log } = opts;
  const kc = opts.kc ?? loadKubeConfig(config.kubeconfig);
  const rest = new KubeRest(kc);
  let manager!: Manager;
  const metrics = new OperatorMetrics({
    queueDepth: () => manager.queue.length,
    subsystems: () => (manager.isStarted ? manager.caches.subsystems.list() : []),
  });
  manager = new Manager({
    kc, rest, settings: config.target, watchNamespace: config.watchNamespace, workers: config.workers,
    resyncSeconds: config.resyncSeconds, recoveryProbeSeconds: config.recoveryProbeSeconds, identity: config.identity, log, metrics,
    ...(opts.readRecovery ? { readRecovery: opts.readRecovery } : {}),
  });
  let leading = !config.leaderElect;
  let resolveLost!: () => void;
  const lost = new Promise<void>((r) => { resolveLost = r; });
  const server = await startHttpServer(config.metricsPort, {
    ready: () => {
      if (!leading) return { ok: true, why: 'follower: ready to take over' };
      return manager.synced ? { ok: true, why: 'leader: caches synced' } : { ok: false, why: 'leader: caches not synced yet' };
    },
    metrics: () => metrics.registry.metrics(),
    metricsContentType: metrics.registry.contentType,
  }, opts.httpHost);
  const startManager = () => {
    metrics.leader.set(1);
    manager.start().catch((err: Error) => log('error', 'manager failed to start', { error: err.message }));
  };
  let elector: LeaderElector | undefined;
  if (config.leaderElect) {
    elector = new LeaderElector(rest, {
      namespace: config.leaderElectionNamespace, name: config.leaderElectionId, identity: config.identity, ...DEFAULT_LEADER_TIMING,
    }, {
      onStartedLeading: () => { leading = true; startManager(); },
      onStoppedLeading: () => { leading = false; metrics.leader.set(0); resolveLost(); },
      log,
    });
    void elector.run();
  } else {
    startManager();
  }
  log('info', 'operator started', {
    identity: config.identity, watchNamespace: config.watchNamespace || '(all)', leaderElect: config.leaderElect,
    targetImage: config.target.image, hostPathRoot: config.target.hostPathRoot, allowedDevices: config.target.allowedDevices,
  });
  return {
    manager, metrics, server, lost,
    isLeader: () => leading,
    async stop() {
      await manager.stop();
      await elector?.stop();
      metrics.leader.set(0);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
