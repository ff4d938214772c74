// Known answers for the PSK derivations. The 'compat' values are nvme-cli 2.13's (libnvme 1.13, the 6.12
// guest): `nvme check-tls-key --keydata=KEY --hostnqn=H --subsysnqn=S --identity=0|1 --insert` then
// `nvme tls-key --export` printed each identity and the TLS PSK it inserted. The 'rfc8446' values were
// computed apart from this code, with Python's hmac/hashlib (HKDF written out, RFC 8446 HkdfLabel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIdentity, formatInterchangePsk, hostIdentities, parseIdentity, parseInterchangePsk, pskDigest, retainedPsk } from './psk.js';

const H = 'nqn.2014-08.org.nvmexpress:uuid:f1a2b3c4-0000-4000-8000-000000000001';
const S = 'nqn.2026-01.io.nvmeof-operator:tls-vectors';
/** `nvme gen-tls-key --secret=000102...1f --hmac=1`. */
const KEY = 'NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:';
const exported = (b64: string) => Buffer.from(b64, 'base64').subarray(0, 32).toString('hex');

test('interchange format: nvme-cli\'s key parses, CRC-32 checked, round trip', () => {
  const k = parseInterchangePsk(KEY);
  assert.equal(k.transform, 1);
  assert.equal(k.key.toString('hex'), '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  assert.equal(formatInterchangePsk(k), KEY);
  assert.equal(parseInterchangePsk(`${KEY}\n`).transform, 1, 'a trailing newline of a key file is tolerated');
  assert.equal(parseInterchangePsk(KEY.replace(':01:', ':00:')).transform, 0);
});

test('interchange format: bad keys are refused with the reason, never quoting the key', () => {
  const bad = (text: string, re: RegExp) => assert.throws(() => parseInterchangePsk(text), (e: Error) => re.test(e.message) && !e.message.includes('AAEC'));
  bad(KEY.replace('AAEC', 'AAED'), /CRC-32/);
  bad('NVMeTLSkey-1:01:AAECAw==', /interchange format/);
  bad('DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:', /interchange format/);
  bad(KEY.replace(':01:', ':02:'), /SHA-384.*not supported/);
  bad(KEY.replace(':01:', ':03:'), /unknown PSK hash 03/);
  const k48 = formatInterchangePsk({ transform: 1, key: Buffer.alloc(48, 7) });
  bad(k48, /SHA-384/);
  bad(formatInterchangePsk({ transform: 1, key: Buffer.alloc(16, 7) }), /32 bytes, this one 16/);
});

test('compat derivation (libnvme 1.13): identities, digest and TLS PSKs are nvme-cli 2.13\'s', () => {
  const [v0, v1] = hostIdentities('compat', parseInterchangePsk(KEY), H, S);
  assert.equal(v0.identity, `NVMe0R01 ${H} ${S}`);
  assert.equal(v0.key.toString('hex'), exported('GktBT8Of/e/TDwdmB8ih3dZQB2E9+/ZmiEr4M1cX8/FeumqT'));
  assert.equal(v1.identity, `NVMe1R01 ${H} ${S} qmDrJ/oL+jWxHIFlc94Lcel4uJusq0KmJKi0NK4BQSM=`);
  assert.equal(v1.key.toString('hex'), exported('aYayjobceSbnYI0XufOM5Qv5ZR/bXjAt6jeduVufs86TcnEC'));
});

test('rfc8446 derivation: retained PSK, digest and TLS PSKs match an independent computation', () => {
  const k = parseInterchangePsk(KEY);
  const retained = retainedPsk('rfc8446', k, H);
  assert.equal(retained.toString('hex'), 'dbea62870002994c1b680ce57875919db07e893caa7bceb21256de6a916633a6');
  assert.equal(pskDigest(retained, H, S), 'hhZQWGFRWioT346UORTux3GpciGRH9axpuuOu7YymJc=');
  const [v0, v1] = hostIdentities('rfc8446', k, H, S);
  assert.equal(v0.key.toString('hex'), 'be18b46d7ddc1c2e094bbe03c4eb536fb2a3a9f8c0f17ba9694550ba3c0613f3');
  assert.equal(v1.key.toString('hex'), '387c316fb1fd77057245fa2f84c37302e511069986662b4c216262c4b47dd8a9');
  // hh 00: the configured key is the retained PSK.
  const [n0] = hostIdentities('rfc8446', { transform: 0, key: k.key }, H, S);
  assert.equal(n0.key.toString('hex'), 'bd3d2024254a033375b1b6dbec8a26051c495e9dd8dd40c68ad0425b919b263d');
});

test('identities: parsed as the host offers them, anything else is undefined', () => {
  const v1 = `NVMe1R01 ${H} ${S} qmDrJ/oL+jWxHIFlc94Lcel4uJusq0KmJKi0NK4BQSM=`;
  const id = parseIdentity(v1);
  assert.deepEqual(id, { version: 1, hash: 1, hostNqn: H, subNqn: S, digest: 'qmDrJ/oL+jWxHIFlc94Lcel4uJusq0KmJKi0NK4BQSM=' });
  assert.equal(formatIdentity(id!), v1);
  assert.deepEqual(parseIdentity(`NVMe0R01 ${H} ${S}`), { version: 0, hash: 1, hostNqn: H, subNqn: S });
  for (const bad of [`NVMe0G01 ${H} ${S}`, `NVMe0R01 ${H} ${S} extra`, `NVMe1R01 ${H} ${S}`, `NVMe2R01 ${H} ${S}`, '', 'Client_identity', `NVMe0R01 ${H}`]) {
    assert.equal(parseIdentity(bad), undefined, bad);
  }
});
