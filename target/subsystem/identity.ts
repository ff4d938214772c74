// Deterministic identities, so that a restarted target (any version) presents the same subsystem and
// namespaces and the Linux host never logs "identifiers changed" and drops the namespace.
//
// Algorithm (version 1; changing it would change every deployed namespace's identity, so never do):
//   H(kind, parts) = SHA-256 of the UTF-8 string "nvmeof-operator/<kind>/v1" + "\0" + parts joined by "\0"
//   serial = first 20 hex digits of H("serial", [nqn])                       (20 ASCII characters)
//   uuid   = first 16 bytes of H("uuid",  [nqn, nsid]) with the RFC 9562 version 8 and variant bits set
//   nguid  = first 16 bytes of H("nguid", [nqn, nsid])
//   eui64  = first 8 bytes of H("eui64", [nqn, nsid]) with byte 0 = (byte 0 & 0xfc) | 0x02 (locally administered, unicast)
// where nsid is written in decimal. A nsid removed and added back over other data is a new namespace: its
// incarnation k (k >= 1, counted by the operator) joins the parts as a third part "incarnation=<k>", so it
// never shows the identity hosts knew for the old data; incarnation 0 is the unchanged derivation above. A memory namespace instead gets random identifiers of the same shape at
// every start: its contents do not survive, so a host must never mistake it for the namespace it wrote.
import { createHash, randomBytes } from 'node:crypto';

export interface NamespaceIds {
  uuid: Buffer; // 16 bytes
  nguid: Buffer; // 16 bytes
  eui64: Buffer; // 8 bytes
}

function h(kind: string, parts: string[]): Buffer {
  return createHash('sha256').update(`nvmeof-operator/${kind}/v1\0${parts.join('\0')}`, 'utf8').digest();
}

function shapeUuid(b: Buffer): Buffer {
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  return b;
}

function shapeEui64(b: Buffer): Buffer {
  b[0] = (b[0] & 0xfc) | 0x02;
  return b;
}

export function deriveSerial(nqn: string): string {
  return h('serial', [nqn]).toString('hex').slice(0, 20);
}

export function deriveNamespaceIds(nqn: string, nsid: number, incarnation = 0): NamespaceIds {
  const parts = incarnation === 0 ? [nqn, String(nsid)] : [nqn, String(nsid), `incarnation=${incarnation}`];
  return {
    uuid: shapeUuid(h('uuid', parts).subarray(0, 16)),
    nguid: Buffer.from(h('nguid', parts).subarray(0, 16)),
    eui64: shapeEui64(h('eui64', parts).subarray(0, 8)),
  };
}

export function randomNamespaceIds(): NamespaceIds {
  return {
    uuid: shapeUuid(randomBytes(16)),
    nguid: randomBytes(16),
    eui64: shapeEui64(randomBytes(8)),
  };
}

/** Configured identifiers (hex) override derived ones one by one. */
export function namespaceIds(
  nqn: string, nsid: number, volatile: boolean, configured: { uuid?: string; nguid?: string; eui64?: string },
): NamespaceIds {
  const base = volatile ? randomNamespaceIds() : deriveNamespaceIds(nqn, nsid);
  return {
    uuid: configured.uuid ? Buffer.from(configured.uuid.replace(/-/g, ''), 'hex') : base.uuid,
    nguid: configured.nguid ? Buffer.from(configured.nguid, 'hex') : base.nguid,
    eui64: configured.eui64 ? Buffer.from(configured.eui64, 'hex') : base.eui64,
  };
}

/** The 8-4-4-4-12 form of a UUID given as its 16 bytes or as 32 hex digits (any case, dashes anywhere). */
export function formatUuid(id: Buffer | string): string {
  const x = typeof id === 'string' ? id.replace(/-/g, '').toLowerCase() : id.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
