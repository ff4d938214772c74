// Namespace identifiers (UUID, NGUID, EUI-64) the operator pins in the target's configuration and
// reports in status. A Linux host drops a namespace whose identifiers change across a reconnect
// ("identifiers changed for nsid"), so they must never change for the life of the resource:
// each is the spec's value when given (the CRD makes it immutable once set), else derived from the
// NQN in use and the nsid with the same algorithm the target uses when it derives them itself
// (target/subsystem/identity.ts, version 1), so a subsystem first served without explicit identifiers
// keeps the ones hosts already saw. Memory namespaces lose their contents at every start, so the
// target gives them new random identifiers and none is pinned here.
//
//   H(kind, parts) = SHA-256("nvmeof-operator/<kind>/v1" + "\0" + parts joined by "\0")
//   uuid  = H("uuid",  [nqn, nsid])[0..16] with RFC 9562 version 8 and variant bits
//   nguid = H("nguid", [nqn, nsid])[0..16]
//   eui64 = H("eui64", [nqn, nsid])[0..8] with byte 0 = (byte 0 & 0xfc) | 0x02
import { createHash } from 'node:crypto';
import type { NamespaceIdentityStatus, NamespaceSpec } from '../api/types.js';

function h(kind: string, nqn: string, nsid: number): Buffer {
  return createHash('sha256').update(`nvmeof-operator/${kind}/v1\0${nqn}\0${nsid}`, 'utf8').digest();
}

export function formatUuid(hex: string): string {
  const x = hex.replace(/-/g, '').toLowerCase();
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function derivedUuid(nqn: string, nsid: number): string {
  const b = h('uuid', nqn, nsid).subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  return formatUuid(b.toString('hex'));
}

export function derivedNguid(nqn: string, nsid: number): string {
  return h('nguid', nqn, nsid).subarray(0, 16).toString('hex');
}

export function derivedEui64(nqn: string, nsid: number): string {
  const b = h('eui64', nqn, nsid).subarray(0, 8);
  b[0] = (b[0] & 0xfc) | 0x02;
  return b.toString('hex');
}

export function namespaceIdentity(nqn: string, ns: NamespaceSpec): NamespaceIdentityStatus {
  const configured = {
    ...(ns.uuid ? { uuid: formatUuid(ns.uuid) } : {}),
    ...(ns.nguid ? { nguid: ns.nguid.toLowerCase() } : {}),
    ...(ns.eui64 ? { eui64: ns.eui64.toLowerCase() } : {}),
  };
  if (ns.backing.memory) return { nsid: ns.nsid, volatile: true, ...configured };
  return {
    nsid: ns.nsid,
    uuid: configured.uuid ?? derivedUuid(nqn, ns.nsid),
    nguid: configured.nguid ?? derivedNguid(nqn, ns.nsid),
    eui64: configured.eui64 ?? derivedEui64(nqn, ns.nsid),
  };
}
