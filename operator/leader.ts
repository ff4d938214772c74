// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// - the leader renews the Lease every retry period; it gives up (and the process exits, so that it
//   restarts as a follower) when it could not renew for renewDeadline;
// - a follower takes the Lease over only when the record it last saw has not changed for the
//   holder's leaseDurationSeconds, measured on its own clock from when it saw it (clocks of
//   different nodes are never compared);
// - every write carries the resourceVersion read, so two candidates can never both win;
// - on a graceful stop the leader releases the Lease (empty holder), so another replica takes over
//   at once instead of waiting out the lease.
import { leasePath } from './kube/paths.js';
import { isConflict, isNotFound, type Rest } from './kube/rest.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

export type LeaseDecision = 'create' | 'renew' | 'acquire' | 'wait';

export interface Observed {
  /** The lease spec as last seen (JSON). */
  record: string;
  /** When, on this replica's clock, that record was first seen. */
  atMs: number;
}

export function decideLease(lease: Lease | undefined, identity: string, observed: Observed | undefined, nowMs: number): LeaseDecision {
  if (!lease) return 'create';
  const holder = lease.spec.holderIdentity ?? '';
  if (holder === identity) return 'renew';
  if (holder === '') return 'acquire';
  const durationMs = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
  if (!observed || observed.record !== JSON.stringify(lease.spec)) return 'wait';
  return nowMs - observed.atMs >= durationMs ? 'acquire' : 'wait';
}

/** MicroTime: RFC 3339 with exactly six fractional digits (the apiserver accepts nothing else). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function nextLease(decision: Exclude<LeaseDecision, 'wait'>, lease: Lease | undefined, identity: string, nowMs: number, durationSeconds: number, ns: string, name: string): Lease {
  const now = microTime(nowMs);
  const prev = lease?.spec ?? {};
  const spec: LeaseSpec = {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: decision === 'renew' && prev.acquireTime ? prev.acquireTime : now,
    renewTime: now,
    leaseTransitions: decision === 'acquire' ? (prev.leaseTransitions ?? 0) + 1 : (prev.leaseTransitions ?? 0),
  };
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: ns, ...(lease?.metadata.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}) },
    spec,
  };
}

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEADER_TIMING = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log: (level: 'info' | 'warn', msg: string, meta?: Record<string, unknown>) => void;
}

export class LeaderElector {
  private observed?: Observed;
  private leading = false;
  private lastRenewMs = 0;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  /** The lease request under way, if any: stop() waits for it, so a renewal cannot land after the release. */
  private attempt?: Promise<boolean>;

  constructor(private readonly rest: Rest, private readonly o: LeaderOptions, private readonly cb: LeaderCallbacks, private readonly now: () => number = Date.now) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Tries until stopped; calls onStartedLeading once, and onStoppedLeading if leadership is lost. */
  async run(): Promise<void> {
    while (!this.stopped) {
      this.attempt = this.tryAcquireOrRenew().catch((err: Error) => {
        this.cb.log('warn', 'leader election: lease request failed', { error: err.message });
        return false;
      });
      const ok = await this.attempt;
      this.attempt = undefined;
      if (this.stopped) break;
      if (ok) {
        this.lastRenewMs = this.now();
        if (!this.leading) {
          this.leading = true;
          this.cb.log('info', `leader election: ${this.o.identity} leads`, { lease: `${this.o.namespace}/${this.o.name}` });
          this.cb.onStartedLeading();
        }
      } else if (this.leading && this.now() - this.lastRenewMs > this.o.renewDeadlineMs) {
        this.leading = false;
        this.cb.log('warn', `leader election: ${this.o.identity} lost the lease`, { lease: `${this.o.namespace}/${this.o.name}` });
        this.cb.onStoppedLeading();
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.o.retryPeriodMs);
      });
    }
  }

  async tryAcquireOrRenew(): Promise<boolean> {
    const path = leasePath(this.o.namespace, this.o.name);
    let lease: Lease | undefined;
    try {
      lease = await this.rest.request<Lease>('GET', path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const now = this.now();
    if (lease) {
      const record = JSON.stringify(lease.spec);
      if (this.observed?.record !== record) this.observed = { record, atMs: now };
    }
    const decision = decideLease(lease, this.o.identity, this.observed, now);
    if (decision === 'wait') return false;
    const next = nextLease(decision, lease, this.o.identity, now, this.o.leaseDurationSeconds, this.o.namespace, this.o.name);
    try {
      if (decision === 'create') await this.rest.request('POST', leasePath(this.o.namespace), { body: next });
      else await this.rest.request('PUT', path, { body: next });
    } catch (e) {
      // Another candidate wrote first: it wins this round.
      if (isConflict(e)) return false;
      throw e;
    }
    this.observed = { record: JSON.stringify(next.spec), atMs: now };
    return true;
  }

  /**
   * Stops trying; a leader releases the Lease so that another replica takes over at once. A request
   * under way (a renewal, or the very first acquisition) is waited for first: released before it
   * lands, the Lease would be taken back by it and held until it expires.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.attempt;
    this.leading = false;
    const path = leasePath(this.o.namespace, this.o.name);
    for (let attempt = 1; ; attempt++) {
      try {
        const lease = await this.rest.request<Lease>('GET', path);
        if (lease.spec.holderIdentity !== this.o.identity) return;
        const released: Lease = { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.now()) } };
        await this.rest.request('PUT', path, { body: released });
        this.cb.log('info', 'leader election: released the lease', { lease: `${this.o.namespace}/${this.o.name}` });
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (isConflict(e) && attempt < 3) continue;
        this.cb.log('warn', 'leader election: could not release the lease', { error: (e as Error).message });
        return;
      }
    }
  }
}
