// The NQN a subsystem uses when its spec names none. Derived from namespace and name only, so the
// same resource always gets the same NQN (and a recreated operator finds it again); recorded in
// status.nqn so a later change of this function never renames a subsystem hosts already know.
// NVMe Base Specification 4.5: an NQN is at most 223 bytes.
import { shortHash } from './names.js';

export const NQN_MAX_BYTES = 223;
export const DERIVED_NQN_PREFIX = 'nqn.2024-01.io.nvmeof:';

export function deriveNqn(namespace: string, name: string): string {
  const full = `${DERIVED_NQN_PREFIX}${namespace}:${name}`;
  if (Buffer.byteLength(full, 'utf8') <= NQN_MAX_BYTES) return full;
  // Keep a readable head and make the tail unique: the hash covers the full namespace and name.
  const tail = `-${shortHash(`${namespace}/${name}`, 16)}`;
  return full.slice(0, NQN_MAX_BYTES - tail.length) + tail;
}

/** The NQN in use: the spec's, else the one recorded when first derived, else a derived one. */
export function nqnInUse(spec: { nqn?: string }, status: { nqn?: string } | undefined, namespace: string, name: string): string {
  return spec.nqn ?? status?.nqn ?? deriveNqn(namespace, name);
}
