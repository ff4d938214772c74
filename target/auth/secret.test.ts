import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDhchapSecret, parseDhchapSecret, transformKey } from './secret.js';

// Printed by nvme-cli 2.3 (libnvme 1.3): `nvme gen-dhchap-key -s <hex> -l <len> -m <hh> -n <NQN>`. With hh 00
// it prints the given key; with 01-03 it prints the key libnvme's nvme_gen_dhchap_key derived, the same
// transformation the kernel applies (HMAC-hh keyed with the secret over the NQN and "NVMe-over-Fabrics"), so
// transformKey() of the given key must give the key the printed text holds.
const NQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001';
const NVME_CLI = [
  { hh: 0, hex: '20272e353c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f9', text: 'DHHC-1:00:ICcuNTxDSlFYX2ZtdHuCiZCXnqWss7rByM/W3eTr8vmMpzdS:' },
  { hh: 0, hex: '30373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b7279', text: 'DHHC-1:00:MDc+RUxTWmFob3Z9hIuSmaCnrrW8w8rR2N/m7fT7AgkQFx4lLDM6QUhPVl1ka3J51wkKvA==:' },
  { hh: 0, hex: '40474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f9', text: 'DHHC-1:00:QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PENKUVhfZm10e4KJkJeepayzusHIz9bd5Ovy+eQYloY=:' },
  { hh: 1, hex: '2d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff06', text: 'DHHC-1:01:nXNS+Hb5k18wbFwKoAy9QrHJgUF0p9usB+u98ii8yCFH7RVq:' },
  { hh: 2, hex: '4a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f900070e151c232a31383f464d545b626970777e858c93', text: 'DHHC-1:02:nRiCQ9F6HUvR0dBgkSIXtgUgILYEfA9hTE0rpCUMEL+wSmKWKaWHOXrYYSktGZataqywSw==:' },
  { hh: 3, hex: '676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920', text: 'DHHC-1:03:3vMpA74CqIGNDTbOVhm1axEfY0+8tA2zECqzMdwyGe1IDZfiAavmLTw+p/k0OJSesOuok8oeh0pTWVcvckeK5zNVb0E=:' },
];

test("nvme-cli's secrets parse (CRC-32 and all), and their keys are libnvme's transformation of the given key", () => {
  for (const v of NVME_CLI) {
    const s = parseDhchapSecret(`${v.text}\n`);
    assert.equal(s.hh, v.hh);
    const expected = v.hh === 0 ? Buffer.from(v.hex, 'hex') : transformKey({ hh: v.hh, key: Buffer.from(v.hex, 'hex') }, NQN);
    assert.equal(s.key.toString('hex'), expected.toString('hex'), v.text);
    assert.equal(formatDhchapSecret(s), v.text);
  }
});

test('a damaged or malformed secret is refused with a reason that never quotes it', () => {
  const good = NVME_CLI[3].text;
  const flipped = good.slice(0, 12) + (good[12] === 'A' ? 'B' : 'A') + good.slice(13);
  const cases: Array<[string, RegExp]> = [
    [flipped, /CRC-32/],
    ['DHHC-2:00:abcd:', /DHHC-1/],
    ['DHHC-1:04:' + good.slice(10), /only 00 to 03/],
    ['DHHC-1:00:' + Buffer.alloc(20).toString('base64') + ':', /32, 48 or 64/],
    [good.slice(0, -1), /form/],
    ['', /DHHC-1/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseDhchapSecret(text), (e: Error) => why.test(e.message) && (text.length < 12 || !e.message.includes(text.slice(10, 30))), text);
  }
});
