// The hash functions of DH-HMAC-CHAP by identifier (NVMe Base 2.1, 8.3.4.5.1; Linux drivers/nvme/common/auth.c
// hash_map): the negotiated HashID picks both the HMAC and the digest that hashes a DH session key.
import { HashId } from '../protocol/auth.js';

export interface HashInfo {
  id: number;
  /** The name used in configuration and logs (nvmet's dhchap_hash says hmac(sha256)). */
  name: 'sha256' | 'sha384' | 'sha512';
  /** Its output length in bytes: HL of every message that uses it. */
  len: number;
}

export const HASHES: readonly HashInfo[] = [
  { id: HashId.Sha256, name: 'sha256', len: 32 },
  { id: HashId.Sha384, name: 'sha384', len: 48 },
  { id: HashId.Sha512, name: 'sha512', len: 64 },
];

export type HashName = HashInfo['name'];
export const HASH_NAMES: readonly HashName[] = HASHES.map((h) => h.name);

export function hashById(id: number): HashInfo | undefined {
  return HASHES.find((h) => h.id === id);
}

export function hashByName(name: string): HashInfo | undefined {
  return HASHES.find((h) => h.name === name);
}
