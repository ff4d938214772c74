// Key rotation: a key file replaced in place (a rename, or the kubelet's symlink swap of a Secret volume) is
// used by the next handshake after at most CHECK_INTERVAL_MS; a file broken mid-rotation keeps the keys in
// use, logged once, never quoting a key; no change, no reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECK_INTERVAL_MS, TlsKeySource } from './key-source.js';
import { formatInterchangePsk, hostIdentities } from './psk.js';

const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0c5e2d8a-4f6b-4e8e-9a51-3d0c7f1e2b6a';
const SUB = 'nqn.2026-01.io.nvmeof-operator:rotation';
const key = (b: number) => ({ transform: 1 as const, key: Buffer.alloc(32, b) });
const tlsKey = (b: number) => hostIdentities('compat', key(b), HOST, SUB)[0];

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-keysrc-'));
  const lines: string[] = [];
  const log = { debug: () => {}, warn: () => {}, info: (m: string) => lines.push(m), error: (m: string, meta?: Record<string, unknown>) => lines.push(`${m} ${JSON.stringify(meta)}`) };
  let now = 0;
  const clock = { advance: (ms: number) => { now += ms; }, now: () => now };
  return { dir, lines, log, clock };
}

/** The TLS PSK the source gives now for the host's version-0 identity (the same string whatever the key). */
const lookup = (src: TlsKeySource) => {
  const r = src.current().lookup(tlsKey(1).identity);
  return 'key' in r ? r.key.toString('hex') : r.reason;
};

test('a key file renamed over is used after the check interval; a broken one keeps the old keys', () => {
  const { dir, lines, log, clock } = setup();
  try {
    const file = join(dir, 'host.psk');
    writeFileSync(file, formatInterchangePsk(key(1)));
    const src = new TlsKeySource([{ nqn: SUB, listeners: [], namespaces: [], tlsPsks: [{ host: HOST, pskFile: file }] }], log, clock.now);
    assert.equal(lookup(src), tlsKey(1).key.toString('hex'));
    writeFileSync(join(dir, 'new'), formatInterchangePsk(key(2)));
    renameSync(join(dir, 'new'), file);
    assert.equal(lookup(src), tlsKey(1).key.toString('hex'), 'not before the interval');
    clock.advance(CHECK_INTERVAL_MS);
    assert.equal(lookup(src), hostIdentities('compat', key(2), HOST, SUB)[0].key.toString('hex'), 'the new key');
    assert.match(lines.at(-1)!, /new keys in use/);
    writeFileSync(file, 'NVMeTLSkey-1:01:garbage:');
    clock.advance(CHECK_INTERVAL_MS);
    assert.equal(lookup(src), hostIdentities('compat', key(2), HOST, SUB)[0].key.toString('hex'), 'a broken file keeps the keys in use');
    assert.match(src.lastError!, /host nqn\.2014-08.*the key file .*host\.psk/);
    const errors = lines.filter((l) => l.includes('cannot be loaded')).length;
    clock.advance(CHECK_INTERVAL_MS);
    src.current();
    assert.equal(lines.filter((l) => l.includes('cannot be loaded')).length, errors, 'logged once per state of the files');
    assert.ok(!lines.join('\n').includes(key(2).key.toString('base64')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Secret volume\'s symlink swap (..data -> a new folder) is seen', () => {
  const { dir, log, clock } = setup();
  try {
    // The kubelet's layout: host.psk -> ..data/host.psk, ..data -> ..2026_01_01_v1; an update makes a new folder
    // and renames a new ..data link over the old one.
    mkdirSync(join(dir, 'v1'));
    writeFileSync(join(dir, 'v1', 'host.psk'), formatInterchangePsk(key(1)));
    symlinkSync('v1', join(dir, '..data'));
    symlinkSync(join('..data', 'host.psk'), join(dir, 'host.psk'));
    const src = new TlsKeySource([{ nqn: SUB, listeners: [], namespaces: [], tlsPsks: [{ host: HOST, pskFile: join(dir, 'host.psk') }] }], log, clock.now);
    mkdirSync(join(dir, 'v2'));
    writeFileSync(join(dir, 'v2', 'host.psk'), formatInterchangePsk(key(3)));
    symlinkSync('v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    clock.advance(CHECK_INTERVAL_MS);
    assert.equal(lookup(src), hostIdentities('compat', key(3), HOST, SUB)[0].key.toString('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a configuration change: prepare reads and checks the new set (a bad file throws, naming field and host), commit swaps it at once; the same set is a no-op', () => {
  const { dir, lines, log, clock } = setup();
  try {
    const file = join(dir, 'host.psk');
    writeFileSync(file, formatInterchangePsk(key(1)));
    const src = new TlsKeySource([{ nqn: SUB, listeners: [], namespaces: [] }], log, clock.now);
    assert.match(lookup(src), /no TLS PSK is configured for host/);
    const next = [{ nqn: SUB, tlsPsks: [{ host: HOST, pskFile: file }] }];
    assert.throws(() => src.prepare([{ nqn: SUB, tlsPsks: [{ host: HOST, pskFile: join(dir, 'missing.psk') }] }]),
      (e: Error) => e.name === 'TlsKeyError' && /^subsystems\[0\]\.tlsPsks\[0\] \(host nqn\.2014-08[^)]*\): cannot read the key file .*missing\.psk: ENOENT/.test(e.message));
    writeFileSync(join(dir, 'bad.psk'), 'NVMeTLSkey-1:01:garbage:');
    assert.throws(() => src.prepare([{ nqn: SUB, tlsPsks: [{ host: HOST, pskFile: join(dir, 'bad.psk') }] }]), (e: Error) => !e.message.includes('garbage'));
    const commit = src.prepare(next);
    assert.match(lookup(src), /no TLS PSK is configured/, 'nothing changes before the commit');
    commit();
    assert.equal(lookup(src), tlsKey(1).key.toString('hex'), 'at once, without waiting for the check interval');
    const logged = lines.length;
    src.prepare([...next])();
    assert.equal(lines.length, logged, 'the same set: nothing read, nothing logged');
    src.prepare([{ nqn: SUB }])();
    assert.match(lookup(src), /no TLS PSK is configured/, 'removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
