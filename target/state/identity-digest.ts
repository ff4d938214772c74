// The identity digest: which subsystem a state file belongs to.
//
// Version 2 (layout 3 and later) covers only what can never change for a subsystem: its NQN. A running
// target's namespaces come, go and grow (live reconfiguration, issue 20), so neither the set of namespaces
// nor a size may be in what says "this file is ours": each namespace's own identity (nsid, block size, UUID,
// NGUID, EUI-64) is in its namespace record, and a start compares the records with the configuration
// (namespace-changes.ts diffNamespaces), keeping the state of every namespace that is still the same device.
//
// Version 1 (layouts 1 and 2) covered the NQN and, per namespace, nsid, size, block size, UUID, NGUID and
// EUI-64; it is kept to recognise those files, which are migrated (prepare.ts).
//
// Algorithms (changing either would set aside every deployed state file of its layouts, so never do):
//   v2: SHA-256 of "nvmeof-operator/state-identity/v2\0" + nqn + "\0".
//   v1: SHA-256 of "nvmeof-operator/state-identity/v1\0" + nqn + "\0", then for each namespace in nsid
//       order: nsid, size, blockSize (decimal), uuid, nguid, eui64 (lowercase hex), each followed by "\0".
import { createHash } from 'node:crypto';
import type { NamespaceIdentity, SubsystemIdentity } from './types.js';

export function sortedNamespaces(id: SubsystemIdentity): NamespaceIdentity[] {
  return [...id.namespaces].sort((a, b) => a.nsid - b.nsid);
}

/** Version 2 (layout 3 and later): the NQN alone. */
export function identityDigest(id: Pick<SubsystemIdentity, 'nqn'>): Buffer {
  return createHash('sha256').update(`nvmeof-operator/state-identity/v2\0${id.nqn}\0`, 'utf8').digest();
}

/** Version 1 (layouts 1 and 2): the NQN and every namespace's identity and size. */
export function identityDigestV1(id: SubsystemIdentity): Buffer {
  const h = createHash('sha256');
  h.update(`nvmeof-operator/state-identity/v1\0${id.nqn}\0`, 'utf8');
  for (const ns of sortedNamespaces(id)) {
    const parts = [ns.nsid, ns.size, ns.blockSize].map(String).concat([ns.uuid, ns.nguid, ns.eui64].map((b) => b.toString('hex')));
    h.update(parts.map((p) => `${p}\0`).join(''), 'utf8');
  }
  return h.digest();
}
