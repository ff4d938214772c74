// What changed in a subsystem's namespace set between the state file and the configuration: pure
// functions, so recovery can keep the subsystem's state through a namespace edit and say precisely why.
//
// Invariants:
//  - a namespace is the same one only if its nsid, UUID, NGUID, EUI-64 and block size are: that is how a
//    host recognises it (NVMe Base 2.0, 4.7 "Namespace identifiers"; Linux nvme_ns_ids_equal), so its
//    per-namespace state (reservations, registrants) is kept only then;
//  - a size change keeps the namespace (a host sees a capacity change of the same device, as after an
//    "nvme ns-rescan"); it is reported as grew or shrank, never dropped;
//  - nothing here concerns the subsystem as a whole (controllers, cntlid allocator, counters): those
//    belong to the NQN and are kept whenever the NQN is the same.
import { identityDigestV1 } from './identity-digest.js';
import type { NamespaceIdentity, SubsystemIdentity } from './types.js';

/** The identity fields whose change makes a namespace another device (size is not one of them). */
export type ReplacedField = 'blockSize' | 'uuid' | 'nguid' | 'eui64';

export interface NamespaceChanges {
  /** nsids configured now and absent from the file. */
  added: number[];
  /** nsids in the file and no longer configured: their per-namespace state is dropped. */
  removed: number[];
  /** Same namespace, larger: state kept. Bytes. */
  grown: Array<{ nsid: number; fromBytes: number; toBytes: number }>;
  /** Same namespace, smaller: state kept. Bytes. */
  shrunk: Array<{ nsid: number; fromBytes: number; toBytes: number }>;
  /** Same nsid, another device (an identity field differs): its per-namespace state is dropped. */
  replaced: Array<{ nsid: number; fields: ReplacedField[] }>;
}

const IDENTITY_FIELDS: ReplacedField[] = ['blockSize', 'uuid', 'nguid', 'eui64'];

function fieldDiffers(a: NamespaceIdentity, b: NamespaceIdentity, f: ReplacedField): boolean {
  return f === 'blockSize' ? a.blockSize !== b.blockSize : !a[f].equals(b[f]);
}

/** The changes from the namespaces the file holds (`before`) to the configured ones (`after`), in nsid order. */
export function diffNamespaces(before: readonly NamespaceIdentity[], after: readonly NamespaceIdentity[]): NamespaceChanges {
  const old = new Map(before.map((n) => [n.nsid, n]));
  const now = new Map(after.map((n) => [n.nsid, n]));
  const byNsid = (a: number, b: number) => a - b;
  const c: NamespaceChanges = {
    added: [...now.keys()].filter((nsid) => !old.has(nsid)).sort(byNsid),
    removed: [...old.keys()].filter((nsid) => !now.has(nsid)).sort(byNsid),
    grown: [], shrunk: [], replaced: [],
  };
  for (const nsid of [...now.keys()].sort(byNsid)) {
    const a = old.get(nsid);
    const b = now.get(nsid)!;
    if (!a) continue;
    const fields = IDENTITY_FIELDS.filter((f) => fieldDiffers(a, b, f));
    if (fields.length) c.replaced.push({ nsid, fields });
    else if (b.size > a.size) c.grown.push({ nsid, fromBytes: a.size, toBytes: b.size });
    else if (b.size < a.size) c.shrunk.push({ nsid, fromBytes: a.size, toBytes: b.size });
  }
  return c;
}

/**
 * The namespace changes of a layout-1 or layout-2 file (identity digest v1, which covered the namespaces)
 * whose digest is not the configured identity's, when the file is this subsystem's all the same: the v1
 * digest of the configured NQN over the namespace records the file holds is the file's digest (so the NQN is
 * the same and the records are the ones the digest was made of; this also recognises layout-1 files, which
 * did not record the NQN). Undefined otherwise: another subsystem's file, or records that disagree with
 * their digest. (Layout 3's digest is the NQN's alone: its changes are diffNamespaces of its records.)
 */
export function namespaceChangesOf(fileDigest: Buffer, fileNamespaces: readonly NamespaceIdentity[], configured: SubsystemIdentity): NamespaceChanges | undefined {
  if (!identityDigestV1({ nqn: configured.nqn, namespaces: [...fileNamespaces] }).equals(fileDigest)) return undefined;
  return diffNamespaces(fileNamespaces, configured.namespaces);
}

export function hasNamespaceChanges(c: NamespaceChanges): boolean {
  return c.added.length + c.removed.length + c.grown.length + c.shrunk.length + c.replaced.length > 0;
}

/** nsids whose per-namespace state must go: removed, or replaced by another device under the same nsid. */
export function nsidsLosingState(c: NamespaceChanges): Set<number> {
  return new Set([...c.removed, ...c.replaced.map((r) => r.nsid)]);
}

/** One line for the log and /recovery: "added nsid 3; removed nsid 2; nsid 1 grew 16777216 -> 33554432 bytes". */
export function describeNamespaceChanges(c: NamespaceChanges): string {
  const parts: string[] = [];
  if (c.added.length) parts.push(`added nsid ${c.added.join(', ')}`);
  if (c.removed.length) parts.push(`removed nsid ${c.removed.join(', ')}`);
  for (const g of c.grown) parts.push(`nsid ${g.nsid} grew ${g.fromBytes} -> ${g.toBytes} bytes`);
  for (const s of c.shrunk) parts.push(`nsid ${s.nsid} shrank ${s.fromBytes} -> ${s.toBytes} bytes`);
  for (const r of c.replaced) parts.push(`nsid ${r.nsid} replaced (${r.fields.join(', ')} changed)`);
  return parts.length ? parts.join('; ') : 'none';
}
