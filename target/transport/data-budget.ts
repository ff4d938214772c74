// Bounds the command data buffers alive at once, so memory stays flat however many connections and queue
// slots hosts open (64 connections x QD128 x 128 KiB would otherwise ask for 1 GiB).
// Invariants:
//  - a grant never makes the total exceed `limit`, nor one holder's share exceed `perHolder`, except that
//    a holder (or the whole budget) holding nothing is always granted: any single command can make progress;
//  - every grant is released exactly once (on completion, or once its data left for the socket);
//  - waiters are served in arrival order among those that fit, so a connection at its own cap does not
//    block the others behind it.

import { DATA_BUFFER_BYTES } from '../controller/buffer-pool.js';

/**
 * Command data buffers alive at once, in all connections (and at most a quarter of it per TCP connection:
 * 4 MiB, QD32 of 128 KiB): keeps the target's memory flat under any load. With 16 MiB (and the buffer pool kept
 * to as much), 64 connections x QD128 x 128 KiB I/O (1 GiB asked for) settle at about 117 MiB of RSS (peak 136)
 * against 130 (156) with 32 MiB, and moved as much data or more (128 KiB random writes 9.9K vs 8.2K IOPS,
 * reads 7.5K vs 6.3K; one connection's 128 KiB sequential reads at QD32 within noise); it still holds 16
 * commands of the largest transfer (1 MiB).
 */
export const DATA_BUDGET_BYTES = DATA_BUFFER_BYTES;

export interface BudgetHolder {
  /** Bytes this holder has been granted and not released. */
  held: number;
}

interface Waiter {
  holder: BudgetHolder;
  bytes: number;
  grant: () => void;
}

export class DataBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly limit: number, readonly perHolder: number) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private fits(h: BudgetHolder, bytes: number): boolean {
    return (h.held === 0 || h.held + bytes <= this.perHolder) && (this.used === 0 || this.used + bytes <= this.limit);
  }

  private take(h: BudgetHolder, bytes: number): void {
    h.held += bytes;
    this.used += bytes;
  }

  /** Calls `grant` now (synchronously) if `bytes` fit, else once they do. */
  acquire(h: BudgetHolder, bytes: number, grant: () => void): void {
    if (this.waiters.length === 0 && this.fits(h, bytes)) {
      this.take(h, bytes);
      grant();
      return;
    }
    this.waiters.push({ holder: h, bytes, grant });
  }

  /**
   * Grants `bytes` now, whether they fit or not: for a resumed command whose R2T the host already has, so its
   * data must have somewhere to go. The overshoot is bounded by what the previous process had granted.
   */
  force(h: BudgetHolder, bytes: number): void {
    this.take(h, bytes);
  }

  release(h: BudgetHolder, bytes: number): void {
    h.held -= bytes;
    this.used -= bytes;
    if (this.waiters.length === 0) return;
    const ready: Waiter[] = [];
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i];
      if (this.fits(w.holder, w.bytes)) {
        this.take(w.holder, w.bytes);
        this.waiters.splice(i, 1);
        ready.push(w);
      } else {
        i++;
      }
    }
    for (const w of ready) w.grant();
  }

  /** Forgets a holder's waiters (its connection closed); what it holds is released by its owner. */
  cancel(h: BudgetHolder): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) if (this.waiters[i].holder === h) this.waiters.splice(i, 1);
  }
}
