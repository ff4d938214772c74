// Which connection slots' rings moved, told to the other process once per turn of the event loop: every
// mark in one turn becomes at most one message per kind, sent in the order the kinds were given.
export class SlotNotices<K extends string> {
  private readonly pending = new Map<K, Set<number>>();
  private scheduled = false;

  constructor(kinds: readonly K[], private readonly send: (kind: K, slots: number[]) => void) {
    for (const k of kinds) this.pending.set(k, new Set());
  }

  mark(kind: K, slot: number): void {
    this.pending.get(kind)!.add(slot);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const [k, slots] of this.pending) {
        if (slots.size === 0) continue;
        this.send(k, [...slots]);
        slots.clear();
      }
    });
  }

  /** Takes `slot` out of the pending `kind` notice (the caller tells it now): true if it was pending. */
  take(kind: K, slot: number): boolean {
    return this.pending.get(kind)!.delete(slot);
  }

  /** Forgets every pending notice (their reader is gone). */
  clear(): void {
    for (const slots of this.pending.values()) slots.clear();
  }
}
