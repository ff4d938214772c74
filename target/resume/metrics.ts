// Metrics of in-pod resume, read from the rings file's header when /metrics is scraped, so they count across
// workers (a worker's own memory dies with it): nvmeof_target_worker_restarts_total,
// nvmeof_target_worker_hangs_total (workers the supervisor's watchdog killed, among the restarts),
// nvmeof_target_connections_resumed_total, nvmeof_target_commands_redone_total,
// nvmeof_target_resume_duration_seconds (histogram: the previous worker's exit, as the supervisor saw it,
// to every connection resumed). Each series carries `subsystem`, one per subsystem the process serves.
import { AuthCounter } from '../auth-metric.js';
import type { Registry } from 'prom-client';
import { FH, RESUME_BUCKET_BOUNDS, TLS_RESULT_FIELD } from './layout.js';
import type { RingsFile } from './rings-file.js';

type Value = { metricName?: string; labels: Record<string, string | number>; value: number };

class FileMetric {
  readonly aggregator = 'sum';

  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'histogram', private readonly values: () => Value[], registry: Registry) {
    registry.registerMetric(this as never);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }
}

/** Adds one resume's duration to the histogram kept in the file. */
export function observeResume(rings: RingsFile, seconds: number): void {
  const i = RESUME_BUCKET_BOUNDS.findIndex((b) => seconds <= b);
  if (i >= 0) rings.addF64(FH.RESUME_BUCKETS + 8 * i, 1);
  rings.addF64(FH.RESUME_SUM, seconds);
  rings.addF64(FH.RESUME_COUNT, 1);
}

export function registerResumeMetrics(registry: Registry, rings: RingsFile, subsystems: string[]): void {
  const each = (value: () => number) => (): Value[] => subsystems.map((subsystem) => ({ labels: { subsystem }, value: value() }));
  new FileMetric('nvmeof_target_worker_restarts_total', 'Workers the supervisor started again after one exited (in-pod resume)', 'counter',
    each(() => rings.getF64(FH.WORKER_RESTARTS)), registry);
  new FileMetric('nvmeof_target_worker_hangs_total', 'Workers the supervisor killed because they stopped answering (each is also a restart)', 'counter',
    each(() => rings.getF64(FH.WORKER_HANGS)), registry);
  // TLS ends in the supervisor (target/tls/gate.ts), which counts each result in the rings file's header.
  new AuthCounter(registry).addSource('tls', () => Object.fromEntries(Object.entries(TLS_RESULT_FIELD).map(([r, at]) => [r, rings.getF64(at)])));
  new FileMetric('nvmeof_target_connections_resumed_total', 'Connections a restarted worker took over without the host noticing', 'counter',
    each(() => rings.getF64(FH.CONNECTIONS_RESUMED)), registry);
  new FileMetric('nvmeof_target_commands_redone_total', 'Commands in flight at a worker exit that the next worker executed again or answered from their recorded result', 'counter',
    each(() => rings.getF64(FH.COMMANDS_REDONE) + rings.getF64(FH.COMPLETIONS_REPUBLISHED)), registry);
  new FileMetric('nvmeof_target_resume_duration_seconds', 'From a worker\'s exit to every connection resumed by the next one', 'histogram', () => {
    const out: Value[] = [];
    for (const subsystem of subsystems) {
      let acc = 0;
      RESUME_BUCKET_BOUNDS.forEach((le, i) => {
        acc += rings.getF64(FH.RESUME_BUCKETS + 8 * i);
        out.push({ metricName: 'nvmeof_target_resume_duration_seconds_bucket', labels: { subsystem, le }, value: acc });
      });
      const count = rings.getF64(FH.RESUME_COUNT);
      out.push({ metricName: 'nvmeof_target_resume_duration_seconds_bucket', labels: { subsystem, le: '+Inf' }, value: count });
      out.push({ metricName: 'nvmeof_target_resume_duration_seconds_sum', labels: { subsystem }, value: rings.getF64(FH.RESUME_SUM) });
      out.push({ metricName: 'nvmeof_target_resume_duration_seconds_count', labels: { subsystem }, value: count });
    }
    return out;
  }, registry);
}

/** The `resume` field of GET /recovery. */
export interface ResumeReport {
  /** The worker serving now. */
  workerPid: number;
  workerStarts: number;
  workerRestarts: number;
  /** Restarts of a worker the watchdog found hung. */
  workerHangs: number;
  connectionsResumed: number;
  commandsRedone: number;
  completionsRepublished: number;
  last: { at: string; durationSeconds: number; connections: number } | null;
}

export function resumeReport(rings: RingsFile): ResumeReport {
  const at = rings.getF64(FH.LAST_RESUME_AT_MS);
  return {
    workerPid: process.pid,
    workerStarts: rings.getF64(FH.WORKER_STARTS),
    workerRestarts: rings.getF64(FH.WORKER_RESTARTS),
    workerHangs: rings.getF64(FH.WORKER_HANGS),
    connectionsResumed: rings.getF64(FH.CONNECTIONS_RESUMED),
    commandsRedone: rings.getF64(FH.COMMANDS_REDONE),
    completionsRepublished: rings.getF64(FH.COMPLETIONS_REPUBLISHED),
    last: at > 0 ? { at: new Date(at).toISOString(), durationSeconds: rings.getF64(FH.LAST_RESUME_SECONDS), connections: rings.getF64(FH.LAST_RESUME_CONNECTIONS) } : null,
  };
}
