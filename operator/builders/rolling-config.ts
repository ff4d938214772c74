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

/**
 * Authentication: the DH-HMAC-CHAP hosts (which hosts, their key files, hashes and groups), the TLS PSKs'
 * hosts and files, and the listeners' TLS modes. A running target refuses a change of any of them
 * (target/config/diff.ts: "a field is live only once this diff says how it applies"; a listening address
 * keeps its TLS mode), so they roll the pod. The keys themselves are in files the target re-reads: a key
 * rotated in the Secret changes none of this.
 */
export const ROLLING_AUTH_FIELDS = ['dhchap', 'tlsPsks'] as const satisfies readonly (keyof SubsystemConfig)[];

/** The listeners' TLS modes by address, [] when none has TLS. */
export function listenerTlsModes(s: SubsystemConfig): string[] {
  return s.listeners.flatMap((l) => (l.tls && l.tls !== 'off' ? [`${l.address}:${l.port} ${l.tls}`] : []));
}

/** A subsystem's authentication as hashed; nothing at all without it, so a pod without it keeps its hash. */
function rollingAuth(s: SubsystemConfig): Record<string, unknown> {
  const tls = listenerTlsModes(s);
  const present = ROLLING_AUTH_FIELDS.filter((k) => s[k] !== undefined);
  if (present.length === 0 && tls.length === 0) return {};
  return { auth: { ...Object.fromEntries(present.map((k) => [k, s[k]])), ...(tls.length ? { listenerTls: tls } : {}) } };
}

/** What of `config` the pod's hash covers. */
export function rollingConfig(config: TargetConfig): Record<string, unknown> {
  return {
    ...Object.fromEntries(ROLLING_TOP_FIELDS.map((k) => [k, config[k] ?? null])),
    subsystems: config.subsystems.map((s) => ({ ...Object.fromEntries(ROLLING_SUBSYSTEM_FIELDS.map((k) => [k, s[k] ?? null])), ...rollingAuth(s) })),
  };
}
