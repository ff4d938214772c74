// DH-HMAC-CHAP secrets in their interchange form (NVMe Base 2.1, 8.3.4.5.8; Linux drivers/nvme/common/auth.c
// nvme_auth_extract_key and nvme_auth_transform_key; nvme-cli's `nvme gen-dhchap-key` prints them):
//   DHHC-1:hh:<base64 of key || CRC-32(key), little-endian>:
// A key is 32, 48 or 64 bytes; the CRC-32 is zlib's (the kernel's ~crc32(~0, key)). `hh` names the
// transformation applied before use: 00 none, 01/02/03 HMAC-SHA-256/384/512 keyed with the key over the NQN
// and "NVMe-over-Fabrics". A secret is never logged or put in an error message: errors say what is wrong
// with it, never what it holds.
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { hashById } from './hashes.js';

export interface DhchapSecret {
  /** 0: used as is; otherwise the HashID of the transformation. */
  hh: number;
  key: Buffer;
}

const KEY_LENGTHS = [32, 48, 64];
const PREFIX = 'DHHC-1:';

/** Parses a DHHC-1 secret (surrounding whitespace allowed, as a file holds it); throws an Error saying why not. */
export function parseDhchapSecret(text: string): DhchapSecret {
  const s = text.trim();
  const m = /^DHHC-1:([0-9a-fA-F]{2}):([A-Za-z0-9+/]+={0,2}):$/.exec(s);
  if (!s.startsWith(PREFIX)) throw new Error('is not a DHHC-1 secret (it must start with "DHHC-1:")');
  if (!m) throw new Error('is not of the form DHHC-1:hh:<base64>:');
  const hh = parseInt(m[1], 16);
  if (hh > 3) throw new Error(`names transformation ${m[1]}; only 00 to 03 exist`);
  const raw = Buffer.from(m[2], 'base64');
  const keyLen = raw.length - 4;
  if (!KEY_LENGTHS.includes(keyLen)) throw new Error(`holds a ${Math.max(0, keyLen)}-byte key; it must be 32, 48 or 64 bytes`);
  const key = raw.subarray(0, keyLen);
  if (raw.readUInt32LE(keyLen) !== crc32(key)) throw new Error('fails its CRC-32 check (the text was damaged or mistyped)');
  return { hh, key: Buffer.from(key) };
}

/** The DHHC-1 text of a key (what `nvme gen-dhchap-key` prints), for tests and tools. */
export function formatDhchapSecret(secret: DhchapSecret): string {
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(secret.key));
  return `${PREFIX}${secret.hh.toString(16).padStart(2, '0')}:${Buffer.concat([secret.key, crc]).toString('base64')}:`;
}

/**
 * The key a response is computed with: the secret itself (hh 00) or HMAC-hh(key, nqn || "NVMe-over-Fabrics").
 * The host key is transformed with the host NQN, the controller key with the subsystem NQN (nvmet_auth_host_hash,
 * nvmet_auth_ctrl_hash).
 */
export function transformKey(secret: DhchapSecret, nqn: string): Buffer {
  if (secret.hh === 0) return secret.key;
  const hash = hashById(secret.hh)!;
  return createHmac(hash.name, secret.key).update(nqn, 'utf8').update('NVMe-over-Fabrics', 'latin1').digest();
}
