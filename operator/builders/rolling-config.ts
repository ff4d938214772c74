// The part of the target's configuration a running target is not asked to change: it rolls the pod.
// Everything else in the file (namespaces added, removed or grown, hosts, listeners but their TLS mode,
// DH-HMAC-CHAP hosts and TLS PSKs, the log level, the generation) is applied live by the running target (issue 20's contract, 2), which
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

/**
 * The listeners' TLS modes: a running target keeps a listening address's TLS mode (target/config/diff.ts) and
 * sets TLS up only at start, so a change rolls the pod. The DH-HMAC-CHAP hosts and TLS PSKs (which hosts,
 * their key files) are live (the target reads and checks the new files before it applies the change), and
 * the keys themselves are in files the target re-reads: neither is hashed.
 */
export function listenerTlsModes(s: SubsystemConfig): string[] {
  return s.listeners.flatMap((l) => (l.tls && l.tls !== 'off' ? [`${l.address}:${l.port} ${l.tls}`] : []));
}

/** The TLS modes as hashed; nothing at all without TLS, so a pod without it keeps its hash. */
function rollingTls(s: SubsystemConfig): Record<string, unknown> {
  const tls = listenerTlsModes(s);
  return tls.length ? { listenerTls: tls } : {};
}

/** What of `config` the pod's hash covers. */
export function rollingConfig(config: TargetConfig): Record<string, unknown> {
  return {
    ...Object.fromEntries(ROLLING_TOP_FIELDS.map((k) => [k, config[k] ?? null])),
    subsystems: config.subsystems.map((s) => ({ ...Object.fromEntries(ROLLING_SUBSYSTEM_FIELDS.map((k) => [k, s[k] ?? null])), ...rollingTls(s) })),
  };
}
