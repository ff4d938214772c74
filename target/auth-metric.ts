// nvmeof_target_auth_total{method,result}: every admission decision of TLS (method "tls": target/tls/gate.ts)
// and of in-band authentication (method "dhchap"), one count each, so a refused host shows in the metrics as
// in the log. Shared by both methods: one registration per registry. With in-pod resume the TLS handshakes
// happen in the supervisor, which counts them in the rings file; the worker's /metrics adds them through a
// source (addSource), read at each scrape.
import { Counter, type Registry } from 'prom-client';

export const AUTH_METRIC = 'nvmeof_target_auth_total';
export type AuthMethod = 'tls' | 'dhchap';

interface Source {
  method: AuthMethod;
  read: () => Record<string, number>;
  reported: Map<string, number>;
}

/** Per registry: the sources its counter adds at each scrape. */
const sourcesOf = new WeakMap<Registry, Source[]>();

export class AuthCounter {
  private readonly counter: Counter<string>;
  private readonly sources: Source[];

  constructor(registry: Registry) {
    const existing = registry.getSingleMetric(AUTH_METRIC) as Counter<string> | undefined;
    const sources = sourcesOf.get(registry) ?? [];
    sourcesOf.set(registry, sources);
    this.sources = sources;
    this.counter = existing ?? new Counter({
      name: AUTH_METRIC, help: 'Host admissions by TLS handshake or in-band authentication, by result', labelNames: ['method', 'result'], registers: [registry],
      collect() {
        // Counts kept elsewhere (a file another process writes) are added as they grew since the last scrape.
        for (const s of sources) {
          for (const [result, total] of Object.entries(s.read())) {
            const delta = total - (s.reported.get(result) ?? 0);
            if (delta > 0) this.inc({ method: s.method, result }, delta);
            s.reported.set(result, total);
          }
        }
      },
    });
  }

  count(method: AuthMethod, result: string): void {
    this.counter.inc({ method, result });
  }

  /** Totals by result that another process keeps (the supervisor's TLS results in the rings file). */
  addSource(method: AuthMethod, read: () => Record<string, number>): void {
    this.sources.push({ method, read, reported: new Map() });
  }
}
