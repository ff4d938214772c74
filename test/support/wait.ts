// Polling helpers shared by the tests on real parts.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns something truthy; the error names what was awaited and the last error seen. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000, everyMs = 250): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    await sleep(everyMs);
  }
}
