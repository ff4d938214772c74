// The informer cache lags behind the operator's own writes. Without help, the reconcile that follows
// a pod creation may not see the new pod and create a second one, and the one that follows a
// deletion may still see the old pod as live. Like the ReplicaSet controller's expectations, this
// overlays what the operator itself just did on what the cache shows, until the cache catches up
// (or a timeout passes, in case a watch event was lost: the next list then tells the truth).
import type { V1Pod } from '@kubernetes/client-node';

interface Entry {
  at: number;
  pod: V1Pod;
}

export class PodExpectations {
  private readonly created = new Map<string, Entry[]>();
  private readonly deleted = new Map<string, Map<string, number>>();

  constructor(private readonly ttlMs = 60_000, private readonly now: () => number = Date.now) {}

  expectCreated(key: string, pod: V1Pod): void {
    const list = this.created.get(key) ?? [];
    list.push({ at: this.now(), pod });
    this.created.set(key, list);
  }

  expectDeleted(key: string, uid: string | undefined): void {
    if (!uid) return;
    const m = this.deleted.get(key) ?? new Map<string, number>();
    m.set(uid, this.now());
    this.deleted.set(key, m);
  }

  forgetKey(key: string): void {
    this.created.delete(key);
    this.deleted.delete(key);
  }

  /** The cached pods of `key` with the operator's own recent creations and deletions applied. */
  overlay(key: string, cached: readonly V1Pod[]): V1Pod[] {
    const now = this.now();
    const names = new Set(cached.map((p) => p.metadata?.name));
    const created = (this.created.get(key) ?? []).filter((e) => now - e.at < this.ttlMs && !names.has(e.pod.metadata?.name));
    if (created.length) this.created.set(key, created);
    else this.created.delete(key);

    const deleted = this.deleted.get(key);
    const out = cached.map((p) => {
      const uid = p.metadata?.uid;
      const at = uid ? deleted?.get(uid) : undefined;
      if (at === undefined) return p;
      if (p.metadata?.deletionTimestamp || now - at >= this.ttlMs) {
        deleted?.delete(uid as string);
        return p;
      }
      // Deleted by us, not yet seen terminating: treat it as terminating.
      return { ...p, metadata: { ...p.metadata, deletionTimestamp: new Date(at) } };
    });
    if (deleted) {
      const seen = new Set(cached.map((p) => p.metadata?.uid));
      for (const uid of [...deleted.keys()]) if (!seen.has(uid)) deleted.delete(uid);
      if (deleted.size === 0) this.deleted.delete(key);
    }
    return [...out, ...created.map((e) => e.pod)];
  }
}
