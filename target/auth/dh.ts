// Finite-field Diffie-Hellman for DH-HMAC-CHAP over the RFC 7919 groups (ffdhe.ts).
// Why KeyObjects: crypto.createDiffieHellman(prime, 2) runs OpenSSL's DH_check on every construction, a
// primality test of the prime that took 0.66 s for ffdhe2048 and 64 s for ffdhe8192 on this machine;
// generateKeyPairSync('dh', {prime, generator}) and crypto.diffieHellman() do not, and take under 10 ms.
// A peer's public value becomes a KeyObject through its SubjectPublicKeyInfo (RFC 3279 dhpublicnumber is
// X9.42; OpenSSL's PKCS#3 form is the OID 1.2.840.113549.1.3.1 with SEQUENCE {p, g}).
// Values on the wire are big-endian and exactly as long as the prime (nvme_auth_gen_pubkey and
// nvme_auth_gen_shared_secret fill the whole buffer), so ours are left-padded with zeros to that length.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { FFDHE_GENERATOR, type DhGroup } from './ffdhe.js';

const DH_KEY_AGREEMENT_OID = Buffer.from('06092a864886f70d010301', 'hex');

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, value: Buffer) => Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
function derUint(v: Buffer): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const digits = v.subarray(i);
  return tlv(0x02, digits[0] & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits);
}

/** Reads one DER element at `at`: its tag, where its value starts and ends. */
function derAt(b: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = b[at];
  let len = b[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = b.readUIntBE(start, n);
    start += n;
  }
  return { tag, start, end: start + len };
}

export function padTo(v: Buffer, size: number): Buffer {
  if (v.length === size) return v;
  if (v.length > size) throw new Error(`DH value of ${v.length} bytes is longer than the group's ${size}`);
  return Buffer.concat([Buffer.alloc(size - v.length), v]);
}

function publicValueOf(key: KeyObject, size: number): Buffer {
  const spki = key.export({ format: 'der', type: 'spki' });
  const outer = derAt(spki, 0);
  const algorithm = derAt(spki, outer.start);
  const bits = derAt(spki, algorithm.end); // BIT STRING: one byte of unused bits, then INTEGER y
  const y = derAt(spki, bits.start + 1);
  let digits = spki.subarray(y.start, y.end);
  while (digits.length > 1 && digits[0] === 0) digits = digits.subarray(1); // DER's sign byte
  return padTo(digits, size);
}

export interface DhKeyPair {
  /** Our public value g^x mod p, as long as the prime. */
  publicValue: Buffer;
  privateKey: KeyObject;
}

export function generateDhKeyPair(group: DhGroup): DhKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('dh', { prime: group.prime, generator: FFDHE_GENERATOR });
  return { publicValue: publicValueOf(publicKey, group.prime.length), privateKey };
}

/**
 * The shared secret (the DH-HMAC-CHAP session key) with a peer's public value, as long as the prime. Throws
 * when the value is not one of the group (OpenSSL refuses 0, 1, p-1 and values of p or more).
 */
/** A key pair from a given private exponent (big-endian): for known-answer tests. */
export function dhKeyPairFromPrivate(group: DhGroup, x: Buffer): DhKeyPair {
  const pkcs8 = tlv(0x30, Buffer.concat([
    derUint(Buffer.from([0])),
    tlv(0x30, Buffer.concat([DH_KEY_AGREEMENT_OID, groupParams(group)])),
    tlv(0x04, derUint(x)),
  ]));
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return { publicValue: publicValueOf(createPublicKey(privateKey), group.prime.length), privateKey };
}

function groupParams(group: DhGroup): Buffer {
  return tlv(0x30, Buffer.concat([derUint(group.prime), derUint(Buffer.from([FFDHE_GENERATOR]))]));
}

export function dhSharedSecret(group: DhGroup, privateKey: KeyObject, peerValue: Buffer): Buffer {
  if (peerValue.length === 0 || peerValue.length > group.prime.length) throw new Error(`DH value of ${peerValue.length} bytes for a ${group.prime.length}-byte group`);
  const spki = tlv(0x30, Buffer.concat([
    tlv(0x30, Buffer.concat([DH_KEY_AGREEMENT_OID, groupParams(group)])),
    tlv(0x03, Buffer.concat([Buffer.from([0]), derUint(peerValue)])),
  ]));
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return padTo(diffieHellman({ privateKey, publicKey }), group.prime.length);
}
