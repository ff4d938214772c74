// Asks every serving target for its GET /recovery every few seconds and wakes the reconciler when what it
// says changed, so that a namespace the target takes offline (a truncated file, a failing disk: issue 19)
// reaches status.offlineNamespaces, Degraded/NamespaceOffline and its Warning event in seconds, not at the
// next ready refresh (READY_REFRESH_MS, 60 s, which stays the slow full refresh).
// Invariants:
// - the prober only enqueues keys: the reconciler reads /recovery again itself and stays the only writer
//   of status and events;
// - it compares what the reconciler acts on (the whole report: offline list, served configuration,
//   recovery counters), with what it read last from the same pod; on first sight of a pod (a new leader,
//   a new pod) with what status says, so a change between the reconciler's read and the prober's first
//   is not lost; comparing with status every time instead would bypass the work queue's backoff
//   whenever a status write keeps failing;
// - at most `concurrency` GETs at once, each bounded by `timeoutMs`; a subsystem whose last GET has not
//   settled (a slow or hung target) is skipped, so requests never pile up on one target;
// - rounds never overlap; stop() lets the GETs under way settle or time out and starts no other.
// The manager runs it only while it runs, that is only on the leader (operator.ts).
import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import { keyOf, type NvmeofSubsystem, type NvmeofSubsystemStatus } from '../api/types.js';
import { canonicalJson } from '../builders/canonical.js';
import type { LogFn } from '../log.js';
import { ownedBy } from './caches.js';
import { recoverySource, type RecoveryReader, type TargetReport } from './recovery-client.js';

export const PROBE_RESULTS = ['changed', 'unchanged', 'error', 'timeout'] as const;
export type ProbeResult = (typeof PROBE_RESULTS)[number];

export const DEFAULT_PROBE_CONCURRENCY = 4;
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;

export interface RecoveryProberOptions {
  subsystems: ObjectCache<NvmeofSubsystem>;
  pods: ObjectCache<V1Pod>;
  read: RecoveryReader;
  queue: { add(key: string): void };
  /** From the start of one round to the start of the next (a round that takes longer is followed at once). */
  periodMs: number;
  concurrency?: number;
  timeoutMs?: number;
  log: LogFn;
  onProbe?: (result: ProbeResult) => void;
}

/** What the reconciler takes from a report into status, as one comparable string. */
export function reportSignature(r: Partial<TargetReport>): string {
  return canonicalJson({ recovery: r.recovery ?? null, config: r.config ?? null, offline: r.offline?.length ? r.offline : null });
}

/** The same for what status says now: what the reconciler last took from a report. */
export function statusSignature(s: NvmeofSubsystemStatus | undefined): string {
  return reportSignature({
    ...(s?.recovery ? { recovery: s.recovery } : {}), ...(s?.config ? { config: s.config } : {}),
    ...(s?.offlineNamespaces ? { offline: s.offlineNamespaces } : {}),
  });
}

interface Due {
  key: string;
  sub: NvmeofSubsystem;
  pod: V1Pod;
  metricsPort: number;
}

export class RecoveryProber {
  /** Per subsystem key: the pod last read and what it said. */
  private readonly seen = new Map<string, { pod: string; signature: string }>();
  /** Keys whose GET has not settled yet (it may have timed out for the prober). */
  private readonly busy = new Set<string>();
  private stopped = false;
  private loop?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;

  constructor(private readonly o: RecoveryProberOptions) {}

  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run();
  }

  /** Starts no other GET and waits for the round under way (its GETs settle or time out). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const began = Date.now();
      try {
        await this.probeOnce();
      } catch (err) {
        this.o.log('error', 'recovery probe round failed', { error: (err as Error)?.message ?? String(err) });
      }
      await this.pause(Math.max(0, this.o.periodMs - (Date.now() - began)));
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    });
  }

  /** One round: every subsystem with a serving target whose last GET settled, `concurrency` at a time. */
  async probeOnce(): Promise<void> {
    const due: Due[] = [];
    const serving = new Set<string>();
    for (const sub of this.o.subsystems.list()) {
      if (sub.metadata.deletionTimestamp) continue;
      const source = recoverySource(sub, ownedBy(this.o.pods.list(sub.metadata.namespace), sub.metadata.uid, 'target'));
      if (!source) continue;
      const key = keyOf(sub);
      serving.add(key);
      if (!this.busy.has(key)) due.push({ key, sub, ...source });
    }
    // A subsystem without a serving target is compared with its status again when one serves.
    for (const key of this.seen.keys()) if (!serving.has(key)) this.seen.delete(key);
    let next = 0;
    const worker = async () => {
      while (!this.stopped && next < due.length) await this.probe(due[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? DEFAULT_PROBE_CONCURRENCY, due.length) }, worker));
  }

  private async probe(t: Due): Promise<void> {
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.busy.add(t.key);
    // A reader that throws at once still settles here, so the key does not stay busy for good.
    const reading = (async () => this.o.read(t.pod, t.metricsPort))().finally(() => this.busy.delete(t.key));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    let result: ProbeResult;
    try {
      const report = await Promise.race([reading, timedOut]);
      if (report === 'timeout') {
        result = 'timeout';
        this.o.log('debug', `recovery probe: no answer in ${timeoutMs} ms`, { object: t.key, pod: t.pod.metadata?.name });
      } else {
        result = this.compare(t, report);
      }
    } catch (err) {
      // The reconciler warns when its own read fails; every few seconds here would flood the log.
      result = 'error';
      this.o.log('debug', 'recovery probe failed', { object: t.key, pod: t.pod.metadata?.name, error: (err as Error)?.message ?? String(err) });
    } finally {
      clearTimeout(timer);
    }
    this.o.onProbe?.(result);
  }

  private compare(t: Due, report: TargetReport): ProbeResult {
    const signature = reportSignature(report);
    const pod = t.pod.metadata?.uid ?? t.pod.metadata?.name ?? '';
    const last = this.seen.get(t.key);
    const before = last?.pod === pod ? last.signature : statusSignature(t.sub.status);
    this.seen.set(t.key, { pod, signature });
    if (signature === before) return 'unchanged';
    if (this.stopped) return 'changed';
    this.o.log('info', 'the target\'s /recovery changed: reconciling', { object: t.key, pod: t.pod.metadata?.name });
    this.o.queue.add(t.key);
    return 'changed';
  }
}
