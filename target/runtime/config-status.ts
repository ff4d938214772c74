// Which configuration a running target serves, for GET /recovery's `config` block and the metrics
// nvmeof_target_config_generation and nvmeof_target_config_reloads_total{result} (issue 20, contract 3):
//   "config": {"generation": n, "appliedAt": RFC 3339, "rejected": {"generation": n, "error": "...", "at": RFC 3339}}
// Invariants: `generation` is always the one served (a refused configuration never changes it); `rejected`
// is there only while the newest content seen was refused, and goes once a later content is applied, so
// the operator can tell "not yet seen" (generation lower, no rejected) from "refused" (rejected.generation).
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ConfigStatusJson {
  generation: number;
  appliedAt: string;
  rejected?: { generation: number; error: string; at: string };
}

export class ConfigStatus {
  private generation: number;
  private appliedAt: Date;
  private rejection: ConfigStatusJson['rejected'];
  private readonly gauge: Gauge<string>;
  private readonly reloads: Counter<string>;

  /** `generation`: the one the process started with; it counts as applied when the process started. */
  constructor(registry: Registry, generation: number, startedAt: Date) {
    this.generation = generation;
    this.appliedAt = startedAt;
    this.gauge = new Gauge({ name: 'nvmeof_target_config_generation', help: 'The configuration generation the target serves (the NvmeofSubsystem metadata.generation it was built from; 0 for a hand-written file)', registers: [registry] });
    this.reloads = new Counter({ name: 'nvmeof_target_config_reloads_total', help: 'New configuration contents seen by a running target, by result (applied, or rejected whole)', labelNames: ['result'], registers: [registry] });
    this.gauge.set(generation);
    this.reloads.inc({ result: 'applied' }, 0);
    this.reloads.inc({ result: 'rejected' }, 0);
  }

  applied(generation: number, at = new Date()): void {
    this.generation = generation;
    this.appliedAt = at;
    this.rejection = undefined;
    this.gauge.set(generation);
    this.reloads.inc({ result: 'applied' });
  }

  /** `generation`: the refused content's (0 when it named none or could not be parsed). */
  rejected(generation: number, error: string, at = new Date()): void {
    this.rejection = { generation, error, at: at.toISOString() };
    this.reloads.inc({ result: 'rejected' });
  }

  get served(): number {
    return this.generation;
  }

  json(): ConfigStatusJson {
    return { generation: this.generation, appliedAt: this.appliedAt.toISOString(), ...(this.rejection ? { rejected: this.rejection } : {}) };
  }
}
