// Uniqueness of what hosts identify storage by, across the subsystems the operator watches: an NQN, each
// namespace UUID, NGUID and EUI-64 (those of retired namespaces too), and a block device on a node belong
// to one namespace of one subsystem. A multipath host merges namespaces with equal identifiers into one
// device, so two subsystems presenting the same identity over different data corrupt both. Pure.
//
// Who wins: a subsystem that is serving (a Ready target pod), then the older resource, then the smaller
// namespace/name; so a subsystem already serving is never stopped because another appeared, and the
// decision is stable across reconciles and operator restarts. A loser claims nothing: it cannot make a
// third resource lose.
import type { NamespaceIdentityStatus, RetiredNamespaceStatus } from '../api/types.js';

export interface IdentityClaim {
  key: string;
  createdAt: string;
  serving: boolean;
  nqn: string;
  namespaces: readonly NamespaceIdentityStatus[];
  retired: readonly RetiredNamespaceStatus[];
  /** Block devices; node absent while the subsystem is not placed (then any node's claim clashes). */
  devices: readonly { node?: string; device: string }[];
}

export interface IdentityConflict {
  /** The other resource, namespace/name. */
  with: string;
  /** What clashes, e.g. "uuid 0f...", "NQN nqn....", "block device /dev/sdb on node n1". */
  what: string;
  /** Where the other resource has it, e.g. "nsid 2", "retired nsid 1". */
  where: string;
}

interface Holder {
  key: string;
  where: string;
}

function order(a: IdentityClaim, b: IdentityClaim): number {
  return Number(b.serving) - Number(a.serving) || a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key);
}

const ID_FIELDS = ['uuid', 'nguid', 'eui64'] as const;

/** Every identity value a claim holds, with where it holds it. */
function valuesOf(c: IdentityClaim): { value: string; what: string; where: string }[] {
  const out = [{ value: `nqn\0${c.nqn}`, what: `NQN ${c.nqn}`, where: 'its NQN' }];
  const add = (n: { nsid: number; uuid?: string; nguid?: string; eui64?: string }, where: string) => {
    for (const f of ID_FIELDS) {
      const v = n[f];
      if (v) out.push({ value: `${f}\0${v.toLowerCase()}`, what: `${f} ${v.toLowerCase()}`, where });
    }
  };
  for (const n of c.namespaces) if (!n.volatile || n.uuid || n.nguid || n.eui64) add(n, `nsid ${n.nsid}`);
  for (const r of c.retired) add(r, `retired nsid ${r.nsid}${r.incarnation ? ` (incarnation ${r.incarnation})` : ''}`);
  return out;
}

export function findIdentityConflicts(claims: readonly IdentityClaim[]): Map<string, IdentityConflict> {
  const conflicts = new Map<string, IdentityConflict>();
  const taken = new Map<string, Holder>();
  const devices = new Map<string, { node?: string; holder: Holder }[]>();
  for (const c of [...claims].sort(order)) {
    const mine = valuesOf(c);
    const clash = mine.map((v) => ({ v, h: taken.get(v.value) })).find((x) => x.h && x.h.key !== c.key);
    if (clash?.h) {
      conflicts.set(c.key, { with: clash.h.key, what: clash.v.what, where: clash.h.where });
      continue;
    }
    const dev = c.devices
      .map((d) => ({ d, h: devices.get(d.device)?.find((x) => x.holder.key !== c.key && (!x.node || !d.node || x.node === d.node)) }))
      .find((x) => x.h);
    if (dev?.h) {
      const on = dev.h.node ?? dev.d.node;
      conflicts.set(c.key, { with: dev.h.holder.key, what: `block device ${dev.d.device}${on ? ` on node ${on}` : ''}`, where: dev.h.holder.where });
      continue;
    }
    for (const v of mine) if (!taken.has(v.value)) taken.set(v.value, { key: c.key, where: v.where });
    for (const d of c.devices) {
      const list = devices.get(d.device) ?? [];
      list.push({ ...(d.node ? { node: d.node } : {}), holder: { key: c.key, where: 'a namespace' } });
      devices.set(d.device, list);
    }
  }
  return conflicts;
}

/**
 * Identity values used twice within one subsystem: by two namespaces, or by a namespace and a retired
 * namespace (over other data: a nsid added back over its old data takes its retired record back first).
 * Undefined when there is none.
 */
export function ownDuplicate(identities: readonly NamespaceIdentityStatus[], retired: readonly RetiredNamespaceStatus[]): string | undefined {
  const seen = new Map<string, string>();
  const entries = [
    ...identities.map((n) => ({ n, where: `nsid ${n.nsid}` })),
    ...retired.map((r) => ({ n: r as NamespaceIdentityStatus, where: `retired nsid ${r.nsid}${r.incarnation ? ` (incarnation ${r.incarnation})` : ''}` })),
  ];
  for (const { n, where } of entries) {
    for (const f of ID_FIELDS) {
      const v = n[f]?.toLowerCase();
      if (!v) continue;
      const prev = seen.get(`${f}\0${v}`);
      if (prev) return `${f} ${v} is both ${prev}'s and ${where}'s: each namespace needs identifiers of its own`;
      seen.set(`${f}\0${v}`, where);
    }
  }
  return undefined;
}
