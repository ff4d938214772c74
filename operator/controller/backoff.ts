// Exponential backoff: base * 2^failures, capped. `jitter` (0..1) spreads restarts of many watchers.
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  jitter?: number;
}

export function backoffDelay(failures: number, p: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(p.maxMs, p.baseMs * 2 ** Math.max(0, Math.min(failures, 52)));
  const j = p.jitter ?? 0;
  return Math.round(Math.min(p.maxMs, exp * (1 + j * random())));
}
