// Namespaces whose backing went offline (a SIGBUS on a file's mapping: backends/file.ts), for GET /recovery's
// `offline` list and the gauge nvmeof_target_namespace_offline{subsystem,nsid} (issue 19: "offline with an
// error status and an event"; the operator turns the list into a condition and a Warning event):
//   "offline": [{"subsystem": nqn, "nsid": n, "path": "...", "reason": "SIGBUS on ...", "since": RFC 3339}]
// Invariants: read from the backends when asked (nothing to keep in step with live reconfiguration); a
// namespace once offline stays in the list until its subsystem or namespace is removed or the process ends
// (the backend is never brought back: the target must open the backing again); the list is always present,
// empty when every namespace serves, so a reader tells "none offline" from a target that predates it.
import { Gauge, type Registry } from 'prom-client';
import type { Subsystem } from '../subsystem/subsystem.js';

export interface OfflineNamespace {
  subsystem: string;
  nsid: number;
  /** The backing file or device. */
  path?: string;
  reason: string;
  since: string;
}

/** Every offline namespace of `subsystems`, by subsystem then nsid. Pure. */
export function offlineNamespaces(subsystems: readonly Subsystem[]): OfflineNamespace[] {
  return subsystems.flatMap((s) => s.activeNsids().flatMap((nsid) => {
    const b = s.namespaces.get(nsid)?.backend;
    const off = b?.offline;
    return off ? [{ subsystem: s.nqn, nsid, ...(b.path ? { path: b.path } : {}), reason: off.reason, since: off.since }] : [];
  }));
}

/** nvmeof_target_namespace_offline{subsystem,nsid}: 1 for an offline namespace, 0 for one that serves; set when scraped. */
export function registerOfflineGauge(registry: Registry, subsystems: () => readonly Subsystem[]): Gauge<string> {
  return new Gauge({
    name: 'nvmeof_target_namespace_offline',
    help: 'Whether the namespace is offline (1): its backing raised SIGBUS (truncated, or its device failed) and every I/O fails until the target opens it again',
    labelNames: ['subsystem', 'nsid'],
    registers: [registry],
    collect() {
      this.reset(); // a namespace removed live leaves no series behind
      for (const s of subsystems()) {
        for (const n of s.namespaces.values()) this.set({ subsystem: s.nqn, nsid: String(n.nsid) }, n.backend.offline ? 1 : 0);
      }
    },
  });
}
