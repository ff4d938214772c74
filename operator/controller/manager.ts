// Wires the informers, the work queue and the reconciler together: informers only enqueue
// namespace/name keys; workers run the reconciler; a periodic resync enqueues every subsystem; the recovery
// prober enqueues a subsystem whose target's /recovery changed (recovery-prober.ts).
import type { KubeConfig, KubernetesObject, V1ConfigMap, V1Namespace, V1Node, V1Pod, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { API_VERSION, KIND, keyOf, type NvmeofSubsystem } from '../api/types.js';
import { canonicalJson } from '../builders/canonical.js';
import { OWNED_SELECTOR } from '../builders/names.js';
import { ownerKey } from '../builders/owner.js';
import type { TargetSettings } from '../builders/settings.js';
import { KubeClusterApi, listObjects } from '../kube/cluster.js';
import { budgetPath, corePath, subsystemPath } from '../kube/paths.js';
import type { Rest } from '../kube/rest.js';
import type { LogFn } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Caches } from './caches.js';
import { EventRecorder } from './events.js';
import { PodExpectations } from './expectations.js';
import { DEFAULT_SUPERVISOR, makeInformer, type SupervisedInformer, type SupervisorOptions } from './informer.js';
import { httpRecoveryReader, type RecoveryReader } from './recovery-client.js';
import { Reconciler } from './reconciler.js';
import { RecoveryProber } from './recovery-prober.js';
import { runWorkers, WorkQueue } from './work-queue.js';

/** What a change must touch to need a reconcile: not status, not resourceVersion. */
export function reconcileSignature(s: NvmeofSubsystem): string {
  return canonicalJson({
    uid: s.metadata.uid, generation: s.metadata.generation, deleting: Boolean(s.metadata.deletionTimestamp),
    finalizers: s.metadata.finalizers ?? [], labels: s.metadata.labels ?? {},
  });
}

/**
 * What a node change must touch to wake every subsystem: what the reconciler reads of nodes (names,
 * labels for placement and port claims, allocatable memory), plus taints and cordoning. Not the
 * kubelet's heartbeats: with nodeStatusUpdateFrequency set they update the Node every few seconds,
 * and each woke every subsystem, running a key in backoff long before the delay its log stated.
 */
export function nodeSignature(n: V1Node): string {
  // The Ready condition's status and reason (not its heartbeat times): a node going NotReady or coming back
  // changes what the subsystems on it say (operator/builders/node-state.ts).
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
  return canonicalJson({
    name: n.metadata?.name, labels: n.metadata?.labels ?? {}, spec: n.spec ?? {}, allocatable: n.status?.allocatable ?? {},
    ready: ready ? { status: ready.status, reason: ready.reason ?? '' } : {},
  });
}

export interface ManagerOptions {
  kc: KubeConfig;
  rest: Rest;
  settings: TargetSettings;
  watchNamespace: string;
  workers: number;
  resyncSeconds: number;
  identity: string;
  log: LogFn;
  metrics?: OperatorMetrics;
  readRecovery?: RecoveryReader;
  /** Seconds between rounds of the recovery prober; 0 or absent: no prober (READY_REFRESH_MS alone). */
  recoveryProbeSeconds?: number;
  supervisor?: Partial<Omit<SupervisorOptions, 'log'>>;
}

export class Manager {
  readonly queue = new WorkQueue({ baseMs: 500, maxMs: 5 * 60_000 });
  readonly caches: Caches;
  private readonly informers: SupervisedInformer<KubernetesObject>[] = [];
  private readonly reconciler: Reconciler;
  private readonly prober?: RecoveryProber;
  private workers?: Promise<void>;
  private resync?: NodeJS.Timeout;
  private started = false;

  constructor(private readonly o: ManagerOptions) {
    const sup: SupervisorOptions = {
      ...DEFAULT_SUPERVISOR,
      ...o.supervisor,
      log: (level, msg, meta) => o.log(level, msg, meta),
      onRestart: (name) => o.metrics?.informerRestarts.inc({ informer: name }),
    };
    const ns = o.watchNamespace || undefined;
    const inf = <T extends KubernetesObject>(name: string, path: string, typeMeta: { apiVersion: string; kind: string }, label?: string, field?: string) => {
      const i = makeInformer<T>(o.kc, name, path, () => listObjects<T>(o.rest, path, label, field), typeMeta, sup, label, field);
      this.informers.push(i as unknown as SupervisedInformer<KubernetesObject>);
      return i;
    };
    const subsystems = inf<NvmeofSubsystem>('nvmeofsubsystems', subsystemPath(ns), { apiVersion: API_VERSION, kind: KIND });
    const pods = inf<V1Pod>('pods', corePath('Pod', ns), { apiVersion: 'v1', kind: 'Pod' }, OWNED_SELECTOR);
    const configMaps = inf<V1ConfigMap>('configmaps', corePath('ConfigMap', ns), { apiVersion: 'v1', kind: 'ConfigMap' }, OWNED_SELECTOR);
    const services = inf<V1Service>('services', corePath('Service', ns), { apiVersion: 'v1', kind: 'Service' }, OWNED_SELECTOR);
    const budgets = inf<V1PodDisruptionBudget>('poddisruptionbudgets', budgetPath(ns), { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' }, OWNED_SELECTOR);
    const nodes = inf<V1Node>('nodes', corePath('Node'), { apiVersion: 'v1', kind: 'Node' });
    const namespaces = inf<V1Namespace>('namespaces', corePath('Namespace'), { apiVersion: 'v1', kind: 'Namespace' }, undefined, ns ? `metadata.name=${ns}` : undefined);
    this.caches = { subsystems, pods, configMaps, services, budgets, nodes, namespaces };

    const add = (key: string | undefined) => { if (key) this.queue.add(key); };
    const all = () => { for (const s of subsystems.list()) add(keyOf(s)); };
    // Status-only updates (most of them the operator's own) do not wake a reconcile: like
    // controller-runtime's GenerationChangedPredicate, plus deletion and finalizer changes.
    const seen = new Map<string, string>();
    subsystems.on('add', (s) => { seen.set(keyOf(s), reconcileSignature(s)); add(keyOf(s)); });
    subsystems.on('update', (s) => {
      const sig = reconcileSignature(s);
      if (seen.get(keyOf(s)) === sig) return;
      seen.set(keyOf(s), sig);
      add(keyOf(s));
    });
    // A deleted subsystem may free ports another one waits for.
    subsystems.on('delete', (s) => { seen.delete(keyOf(s)); add(keyOf(s)); all(); });
    for (const owned of [pods, configMaps, services, budgets] as SupervisedInformer<KubernetesObject>[]) {
      for (const verb of ['add', 'update', 'delete'] as const) owned.on(verb, (obj) => add(ownerKey(obj)));
    }
    const nodeSeen = new Map<string, string>();
    nodes.on('add', (n) => { nodeSeen.set(n.metadata?.name ?? '', nodeSignature(n)); all(); });
    nodes.on('update', (n) => {
      const sig = nodeSignature(n);
      if (nodeSeen.get(n.metadata?.name ?? '') === sig) return;
      nodeSeen.set(n.metadata?.name ?? '', sig);
      all();
    });
    nodes.on('delete', (n) => { nodeSeen.delete(n.metadata?.name ?? ''); all(); });
    // A namespace's labels decide whether its pods pass Pod Security admission: a change wakes its
    // subsystems at once, a blocked deletion's backoff or not.
    for (const verb of ['add', 'update', 'delete'] as const) {
      namespaces.on(verb, (n) => { for (const s of subsystems.list(n.metadata?.name)) add(keyOf(s)); });
    }

    const api = new KubeClusterApi(o.kc);
    const readRecovery = o.readRecovery ?? httpRecoveryReader();
    this.reconciler = new Reconciler({
      caches: this.caches,
      api,
      events: new EventRecorder(api, o.identity, (err, reason) => o.log('warn', `could not record event ${reason}`, { error: (err as Error).message })),
      settings: o.settings,
      readRecovery,
      expectations: new PodExpectations(),
      log: (level, msg, meta) => o.log(level, msg, meta),
      onPodCreated: (cause) => {
        if (cause === 'lost') o.metrics?.podsRecreated.inc();
        if (cause === 'rolled') o.metrics?.podsRolled.inc();
      },
      onConfigPublished: () => o.metrics?.configPublished.inc(),
    });
    if (o.recoveryProbeSeconds) {
      this.prober = new RecoveryProber({
        subsystems, pods, read: readRecovery, queue: this.queue, periodMs: o.recoveryProbeSeconds * 1000,
        log: (level, msg, meta) => o.log(level, msg, meta),
        onProbe: (result) => o.metrics?.recoveryProbes.inc({ result }),
      });
    }
  }

  get synced(): boolean {
    return this.informers.every((i) => i.supervisor.synced);
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Starts the informers, waits for their first lists, then the workers, the resync and the prober. */
  async start(): Promise<void> {
    this.started = true;
    await Promise.all(this.informers.map((i) => i.supervisor.start()));
    while (!this.synced) {
      if (!this.started) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.o.log('info', 'caches synced; starting workers', { workers: this.o.workers });
    this.workers = runWorkers(this.queue, this.o.workers, (key) => this.handle(key), (key, err, retryMs) => {
      // The delay is the one the queue will wait; only a change to the object, its pods, its namespace
      // or the nodes (or the periodic resync) runs it sooner.
      this.o.log('error', `reconcile failed; retrying in ${retryMs} ms`, { object: key, retryInMs: retryMs, error: (err as Error)?.message ?? String(err) });
    });
    for (const s of this.caches.subsystems.list()) this.queue.add(keyOf(s));
    this.resync = setInterval(() => { for (const s of this.caches.subsystems.list()) this.queue.add(keyOf(s)); }, this.o.resyncSeconds * 1000);
    this.resync.unref();
    this.prober?.start();
  }

  private async handle(key: string) {
    const end = this.o.metrics?.reconcileDuration.startTimer();
    try {
      const res = await this.reconciler.reconcile(key);
      this.o.metrics?.reconcileTotal.inc({ result: res.requeueAfterMs !== undefined ? 'requeue' : 'success' });
      return res;
    } catch (err) {
      this.o.metrics?.reconcileTotal.inc({ result: 'error' });
      throw err;
    } finally {
      end?.();
    }
  }

  /** Stops the prober and taking keys, lets running reconciles finish, stops the informers. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.resync) clearInterval(this.resync);
    await this.prober?.stop();
    this.queue.shutDown();
    await this.workers;
    await Promise.all(this.informers.map((i) => i.supervisor.stop()));
  }
}
