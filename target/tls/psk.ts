// NVMe/TCP TLS pre-shared keys (NVMe/TCP Transport Specification 1.1, 3.6.1; TP 8011, TP 8018), pure functions:
// the PSK interchange format, the retained PSK, the PSK digest, the TLS PSK and the PSK identity strings,
// exactly as the Linux host side derives them (libnvme src/nvme/linux.c: derive_retained_key,
// derive_psk_digest, gen_tls_identity, derive_tls_key; nvme-cli `gen-tls-key`, `check-tls-key --insert`).
// The kernel host (6.12, drivers/nvme/host/tcp.c nvme_tcp_start_tls) derives nothing itself: it hands tlshd
// the key libnvme inserted into the .nvme keyring, whose payload is the TLS PSK and whose description is the
// identity offered in the ClientHello. So for a configured PSK this target computes the same TLS PSK for the
// identity the host offers.
// Invariants: every function here is deterministic and touches no file or socket; a key of a hash this
// target cannot serve (SHA-384) is refused when parsed, never half-accepted.
import { createHmac, hkdfSync } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The hash of the TLS cipher suite a PSK belongs to (the identity's "hh"): 01 SHA-256 only, see below. */
export const PSK_HASH_SHA256 = 1;
const SHA256_KEY_BYTES = 32;
const SEED = 'NVMe-over-Fabrics';

/** A configured PSK from the interchange format. `transform` 0: used as the retained PSK as is; 1: HKDF SHA-256. */
export interface ConfiguredPsk {
  transform: 0 | 1;
  key: Buffer;
}

/**
 * Parses `NVMeTLSkey-1:hh:<base64 of key || CRC-32 (little-endian)>:` (nvme-cli `gen-tls-key`; libnvme
 * nvme_import_tls_key_versioned). hh 00 or 01 with a 32-byte key are accepted; hh 02 and 48-byte keys
 * (SHA-384, TLS_AES_256_GCM_SHA384) are refused: Node's TLS 1.3 server does not complete a handshake with an
 * external PSK under that suite (checked: target/tls/README), so such a key could never be used.
 * Throws an Error saying what is wrong, never quoting the key.
 */
export function parseInterchangePsk(text: string): ConfiguredPsk {
  const m = /^NVMeTLSkey-1:([0-9]{2}):([A-Za-z0-9+/=]+):$/.exec(text.trim());
  if (!m) throw new Error('not a PSK in the interchange format NVMeTLSkey-1:hh:<base64>:');
  const hh = Number(m[1]);
  const raw = Buffer.from(m[2], 'base64');
  if (raw.length < 4) throw new Error('the PSK interchange format is too short');
  const key = raw.subarray(0, raw.length - 4);
  if (crc32(key) !== raw.readUInt32LE(raw.length - 4)) throw new Error('the PSK\'s CRC-32 does not match (a mistyped or truncated key)');
  if (hh === 2 || key.length === 48) {
    throw new Error('SHA-384 PSKs (hh 02, 48 bytes, TLS_AES_256_GCM_SHA384) are not supported: Node\'s TLS 1.3 completes an external-PSK handshake only with TLS_AES_128_GCM_SHA256; use a SHA-256 key (nvme gen-tls-key --hmac=1)');
  }
  if (hh !== 0 && hh !== 1) throw new Error(`unknown PSK hash ${m[1]} (00 none, 01 SHA-256)`);
  if (key.length !== SHA256_KEY_BYTES) throw new Error(`a SHA-256 PSK has ${SHA256_KEY_BYTES} bytes, this one ${key.length}`);
  return { transform: hh, key: Buffer.from(key) };
}

/** The interchange text of a key (the inverse of parseInterchangePsk), for tests and tools. */
export function formatInterchangePsk(psk: ConfiguredPsk): string {
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(psk.key));
  return `NVMeTLSkey-1:0${psk.transform}:${Buffer.concat([psk.key, crc]).toString('base64')}:`;
}

/**
 * How the host's libnvme lays out HKDF-Expand-Label's info. 'rfc8446' is RFC 8446 7.1's HkdfLabel:
 * uint16 length (big-endian) || uint8 len || "tls13 " label || uint8 len || context (libnvme 1.14 and later).
 * 'compat' is what libnvme up to 1.13 sends (nvme-cli 2.13, Debian trixie; later nvme-cli's `--compat`):
 * uint16 length (little-endian) || "tls13 " label || context, no length bytes. The identity is the same in
 * both, so a target cannot tell them apart: the key's configuration says which (checked against nvme-cli 2.13's
 * own keys in psk.test.ts).
 */
export type PskDerivation = 'compat' | 'rfc8446';
export const PSK_DERIVATIONS: readonly PskDerivation[] = ['compat', 'rfc8446'];

/** HKDF-Extract(0, ikm) then HKDF-Expand-Label(PRK, label, context, length) with SHA-256, in either layout. */
export function hkdfExtractExpandLabel(layout: PskDerivation, ikm: Buffer, label: string, context: Buffer, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'ascii');
  const info = layout === 'rfc8446'
    ? Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([context.length]), context])
    : Buffer.concat([Buffer.from([length & 0xff, length >> 8]), full, context]);
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, length));
}

/** The retained PSK: the configured key itself (transform 0) or HKDF-Expand-Label(.., "HostNQN", hostnqn). */
export function retainedPsk(layout: PskDerivation, psk: ConfiguredPsk, hostNqn: string): Buffer {
  if (psk.transform === 0) return psk.key;
  return hkdfExtractExpandLabel(layout, psk.key, 'HostNQN', Buffer.from(hostNqn, 'utf8'), psk.key.length);
}

/** The PSK digest of a version-1 identity: base64(HMAC-SHA256(retained, "<hostnqn> <subnqn> NVMe-over-Fabrics")). */
export function pskDigest(retained: Buffer, hostNqn: string, subNqn: string): string {
  return createHmac('sha256', retained).update(`${hostNqn} ${subNqn} ${SEED}`).digest('base64');
}

/** A PSK identity as offered by the host: `NVMe<v>R<hh> <hostnqn> <subnqn>[ <digest>]` (R: retained, not generated). */
export interface PskIdentity {
  version: 0 | 1;
  hash: number;
  hostNqn: string;
  subNqn: string;
  /** Version 1 only. */
  digest?: string;
}

export function formatIdentity(id: PskIdentity): string {
  const base = `NVMe${id.version}R${String(id.hash).padStart(2, '0')} ${id.hostNqn} ${id.subNqn}`;
  return id.version === 1 ? `${base} ${id.digest}` : base;
}

/**
 * Parses an identity a host offered; undefined for anything else (a generated PSK "NVMe0G..", which needs
 * DH-HMAC-CHAP's secure concatenation, out of scope; another hash; garbage). NQNs contain no space.
 */
export function parseIdentity(text: string): PskIdentity | undefined {
  const m = /^NVMe([01])R([0-9]{2}) (\S+) (\S+)(?: (\S+))?$/.exec(text);
  if (!m) return undefined;
  const version = Number(m[1]) as 0 | 1;
  if ((version === 1) !== (m[5] !== undefined)) return undefined;
  return { version, hash: Number(m[2]), hostNqn: m[3], subNqn: m[4], ...(version === 1 ? { digest: m[5] } : {}) };
}

/**
 * The TLS PSK for an identity: HKDF-Expand-Label(HKDF-Extract(0, retained), "nvme-tls-psk", context, 32),
 * the context being the identity itself (version 0) or "01 <digest>" (version 1).
 */
export function tlsPsk(layout: PskDerivation, retained: Buffer, id: PskIdentity): Buffer {
  const context = id.version === 0 ? formatIdentity(id) : `${String(id.hash).padStart(2, '0')} ${id.digest}`;
  return hkdfExtractExpandLabel(layout, retained, 'nvme-tls-psk', Buffer.from(context, 'utf8'), retained.length);
}

/** The identities a host may offer for this key, host and subsystem, with the TLS PSK of each. */
export function hostIdentities(layout: PskDerivation, psk: ConfiguredPsk, hostNqn: string, subNqn: string): Array<{ identity: string; key: Buffer }> {
  const retained = retainedPsk(layout, psk, hostNqn);
  return [0, 1].map((version) => {
    const id: PskIdentity = { version: version as 0 | 1, hash: PSK_HASH_SHA256, hostNqn, subNqn };
    if (version === 1) id.digest = pskDigest(retained, hostNqn, subNqn);
    return { identity: formatIdentity(id), key: tlsPsk(layout, retained, id) };
  });
}
