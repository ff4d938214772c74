/**
 * Whether a file or block backend may run its next read (or write) synchronously on the event loop.
 *
 * A pread/pwrite served by the page cache costs a few microseconds, less than handing it to libuv's thread
 * pool and back (about 10-20 us of the target's CPU per 4 KiB I/O at QD32, npm run bench), so the backend
 * runs it on the event loop. One that misses the cache waits for the device (0.1 ms for an SSD, 5-10 ms for
 * a disk, the kernel's command timeout for a failing one), and a write can wait for dirty-page throttling
 * (balance_dirty_pages: pauses of up to 200 ms) or the file system's journal; on the event loop that wait
 * stalls every queue of the target. The guard times each synchronous call and, once they stall the loop too
 * long, sends that kind of I/O to the thread pool for a cool-off, after which synchronous calls probe again.
 *
 * Invariants:
 *  - a call is slow if it took longer than SLOW_BASE_MS plus SLOW_PER_PAGE_MS per 4 KiB page: a page-cache
 *    copy is not (a 4 KiB hit takes 2-10 us, 1 MiB about 150 us), a device access usually is;
 *  - slow calls spend a budget of stall time that holds at most BUDGET_MS and refills at BUDGET_SHARE of the
 *    time that passes (wall clock): the guard trips when a slow call overdraws it. A single slow call is
 *    as often the thread losing its CPU to another process: with 10 runnable threads on this 2-CPU machine,
 *    0.36 % of 4 KiB page-cache reads in the target took over 50 us, 0.03 % over 1 ms, 0.003 % over 10 ms;
 *  - once tripped, allowSync() is false for the cool-off: MIN_COOL_MS, doubled up to MAX_COOL_MS each time
 *    the guard trips again on a call begun within PROBE_MS of the previous cool-off's end (later, it starts
 *    again at MIN_COOL_MS), and at least STALL_RATIO times the tripping call's duration; the budget is full
 *    when it ends;
 *  - so the event loop spends in slow calls at most BUDGET_SHARE (5 %) of the time, plus BUDGET_MS and the
 *    tripping call (at most 1/STALL_RATIO, 5 %, of the cool-off that follows) per trip;
 *  - wall-clock time cannot tell a wait for the device from the thread losing its CPU: on an overloaded
 *    node (load average 10-40 on this 2-CPU machine, other jobs' qemu guests) preemptions trip the guard
 *    too, and that I/O runs on the thread pool for the cool-off, as every I/O did before the guard: such a
 *    node gets the thread pool's throughput, never less.
 * Pure: the caller passes the clock (milliseconds, performance.now()).
 */
export const SLOW_BASE_MS = 0.1;
export const SLOW_PER_PAGE_MS = 0.002;
export const BUDGET_MS = 20;
export const BUDGET_SHARE = 0.05;
export const MIN_COOL_MS = 100;
export const MAX_COOL_MS = 10_000;
export const PROBE_MS = 1_000;
export const STALL_RATIO = 20;

export class StallGuard {
  /** allowSync() is false before this time. */
  private until = -Infinity;
  private coolMs = MIN_COOL_MS;
  /** Stall time left, as of `at`. */
  private budget = BUDGET_MS;
  private at = -Infinity;
  /** Times the guard tripped. */
  trips = 0;

  allowSync(now: number): boolean {
    return now >= this.until;
  }

  /** Records a synchronous call of `bytes` that ran from `start` to `end`; true if it tripped the guard. */
  record(start: number, end: number, bytes: number): boolean {
    const took = end - start;
    if (took <= SLOW_BASE_MS + SLOW_PER_PAGE_MS * Math.ceil(bytes / 4096)) return false;
    this.budget = Math.min(BUDGET_MS, this.budget + (end - this.at) * BUDGET_SHARE) - took;
    this.at = end;
    if (this.budget >= 0) return false;
    this.coolMs = start - this.until <= PROBE_MS ? Math.min(this.coolMs * 2, MAX_COOL_MS) : MIN_COOL_MS;
    this.until = end + Math.max(this.coolMs, STALL_RATIO * took);
    this.budget = BUDGET_MS;
    this.at = this.until;
    this.trips++;
    return true;
  }

  /** When synchronous calls may resume (-Infinity before the first trip). */
  get resumeAt(): number {
    return this.until;
  }
}
