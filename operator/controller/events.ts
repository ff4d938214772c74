// Kubernetes Events on NvmeofSubsystems. Like client-go's recorder, a repeat of the same event on the
// same object within the aggregation window bumps the existing Event's count instead of creating a
// new one. Recording never fails a reconcile: an Event that cannot be written is logged and dropped.
import type { CoreV1Event } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import type { EventType } from '../builders/actions.js';
import type { ClusterApi } from '../kube/cluster.js';

export const COMPONENT = 'nvmeof-operator';
const WINDOW_MS = 10 * 60_000;
const MAX_TRACKED = 4096;

interface Seen {
  name: string;
  namespace: string;
  count: number;
  first: string;
  at: number;
}

export interface Recorder {
  record(sub: NvmeofSubsystem, type: EventType, reason: string, message: string): Promise<void>;
}

/** Kubernetes time (RFC 3339, seconds) and MicroTime (six fractional digits). */
export function k8sTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
export function k8sMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function eventFor(sub: NvmeofSubsystem, type: EventType, reason: string, message: string, nowMs: number, instance: string): CoreV1Event {
  const ts = k8sTime(nowMs);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${sub.metadata.name}.${(BigInt(nowMs) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`, namespace: sub.metadata.namespace },
    involvedObject: {
      apiVersion: sub.apiVersion, kind: sub.kind, name: sub.metadata.name, namespace: sub.metadata.namespace,
      uid: sub.metadata.uid, resourceVersion: sub.metadata.resourceVersion,
    },
    type,
    reason,
    message: message.slice(0, 1024),
    source: { component: COMPONENT },
    reportingComponent: COMPONENT,
    reportingInstance: instance,
    firstTimestamp: ts as unknown as Date,
    lastTimestamp: ts as unknown as Date,
    count: 1,
  };
}

export class EventRecorder implements Recorder {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly api: ClusterApi,
    private readonly instance: string,
    private readonly onFailure: (err: unknown, reason: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  async record(sub: NvmeofSubsystem, type: EventType, reason: string, message: string): Promise<void> {
    const key = `${sub.metadata.uid}\0${type}\0${reason}\0${message}`;
    const now = this.now();
    const prev = this.seen.get(key);
    try {
      if (prev && now - prev.at < WINDOW_MS) {
        prev.count++;
        prev.at = now;
        await this.api.patchEvent(prev.namespace, prev.name, { count: prev.count, lastTimestamp: k8sTime(now) as unknown as Date });
        return;
      }
      const ev = eventFor(sub, type, reason, message, now, this.instance);
      await this.api.createEvent(ev);
      this.seen.delete(key);
      this.seen.set(key, { name: ev.metadata.name ?? '', namespace: ev.metadata.namespace ?? '', count: 1, first: k8sTime(now), at: now });
      while (this.seen.size > MAX_TRACKED) this.seen.delete(this.seen.keys().next().value as string);
    } catch (err) {
      // An aggregated Event may have expired on the server: start a new one next time.
      this.seen.delete(key);
      this.onFailure(err, reason);
    }
  }
}
