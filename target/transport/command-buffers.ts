// The data buffers of one connection's commands: each from the target's buffer pool (controller/buffer-pool.ts),
// within the data budget that bounds them across connections (data-budget.ts), when there is one.
// Invariant: a command's buffer and budget go back exactly once, when release() finds its data unused.
import type { Request } from '../controller/request.js';
import { dataBuffers } from '../controller/buffer-pool.js';
import type { BudgetHolder, DataBudget } from './data-budget.js';

export class CommandBuffers implements BudgetHolder {
  /** Data budget bytes held by this connection's commands. */
  held = 0;

  constructor(private readonly budget: DataBudget | undefined) {}

  /** Commands that move data wait for room in a budget (there is one). */
  get budgeted(): boolean {
    return this.budget !== undefined;
  }

  /** Calls `granted` once the command's `len` bytes fit the budget: now (synchronously) if they do. */
  reserve(req: Request, len: number, granted: () => void): void {
    req.budgetBytes = len;
    this.budget!.acquire(this, len, granted);
  }

  /** Takes `len` bytes of the budget (if any) for the command whether they fit or not (a resumed command whose R2T the host has). */
  force(req: Request, len: number): void {
    if (!this.budget) return;
    req.budgetBytes = len;
    this.budget.force(this, len);
  }

  /** A buffer for `len` bytes of in-capsule data; the command it becomes holds it as its pooled buffer. */
  inCapsule(len: number): Buffer {
    return dataBuffers.acquire(len);
  }

  /** The command's buffer for its host data (R2T). */
  forHostData(req: Request): void {
    req.data = req.pooled = dataBuffers.acquire(req.transferLen);
  }

  /** The command's data is no longer referenced: its pooled buffer and its budget go back. */
  release(req: Request): void {
    const p = req.pooled;
    if (p) {
      req.pooled = undefined;
      dataBuffers.release(p);
    }
    const n = req.budgetBytes;
    if (n === 0) return;
    req.budgetBytes = 0;
    this.budget!.release(this, n);
  }

  /** The connection closed: its commands waiting for room never get it. */
  cancel(): void {
    this.budget?.cancel(this);
  }
}
