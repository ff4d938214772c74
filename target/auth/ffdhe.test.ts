import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FFDHE_GROUPS } from './ffdhe.js';
import { dhKeyPairFromPrivate, dhSharedSecret, generateDhKeyPair } from './dh.js';

/** floor(e * 2^bits), from the series of 1/k! with 64 guard bits. */
function eFixed(bits: number): bigint {
  const guard = 64n;
  let term = 1n << (BigInt(bits) + guard);
  let total = 0n;
  for (let k = 1n; term > 0n; k++) {
    total += term;
    term /= k;
  }
  return total >> guard;
}

test('every ffdhe prime is the one RFC 7919 (section A) defines: 2^b - 2^(b-64) + ([2^(b-130) e] + X) * 2^64 - 1', () => {
  assert.deepEqual(FFDHE_GROUPS.map((g) => g.name), ['ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192']);
  for (const g of FFDHE_GROUPS) {
    const b = BigInt(g.bits);
    const p = (1n << b) - (1n << (b - 64n)) + (eFixed(g.bits - 130) + g.x) * (1n << 64n) - 1n;
    assert.equal(g.prime.toString('hex'), p.toString(16), g.name);
    assert.equal(g.prime.length * 8, g.bits);
  }
});

test('both sides of an exchange derive the same session key, as long as the prime, for every group', () => {
  for (const g of FFDHE_GROUPS) {
    const a = generateDhKeyPair(g);
    const b = generateDhKeyPair(g);
    assert.equal(a.publicValue.length, g.prime.length);
    const s1 = dhSharedSecret(g, a.privateKey, b.publicValue);
    assert.equal(s1.length, g.prime.length);
    assert.deepEqual(s1, dhSharedSecret(g, b.privateKey, a.publicValue), g.name);
  }
});

test('a public value outside the group (1, p-1, p, too long, empty) is refused', () => {
  const g = FFDHE_GROUPS[0];
  const a = generateDhKeyPair(g);
  const pMinus1 = Buffer.from(g.prime);
  pMinus1[pMinus1.length - 1] -= 1;
  for (const bad of [Buffer.from([1]), pMinus1, Buffer.from(g.prime), Buffer.alloc(g.prime.length + 1, 1), Buffer.alloc(0)]) {
    assert.throws(() => dhSharedSecret(g, a.privateKey, bad));
  }
});

test('a key pair from a given private exponent has the public value 2^x mod p', () => {
  const g = FFDHE_GROUPS[0];
  const pair = dhKeyPairFromPrivate(g, Buffer.from([0x01, 0x00])); // x = 256
  const p = BigInt('0x' + g.prime.toString('hex'));
  let y = 1n;
  for (let i = 0; i < 256; i++) y = (y * 2n) % p;
  assert.equal(pair.publicValue.toString('hex'), y.toString(16).padStart(g.prime.length * 2, '0'));
});
