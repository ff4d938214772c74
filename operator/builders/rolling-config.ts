// The part of the target's configuration a running target is not asked to change: it rolls the pod.
// Everything else in the file (namespaces added, removed or grown, hosts, listeners, serial, model, the
// log level, the generation) is applied live by the running target (issue 20's contract, 2), which
// refuses a change it cannot apply as a whole and keeps serving the old configuration.
import type { TargetConfig } from '../../target/contract.js';

export type SubsystemConfig = TargetConfig['subsystems'][number];

/**
 * Per subsystem: the NQN (a subsystem's name; never changes for an NvmeofSubsystem, see status.nqn), its
 * state file's path and its durability, which the target fixes when it opens the state file at start, and
 * its serial and model, which a host compares when it finds the subsystem again (the running target refuses
 * all five: target/config/diff.ts).
 */
export const ROLLING_SUBSYSTEM_FIELDS = ['nqn', 'stateFile', 'durability', 'serial', 'model'] as const satisfies readonly (keyof SubsystemConfig)[];

/** Top level: the metrics listener (its port is a container port too; the probes use it). */
export const ROLLING_TOP_FIELDS = ['metrics'] as const satisfies readonly (keyof TargetConfig)[];

/** What of `config` the pod's hash covers. */
export function rollingConfig(config: TargetConfig): Record<string, unknown> {
  return {
    ...Object.fromEntries(ROLLING_TOP_FIELDS.map((k) => [k, config[k] ?? null])),
    subsystems: config.subsystems.map((s) => Object.fromEntries(ROLLING_SUBSYSTEM_FIELDS.map((k) => [k, s[k] ?? null]))),
  };
}
