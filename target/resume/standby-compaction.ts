// A standby worker waits, often for the pod's whole life, holding what loading its modules left in V8's
// heap: a young generation grown to about 7 MiB by the compilation's short-lived objects and old-space
// pages half garbage. One last-resort collection (V8's CollectAllAvailableGarbage: repeated full
// collections that shrink the young generation and release free pages) once everything is loaded takes
// its anonymous memory from 27.7 to 20.9 MiB (Node 26.12.1, `--max-semi-space-size=4`; measured with
// /proc/self/smaps_rollup Pss_Anon, see test/bench/node-cost.ts). It runs before the standby says it is
// ready, so no takeover ever waits for it; the heap grows back as the worker's data path needs it.
//
// gc() exists only with --expose-gc, which the supervisor gives the standby alone. V8's gc extension takes
// { type, execution, flavor } (v8/src/extensions/gc-extension.cc); a Node without it leaves the heap as is.
export const STANDBY_NODE_FLAG = '--expose-gc';

type GcOptions = { type: 'major'; execution: 'sync'; flavor: 'last-resort' };

export function compactStandbyHeap(): boolean {
  const gc = (globalThis as { gc?: (o?: GcOptions) => void }).gc;
  if (typeof gc !== 'function') return false;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return true;
}
