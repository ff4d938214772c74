import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, validateConfig } from './config.js';
import { loadHostAuths } from '../auth/host-keys.js';
import { formatDhchapSecret } from '../auth/secret.js';
import { hostAuthOf } from '../runtime/build.js';
import { StartupError } from '../startup-error.js';

const HOST_A = 'nqn.2014-08.org.nvmexpress:uuid:11111111-0000-4000-8000-000000000001';
const HOST_B = 'nqn.2014-08.org.nvmexpress:uuid:11111111-0000-4000-8000-000000000002';
const NQN = 'nqn.2026-01.io.example:auth';

function config(sub: Record<string, unknown>) {
  return {
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{ nqn: NQN, listeners: [{ address: '127.0.0.1', port: 4420 }], namespaces: [], hosts: [HOST_A, HOST_B], ...sub }],
  };
}

test('dhchap per host: validated, kept through a second validation, plain string hosts unchanged', () => {
  const dhchap = [{ host: HOST_A, keyFile: '/k/a', ctrlKeyFile: '/k/ctrl', hashes: ['sha512', 'sha256'], dhGroups: ['ffdhe2048', 'null'] }];
  const cfg = validateConfig(config({ dhchap }));
  assert.deepEqual(cfg.subsystems[0].dhchap, dhchap);
  assert.deepEqual(cfg.subsystems[0].hosts, [HOST_A, HOST_B]);
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(cfg))), cfg);
  assert.equal(validateConfig(config({})).subsystems[0].dhchap, undefined);
});

test('dhchap refused: with allowAnyHost, a host not listed, twice, bad hash or group, unknown field, no key file', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ allowAnyHost: true, hosts: undefined, dhchap: [{ host: HOST_A, keyFile: '/k' }] }, 'subsystems[0].dhchap', /requires a host list/],
    [{ dhchap: [{ host: 'nqn.2014-08.org.nvmexpress:uuid:11111111-0000-4000-8000-000000000009', keyFile: '/k' }] }, 'subsystems[0].dhchap[0].host', /not in the subsystem's hosts/],
    [{ dhchap: [{ host: HOST_A, keyFile: '/k' }, { host: HOST_A, keyFile: '/j' }] }, 'subsystems[0].dhchap[1].host', /twice/],
    [{ dhchap: [{ host: HOST_A, keyFile: '/k', hashes: ['md5'] }] }, 'subsystems[0].dhchap[0].hashes[0]', /sha256/],
    [{ dhchap: [{ host: HOST_A, keyFile: '/k', dhGroups: [] }] }, 'subsystems[0].dhchap[0].dhGroups', /non-empty/],
    [{ dhchap: [{ host: HOST_A, keyFile: '/k', key: 'DHHC-1:00:x:' }] }, 'subsystems[0].dhchap[0].key', /unknown field/],
    [{ dhchap: [{ host: HOST_A }] }, 'subsystems[0].dhchap[0].keyFile', /non-empty string/],
  ];
  for (const [sub, field, why] of cases) {
    assert.throws(() => validateConfig(config(sub)), (e: unknown) => e instanceof ConfigError && e.field === field && why.test(e.message), field);
  }
});

test('key files are read at load: defaults follow the key; a missing or malformed key names the host and file, never the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dhchap-keys-'));
  try {
    const good = formatDhchapSecret({ hh: 2, key: Buffer.alloc(48, 0x33) });
    writeFileSync(join(dir, 'a'), `${good}\n`);
    const auths = loadHostAuths(NQN, [{ host: HOST_A, keyFile: join(dir, 'a') }]);
    const a = auths.get(HOST_A)!;
    assert.deepEqual(a.hashes.map((h) => h.name), ['sha384', 'sha256', 'sha512'], "the key's own hash first");
    assert.deepEqual(a.dhGroups, [0, 1, 2, 3, 4, 5]);
    assert.equal(a.ctrlKey, undefined);
    const damaged = good.slice(0, 20) + (good[20] === 'A' ? 'B' : 'A') + good.slice(21);
    writeFileSync(join(dir, 'bad'), damaged);
    const sub = (keyFile: string) => validateConfig(config({ dhchap: [{ host: HOST_B, keyFile }] })).subsystems[0];
    for (const [file, why] of [[join(dir, 'bad'), /CRC-32/], [join(dir, 'missing'), /cannot be read \(ENOENT\)/]] as const) {
      assert.throws(() => hostAuthOf(sub(file)), (e: unknown) => e instanceof StartupError && e.message.includes(HOST_B) && e.message.includes(file)
        && why.test(e.message) && !e.message.includes(damaged.slice(10, 40)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key file that changes (a rotated Secret) is read again at the next use; a broken one leaves the previous key in use, said once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dhchap-rotate-'));
  try {
    const file = join(dir, 'key');
    // As the kubelet updates a Secret volume: the new content appears under a new inode, swapped in by rename.
    const swap = (text: string) => {
      writeFileSync(join(dir, 'key.new'), text);
      renameSync(join(dir, 'key.new'), file);
    };
    const first = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x41) });
    const second = formatDhchapSecret({ hh: 3, key: Buffer.alloc(64, 0x42) });
    swap(first);
    const keys = loadHostAuths(NQN, [{ host: HOST_A, keyFile: file }]).get(HOST_A)!;
    assert.deepEqual(keys.hostKey.key, Buffer.alloc(32, 0x41));
    assert.deepEqual(keys.takeNotices?.(), []);
    swap(second);
    assert.deepEqual(keys.hostKey.key, Buffer.alloc(64, 0x42));
    assert.equal(keys.hashes[0].name, 'sha512', "the new key's own hash first");
    const reloaded = keys.takeNotices?.() ?? [];
    assert.equal(reloaded.length, 1);
    assert.match(reloaded[0], new RegExp(`host ${HOST_A}: keys read again from ${file}`));
    swap(second.slice(0, 20) + 'x' + second.slice(21));
    assert.deepEqual(keys.hostKey.key, Buffer.alloc(64, 0x42), 'the previous key stays in use');
    assert.deepEqual(keys.hostKey.key, Buffer.alloc(64, 0x42));
    const refused = keys.takeNotices?.() ?? [];
    assert.equal(refused.length, 1, 'said once');
    assert.match(refused[0], /CRC-32.*previous keys stay in use/);
    for (const text of [first, second]) assert.ok(!refused[0].includes(text.slice(10, 40)) && !reloaded[0].includes(text.slice(10, 40)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
