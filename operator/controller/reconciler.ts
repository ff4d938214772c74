// Reconciles one NvmeofSubsystem by key: reads the caches (never the event that woke it), asks the
// pure planners what to do, carries the plan out in order, and applies the status. Anything that
// fails throws, and the work queue retries the key with backoff; no resource can crash the operator.
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER, keyOf, splitKey, type NvmeofSubsystem, type NvmeofSubsystemStatus, type RecoveryStatus } from '../api/types.js';
import type { Action, Plan } from '../builders/actions.js';
import { canonicalJson } from '../builders/canonical.js';
import { DELETION_RETRY_MAX_MS, planCleanupBlocked, planFinalize, type FinalizeInput } from '../builders/finalize.js';
import { isFinished, isPodReady, isTerminating, timeOf } from '../builders/observe.js';
import { planLive } from '../builders/plan.js';
import { findPortConflicts, type PortClaim } from '../builders/ports.js';
import { findIdentityConflicts, type IdentityClaim } from '../builders/identity-claims.js';
import { issueIdentities } from '../builders/issue-identities.js';
import type { MemoryBounds } from '../builders/limits.js';
import { observeNode, type NodeState } from '../builders/node-state.js';
import { nqnInUse } from '../builders/nqn.js';
import { defaultResources } from '../builders/pod.js';
import { quantityBytes } from '../builders/quantity.js';
import type { TargetSettings } from '../builders/settings.js';
import { DEFAULT_METRICS_PORT, DEFAULT_PORT } from '../../target/contract.js';
import type { ClusterApi } from '../kube/cluster.js';
import { KubeError } from '../kube/rest.js';
import { statusForOlderCrd, UNDECLARED_FIELD } from '../kube/status-compat.js';
import { ownedBy, type Caches } from './caches.js';
import type { Recorder } from './events.js';
import type { PodExpectations } from './expectations.js';
import { recoverySource, type RecoveryReader, type TargetReport } from './recovery-client.js';
import { CappedRetryError, type WorkResult } from './work-queue.js';

export interface ReconcilerDeps {
  caches: Caches;
  api: ClusterApi;
  events: Recorder;
  settings: TargetSettings;
  readRecovery: RecoveryReader;
  expectations: PodExpectations;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, meta?: Record<string, unknown>) => void;
  onPodCreated?: (cause: 'first' | 'lost' | 'rolled') => void;
  /** A running pod was told of a new configuration generation (live, no roll). */
  onConfigPublished?: () => void;
  now?: () => Date;
  podSuffix?: () => string;
}

/** Five lowercase alphanumerics, like generateName. */
export function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(5), (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * The API server's own words when it refused a request for good until something changes (admission,
 * RBAC, validation, a webhook); undefined for what a plain retry fixes (a Conflict, throttling) and
 * for errors that never reached it.
 */
export function refusal(err: unknown): string | undefined {
  if (!(err instanceof KubeError) || err.code === 409 || err.code === 429) return undefined;
  return err.apiMessage ?? err.message;
}

export class Reconciler {
  private warnedOlderCrd = false;

  constructor(private readonly d: ReconcilerDeps) {}

  async reconcile(key: string): Promise<WorkResult> {
    const { namespace, name } = splitKey(key);
    const sub = this.d.caches.subsystems.get(name, namespace);
    if (!sub) {
      this.d.expectations.forgetKey(key);
      return {};
    }
    if (sub.metadata.deletionTimestamp) return this.reconcileDeletion(key, sub);
    return this.carryOut(key, sub, await this.planLive(key, sub));
  }

  /** The plan's actions in order, then its status if the resource stays; a retry throws (capped at `retryMaxMs`). */
  private async carryOut(key: string, sub: NvmeofSubsystem, plan: Plan, retryMaxMs?: number): Promise<WorkResult> {
    // A resource gets its first status before its finalizer: the CRD's create-time rules hold an object
    // without status to them (has(self.status) tells a create from an update on Kubernetes 1.29, which
    // does not ratchet), so an object with a finalizer and no status could not have it removed there.
    const statusFirst = !sub.status && plan.status !== undefined && plan.actions.some((a) => a.kind === 'addFinalizer');
    if (statusFirst) {
      // The finalizer patch carries the resourceVersion; the status write just changed it.
      const resourceVersion = await this.applyStatus(key, sub, plan.status!);
      sub = { ...sub, metadata: { ...sub.metadata, resourceVersion: resourceVersion ?? sub.metadata.resourceVersion } };
    }
    await this.execute(key, sub, plan.actions);
    if (plan.status && !statusFirst && !plan.actions.some((a) => a.kind === 'removeFinalizer' && sub.metadata.deletionTimestamp)) {
      if (canonicalJson(plan.status) !== canonicalJson(sub.status ?? {})) await this.applyStatus(key, sub, plan.status);
    }
    if (plan.retry) throw retryMaxMs === undefined ? new Error(plan.retry) : new CappedRetryError(plan.retry, retryMaxMs);
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
  }

  /** Applies the status; under a CRD older than the operator, what that CRD declares (status-compat.ts). */
  private async applyStatus(key: string, sub: NvmeofSubsystem, status: NvmeofSubsystemStatus): Promise<string | undefined> {
    try {
      return await this.d.api.applyStatus(sub, status);
    } catch (err) {
      if (!UNDECLARED_FIELD.test((err as Error)?.message ?? '')) throw err;
      if (!this.warnedOlderCrd) {
        this.warnedOlderCrd = true;
        this.d.log('warn', 'the NvmeofSubsystem CRD is older than this operator: status is written without retiredNamespaces and the namespaces\' backing and incarnation, so a nsid removed and added back over other data cannot be told apart; apply crds/ of this release (README, Upgrade)', { object: key, error: (err as Error).message });
      }
      return await this.d.api.applyStatus(sub, statusForOlderCrd(status));
    }
  }

  /**
   * A deletion never hangs silently: a step the API refuses (Pod Security admission turning the
   * cleanup pod away, say) becomes the CleanupBlocked conditions and Warning event in the API's own
   * words, and a deletion's retries wait at most DELETION_RETRY_MAX_MS, so a fixed cause is seen soon.
   */
  private async reconcileDeletion(key: string, sub: NvmeofSubsystem): Promise<WorkResult> {
    const input = this.finalizeInput(key, sub);
    const plan = planFinalize(input);
    try {
      await this.execute(key, sub, plan.actions);
    } catch (err) {
      const said = refusal(err);
      if (said === undefined) throw new CappedRetryError((err as Error)?.message ?? String(err), DELETION_RETRY_MAX_MS);
      return this.carryOut(key, sub, planCleanupBlocked(input, said), DELETION_RETRY_MAX_MS);
    }
    return this.carryOut(key, sub, { ...plan, actions: [] }, DELETION_RETRY_MAX_MS);
  }

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  private podsOf(key: string, sub: NvmeofSubsystem): { target: V1Pod[]; cleanup?: V1Pod } {
    const inNs = this.d.caches.pods.list(sub.metadata.namespace);
    return {
      target: this.d.expectations.overlay(key, ownedBy(inNs, sub.metadata.uid, 'target')),
      cleanup: ownedBy(inNs, sub.metadata.uid, 'cleanup')[0],
    };
  }

  private nodeNames(): Set<string> {
    return new Set(this.d.caches.nodes.list().map((n) => n.metadata?.name ?? ''));
  }

  private finalizeInput(key: string, sub: NvmeofSubsystem): FinalizeInput {
    const pods = this.podsOf(key, sub);
    return {
      sub, settings: this.d.settings, targetPods: pods.target, ...(pods.cleanup ? { cleanupPod: pods.cleanup } : {}),
      nodeNames: this.nodeNames(), now: this.now().toISOString(),
    };
  }

  private nodeStates(): Map<string, NodeState> {
    return new Map(this.d.caches.nodes.list().map((n) => [n.metadata?.name ?? '', observeNode(n)]));
  }

  /** Subsystems by the node that holds their state, for the NodeNotReady event. */
  private subsystemsByNode(): Map<string, string[]> {
    const by = new Map<string, string[]>();
    for (const s of this.d.caches.subsystems.list()) {
      const node = s.status?.node;
      if (node) by.set(node, [...(by.get(node) ?? []), keyOf(s)]);
    }
    return by;
  }

  /** Every subsystem's claim on node ports, for the conflict check. */
  private portClaims(): PortClaim[] {
    const pods = this.d.caches.pods.list();
    return this.d.caches.subsystems.list().map((s) => {
      const live = ownedBy(pods, s.metadata.uid, 'target').filter((p) => !isTerminating(p) && !isFinished(p) && p.spec?.nodeName);
      const node = s.status?.node ?? live[0]?.spec?.nodeName ?? s.spec?.placement?.nodeName;
      const l = s.spec?.listener;
      return {
        key: keyOf(s),
        ...(node ? { node } : {}),
        ports: l?.hostNetwork === false ? [] : [l?.port ?? DEFAULT_PORT, l?.metricsPort ?? DEFAULT_METRICS_PORT],
        ...(s.spec?.placement?.nodeSelector ? { nodeSelector: s.spec.placement.nodeSelector } : {}),
        createdAt: timeOf(s.metadata.creationTimestamp),
        running: live.some((p) => p.spec?.nodeName === node),
      };
    });
  }

  /**
   * Every subsystem's claim on identities and block devices, for the uniqueness check. What status
   * records when it reflects the current spec, else what would be issued for it now.
   */
  private identityClaims(): IdentityClaim[] {
    const pods = this.d.caches.pods.list();
    const now = this.now().toISOString();
    return this.d.caches.subsystems.list().flatMap((s) => {
      if (!Array.isArray(s.spec?.namespaces) || s.metadata.deletionTimestamp) return [];
      const ns = s.metadata.namespace ?? '';
      const nqn = nqnInUse(s.spec, s.status, ns, s.metadata.name ?? '');
      const current = s.status?.observedGeneration === s.metadata.generation && s.status?.namespaces;
      const issued = current
        ? { identities: current, retired: s.status?.retiredNamespaces ?? [] }
        : issueIdentities(nqn, s.spec.namespaces.filter((n) => typeof n === 'object' && n !== null), s.status?.namespaces, s.status?.retiredNamespaces, now);
      const live = ownedBy(pods, s.metadata.uid, 'target').filter((p) => !isTerminating(p) && !isFinished(p));
      const node = s.status?.node ?? live.find((p) => p.spec?.nodeName)?.spec?.nodeName ?? s.spec.placement?.nodeName;
      return [{
        key: keyOf(s),
        createdAt: timeOf(s.metadata.creationTimestamp),
        serving: live.some(isPodReady),
        nqn,
        namespaces: issued.identities,
        retired: issued.retired,
        devices: s.spec.namespaces.flatMap((n) => (n?.backing?.block?.device ? [{ ...(node ? { node } : {}), device: n.backing.block.device }] : [])),
      }];
    });
  }

  /** The pod's memory limit as it will be set, and the allocatable memory of its node (or the largest). */
  private memoryBounds(sub: NvmeofSubsystem): MemoryBounds {
    const limit = (sub.spec?.resources ?? defaultResources(sub, this.d.settings)).limits?.memory;
    const pinned = sub.status?.node ?? sub.spec?.placement?.nodeName;
    let best: { node: string; bytes: number } | undefined;
    for (const n of this.d.caches.nodes.list()) {
      const name = n.metadata?.name ?? '';
      const q = n.status?.allocatable?.memory;
      const bytes = q === undefined ? undefined : quantityBytes(q);
      if (bytes === undefined || (pinned && name !== pinned)) continue;
      if (!best || bytes > best.bytes) best = { node: name, bytes };
    }
    return { ...(limit !== undefined ? { limit } : {}), ...(best ? { nodeAllocatable: best } : {}) };
  }

  private async planLive(key: string, sub: NvmeofSubsystem): Promise<Plan> {
    const pods = this.podsOf(key, sub);
    const ns = sub.metadata.namespace ?? '';
    const conflicts = findPortConflicts(this.portClaims(), this.d.caches.nodes.list().map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} })));
    const conflict = conflicts.get(key);
    const identityConflict = findIdentityConflicts(this.identityClaims()).get(key);
    const report = await this.readRecovery(key, sub, pods.target);
    const service = ownedBy(this.d.caches.services.list(ns), sub.metadata.uid, 'metrics')[0];
    const budget = ownedBy(this.d.caches.budgets.list(ns), sub.metadata.uid, 'budget')[0];
    return planLive({
      sub,
      settings: this.d.settings,
      now: this.now().toISOString(),
      targetPods: pods.target,
      configMaps: ownedBy(this.d.caches.configMaps.list(ns), sub.metadata.uid, 'config'),
      ...(service ? { service } : {}),
      ...(budget ? { budget } : {}),
      nodes: this.nodeStates(),
      subsystemsByNode: this.subsystemsByNode(),
      ...(pods.cleanup ? { cleanupPod: pods.cleanup } : {}),
      ...(this.d.caches.namespaces.get(ns) ? { namespace: this.d.caches.namespaces.get(ns) } : {}),
      nodeNames: this.nodeNames(),
      ...(conflict ? { portConflict: conflict } : {}),
      ...(identityConflict ? { identityConflict } : {}),
      memory: this.memoryBounds(sub),
      ...(report ? { recovery: report.recovery } : {}),
      ...(report?.config ? { servedConfig: report.config } : report ? { configNotReported: true } : {}),
      ...(report?.offline ? { offline: report.offline } : {}),
      newPodSuffix: (this.d.podSuffix ?? randomSuffix)(),
    });
  }

  private async readRecovery(key: string, sub: NvmeofSubsystem, pods: V1Pod[]): Promise<TargetReport | undefined> {
    const source = recoverySource(sub, pods);
    if (!source) return undefined;
    try {
      return await this.d.readRecovery(source.pod, source.metricsPort);
    } catch (err) {
      this.d.log('warn', 'could not read the target\'s /recovery', { object: key, pod: source.pod.metadata?.name, error: (err as Error).message });
      return undefined;
    }
  }

  private async execute(key: string, sub: NvmeofSubsystem, actions: Action[]): Promise<void> {
    for (const a of actions) {
      switch (a.kind) {
        case 'apply': {
          await this.d.api.apply(a.object);
          this.d.log('info', `applied ${a.object.kind} ${sub.metadata.namespace}/${a.object.metadata?.name}`, { object: key });
          break;
        }
        case 'createPod': {
          const created = await this.d.api.apply(a.pod);
          this.d.expectations.expectCreated(key, created?.metadata?.uid ? created : a.pod);
          this.d.onPodCreated?.(a.cause);
          this.d.log('info', `created pod ${sub.metadata.namespace}/${a.pod.metadata?.name} (${a.cause})`, { object: key, cause: a.cause });
          break;
        }
        case 'delete': {
          await this.d.api.delete(a.apiVersion, a.objectKind, sub.metadata.namespace ?? '', a.name, a.uid);
          if (a.objectKind === 'Pod') this.d.expectations.expectDeleted(key, a.uid);
          this.d.log('info', `deleted ${a.objectKind} ${sub.metadata.namespace}/${a.name}: ${a.why}`, { object: key });
          break;
        }
        case 'annotatePod': {
          await this.d.api.annotatePod(sub.metadata.namespace ?? '', a.name, a.uid, a.annotations);
          this.d.onConfigPublished?.();
          this.d.log('info', `annotated pod ${sub.metadata.namespace}/${a.name}`, { object: key, annotations: a.annotations });
          break;
        }
        case 'addFinalizer':
          await this.d.api.setFinalizers(sub, [...(sub.metadata.finalizers ?? []), FINALIZER]);
          break;
        case 'removeFinalizer':
          await this.d.api.setFinalizers(sub, (sub.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
          break;
        case 'setLabels':
          await this.d.api.setLabels(sub, a.labels);
          this.d.log('info', 'labelled the resource', { object: key, labels: a.labels });
          break;
        case 'event':
          await this.d.events.record(sub, a.type, a.reason, a.message);
          break;
      }
    }
  }
}
