// Which identifiers each namespace of a subsystem presents, from the spec and what status records was
// issued before. Pure. status.namespaces is the record of what hosts were shown; status.retiredNamespaces
// remembers namespaces that left the spec.
//
// Invariants:
// - a namespace whose nsid and backing are unchanged keeps its identifiers for the life of the resource
//   (a Linux host drops a namespace whose identifiers change across a reconnect);
// - identifiers are never shown over data other than the data they were issued for: a nsid whose backing
//   differs from the recorded one (removed and added back over another file, in one apply or two) is a new
//   incarnation, and its derived identifiers include the incarnation (target/subsystem/identity.ts);
// - a nsid added back over the backing it had when it was retired gets its old identifiers back: same data,
//   same identity;
// - records written before incarnations existed (no backing recorded) are taken as issued for the spec's
//   backing: an upgrade never changes a deployed namespace's identifiers;
// - memory namespaces are volatile: the target gives them new identifiers at every start; only explicitly
//   configured identifiers are recorded for them.
import { deriveNamespaceIds, formatUuid } from '../../target/contract.js';
import type { BackingSpec, NamespaceIdentityStatus, NamespaceSpec, RetiredNamespaceStatus } from '../api/types.js';

/** Retired records kept; beyond it the oldest go, but each nsid's highest incarnation is always kept. */
export const RETIRED_MAX = 256;

export interface IssuedIdentities {
  identities: NamespaceIdentityStatus[];
  retired: RetiredNamespaceStatus[];
}

/** The backing as recorded: only what names the data (kind and path or device). */
export function backingOf(b: BackingSpec | undefined): BackingSpec {
  if (b?.file) return { file: { path: b.file.path } };
  if (b?.block) return { block: { device: b.block.device } };
  return { memory: {} };
}

export function sameBacking(a: BackingSpec | undefined, b: BackingSpec | undefined): boolean {
  const x = backingOf(a);
  const y = backingOf(b);
  return x.file?.path === y.file?.path && x.block?.device === y.block?.device && Boolean(x.memory) === Boolean(y.memory);
}

/** Human form of a backing, for messages. */
export function describeBacking(b: BackingSpec | undefined): string {
  const x = backingOf(b);
  return x.file ? `file ${x.file.path}` : x.block ? `block device ${x.block.device}` : 'memory';
}

function configured(ns: NamespaceSpec): Pick<NamespaceIdentityStatus, 'uuid' | 'nguid' | 'eui64'> {
  return {
    ...(ns.uuid ? { uuid: formatUuid(ns.uuid) } : {}),
    ...(ns.nguid ? { nguid: ns.nguid.toLowerCase() } : {}),
    ...(ns.eui64 ? { eui64: ns.eui64.toLowerCase() } : {}),
  };
}

/** The identifiers of a namespace of the given incarnation: configured ones first, else derived. */
export function identityFor(nqn: string, ns: NamespaceSpec, incarnation: number): NamespaceIdentityStatus {
  const backing = backingOf(ns.backing);
  const inc = incarnation > 0 ? { incarnation } : {};
  if (backing.memory) return { nsid: ns.nsid, volatile: true, ...inc, backing, ...configured(ns) };
  const c = configured(ns);
  const d = deriveNamespaceIds(nqn, ns.nsid, incarnation);
  return {
    nsid: ns.nsid,
    ...inc,
    backing,
    uuid: c.uuid ?? formatUuid(d.uuid),
    nguid: c.nguid ?? d.nguid.toString('hex'),
    eui64: c.eui64 ?? d.eui64.toString('hex'),
  };
}

function retire(rec: NamespaceIdentityStatus, now: string): RetiredNamespaceStatus {
  return {
    nsid: rec.nsid,
    ...(rec.incarnation ? { incarnation: rec.incarnation } : {}),
    ...(rec.uuid ? { uuid: rec.uuid } : {}),
    ...(rec.nguid ? { nguid: rec.nguid } : {}),
    ...(rec.eui64 ? { eui64: rec.eui64 } : {}),
    ...(rec.backing ? { backing: rec.backing } : {}),
    retiredAt: now,
  };
}

/** Oldest first beyond RETIRED_MAX, keeping each nsid's highest incarnation (the counter must not go back). */
export function boundRetired(retired: RetiredNamespaceStatus[], max = RETIRED_MAX): RetiredNamespaceStatus[] {
  if (retired.length <= max) return retired;
  const top = new Map<number, RetiredNamespaceStatus>();
  for (const r of retired) {
    const t = top.get(r.nsid);
    if (!t || (r.incarnation ?? 0) >= (t.incarnation ?? 0)) top.set(r.nsid, r);
  }
  const keep = new Set(top.values());
  const byAge = [...retired].sort((a, b) => (a.retiredAt ?? '').localeCompare(b.retiredAt ?? ''));
  let excess = retired.length - max;
  const drop = new Set<RetiredNamespaceStatus>();
  for (const r of byAge) {
    if (excess <= 0) break;
    if (keep.has(r)) continue;
    drop.add(r);
    excess--;
  }
  return retired.filter((r) => !drop.has(r));
}

/**
 * Identifiers for every namespace of the spec, and the retired records after this spec: what status
 * records once the plan is carried out. Deterministic for the same inputs except `now` (retiredAt).
 */
export function issueIdentities(
  nqn: string,
  spec: readonly NamespaceSpec[],
  recorded: readonly NamespaceIdentityStatus[] | undefined,
  retiredBefore: readonly RetiredNamespaceStatus[] | undefined,
  now: string,
): IssuedIdentities {
  let retired = [...(retiredBefore ?? [])];
  const identities: NamespaceIdentityStatus[] = [];
  const highest = (nsid: number) => Math.max(-1, ...retired.filter((r) => r.nsid === nsid).map((r) => r.incarnation ?? 0));
  for (const ns of spec) {
    const rec = recorded?.find((r) => r.nsid === ns.nsid);
    if (rec && (rec.backing === undefined || sameBacking(rec.backing, ns.backing))) {
      // Issued before for this data: keep what hosts saw (configured identifiers are immutable once set).
      const again = identityFor(nqn, ns, rec.incarnation ?? 0);
      identities.push(again.volatile ? again : { ...again, ...configuredOrRecorded(ns, rec) });
      continue;
    }
    if (rec) retired.push(retire(rec, now));
    // Added back over the data it had when retired: its old identity returns with it.
    const back = [...retired].reverse().find((r) => r.nsid === ns.nsid && sameBacking(r.backing, ns.backing));
    if (back && !backingOf(ns.backing).memory) {
      retired = retired.filter((r) => r !== back);
      const again = identityFor(nqn, ns, back.incarnation ?? 0);
      identities.push({ ...again, ...pick(back), ...configured(ns) });
      continue;
    }
    identities.push(identityFor(nqn, ns, highest(ns.nsid) + 1));
  }
  for (const rec of recorded ?? []) {
    if (!spec.some((n) => n.nsid === rec.nsid)) retired.push(retire(rec, now));
  }
  return { identities, retired: boundRetired(retired) };
}

function pick(r: { uuid?: string; nguid?: string; eui64?: string }): Pick<NamespaceIdentityStatus, 'uuid' | 'nguid' | 'eui64'> {
  return { ...(r.uuid ? { uuid: r.uuid } : {}), ...(r.nguid ? { nguid: r.nguid } : {}), ...(r.eui64 ? { eui64: r.eui64 } : {}) };
}

function configuredOrRecorded(ns: NamespaceSpec, rec: NamespaceIdentityStatus): Pick<NamespaceIdentityStatus, 'uuid' | 'nguid' | 'eui64'> {
  return { ...pick(rec), ...configured(ns) };
}
