// The identity digest: which subsystem a state file belongs to. It covers the subsystem NQN and, per
// namespace, nsid, size, block size, UUID, NGUID and EUI-64: what a host uses to recognise the same
// device. Nothing else (listeners, hosts, serial, model, durability) is in it, so editing those keeps
// the state; changing any of these makes the file "another subsystem's" and it is set aside.
//
// Algorithm (version 1; changing it would set aside every deployed state file, so never do):
//   SHA-256 of "nvmeof-operator/state-identity/v1\0" + nqn + "\0", then for each namespace in nsid
//   order: nsid, size, blockSize (decimal), uuid, nguid, eui64 (lowercase hex), each followed by "\0".
import { createHash } from 'node:crypto';
import type { NamespaceIdentity, SubsystemIdentity } from './types.js';

export function sortedNamespaces(id: SubsystemIdentity): NamespaceIdentity[] {
  return [...id.namespaces].sort((a, b) => a.nsid - b.nsid);
}

export function identityDigest(id: SubsystemIdentity): Buffer {
  const h = createHash('sha256');
  h.update(`nvmeof-operator/state-identity/v1\0${id.nqn}\0`, 'utf8');
  for (const ns of sortedNamespaces(id)) {
    const parts = [ns.nsid, ns.size, ns.blockSize].map(String).concat([ns.uuid, ns.nguid, ns.eui64].map((b) => b.toString('hex')));
    h.update(parts.map((p) => `${p}\0`).join(''), 'utf8');
  }
  return h.digest();
}
