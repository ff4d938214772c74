// spec.authentication and spec.listener.tls in the pod and the target's configuration (issue 21, 3): the
// Secret mounted read-only with no items list, key files named under the mount, the listener's TLS mode,
// what rolls the pod, and a key the target reports missing or malformed as KeyInvalid.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NvmeofSubsystemSpec } from '../api/types.js';
import { SETTINGS, subsystem } from '../testing/fixtures.js';
import { AUTH_MOUNT, KEY_INVALID } from './authentication.js';
import { nextConditions } from './conditions.js';
import { classifyChange, type Built } from './live-change.js';
import { desiredPod, podSpecHash } from './pod.js';
import { realise } from './target-config.js';

const A = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000a';
const B = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000b';
const BASE: Partial<NvmeofSubsystemSpec> = { allowAnyHost: undefined, hosts: [A, B] };
const AUTH: NvmeofSubsystemSpec['authentication'] = {
  secretName: 'db-keys',
  hosts: [
    { nqn: A, dhchapKey: 'host-a.dhchap', dhchapCtrlKey: 'ctrl.dhchap', dhchapHashes: ['sha512', 'sha256'], dhchapGroups: ['ffdhe2048'], tlsPsk: 'host-a.psk' },
    { nqn: B, dhchapKey: 'host-b.dhchap' },
  ],
};

function built(over: Partial<NvmeofSubsystemSpec>, generation = 1): Built & { hash: string } {
  const sub = subsystem({ ...BASE, ...over }, { generation });
  const r = realise(sub, SETTINGS);
  assert.ok(r.ok, JSON.stringify(r));
  return { pod: desiredPod(sub, SETTINGS, r.value, { name: 'p' }).spec!, config: r.value.config, hash: podSpecHash(sub, SETTINGS, r.value) };
}

test('the target configuration names one key file per Secret data key, under the mount; the listener carries tls', () => {
  const { config } = built({ authentication: AUTH, listener: { port: 4420, metricsPort: 9420, hostNetwork: true, tls: 'allowed' } });
  const s = config.subsystems[0];
  assert.deepEqual(s.dhchap, [
    { host: A, keyFile: `${AUTH_MOUNT}/host-a.dhchap`, ctrlKeyFile: `${AUTH_MOUNT}/ctrl.dhchap`, hashes: ['sha512', 'sha256'], dhGroups: ['ffdhe2048'] },
    { host: B, keyFile: `${AUTH_MOUNT}/host-b.dhchap` },
  ]);
  assert.deepEqual(s.tlsPsks, [{ host: A, pskFile: `${AUTH_MOUNT}/host-a.psk` }]);
  assert.deepEqual(s.listeners, [{ address: '0.0.0.0', port: 4420, tls: 'allowed' }]);
  // 'off' is the absence of TLS, as the target renders it.
  assert.deepEqual(built({ authentication: AUTH, listener: { port: 4420, metricsPort: 9420, hostNetwork: true, tls: 'off' } }).config.subsystems[0].listeners, [{ address: '0.0.0.0', port: 4420 }]);
});

test('the pod mounts the Secret read-only, optional, with no items list (keys added later appear); the operator reads no Secret', () => {
  const { pod } = built({ authentication: AUTH });
  const vol = pod.volumes!.find((v) => v.secret)!;
  assert.deepEqual(vol.secret, { secretName: 'db-keys', optional: true, defaultMode: 0o400 });
  assert.ok(!('items' in vol.secret!));
  const mount = pod.containers[0].volumeMounts!.find((m) => m.name === vol.name)!;
  assert.deepEqual(mount, { name: vol.name, mountPath: AUTH_MOUNT, readOnly: true });
  const plain = built({});
  assert.ok(!plain.pod.volumes!.some((v) => v.secret), 'no Secret without authentication');
  assert.equal(plain.config.subsystems[0].dhchap, undefined);
  assert.equal(plain.config.subsystems[0].tlsPsks, undefined);
});

test('authentication with allowAnyHost, or for a host outside hosts, is refused before a pod (the target\'s validator)', () => {
  const any = realise(subsystem({ allowAnyHost: true, authentication: AUTH }), SETTINGS);
  assert.ok(!any.ok);
  assert.equal(any.problem.reason, 'InvalidSpec');
  assert.match(any.problem.message, /allowAnyHost/);
  const outside = realise(subsystem({ ...BASE, hosts: [B], authentication: AUTH }), SETTINGS);
  assert.ok(!outside.ok);
  assert.match(outside.problem.message, /spec\.authentication\.hosts: .*0a is not in spec\.hosts/);
  for (const tls of ['required', 'allowed'] as const) {
    const noPsk = realise(subsystem({ ...BASE, authentication: { secretName: 's', hosts: [{ nqn: A, dhchapKey: 'a' }] }, listener: { port: 4420, metricsPort: 9420, hostNetwork: true, tls } }), SETTINGS);
    assert.ok(!noPsk.ok);
    assert.equal(noPsk.problem.message, `spec.listener.tls ${tls} needs at least one host with a tlsPsk in spec.authentication.hosts`);
  }
});

test('what rolls: the Secret volume (added, removed, another Secret) and the listener\'s TLS mode; DH-HMAC-CHAP hosts and TLS PSKs are live', () => {
  const none = built({});
  const withAuth = built({ authentication: AUTH }, 2);
  assert.deepEqual(classifyChange(none, withAuth), { roll: ['Secrets', 'volumes'], live: ['DH-HMAC-CHAP hosts', 'TLS PSKs'] });
  assert.notEqual(none.hash, withAuth.hash);
  assert.deepEqual(classifyChange(withAuth, built({}, 3)).roll, ['Secrets', 'volumes'], 'authentication removed');
  // The target reads and checks the new key files before it applies a change of them (target/config/diff.ts).
  const oneHost = built({ authentication: { secretName: 'db-keys', hosts: [AUTH!.hosts[0]] } }, 3);
  assert.deepEqual(classifyChange(withAuth, oneHost), { roll: [], live: ['DH-HMAC-CHAP hosts'] });
  assert.equal(withAuth.hash, oneHost.hash);
  const otherKey = built({ authentication: { secretName: 'db-keys', hosts: [{ ...AUTH!.hosts[0], dhchapKey: 'host-a.v2', tlsPsk: 'host-a.psk.v2' }, AUTH!.hosts[1]] } }, 3);
  assert.deepEqual(classifyChange(withAuth, otherKey), { roll: [], live: ['DH-HMAC-CHAP hosts', 'TLS PSKs'] });
  assert.equal(withAuth.hash, otherKey.hash);
  const tls = built({ authentication: AUTH, listener: { port: 4420, metricsPort: 9420, hostNetwork: true, tls: 'required' } }, 4);
  assert.deepEqual(classifyChange(withAuth, tls), { roll: ['listener tls'], live: [] });
  assert.notEqual(withAuth.hash, tls.hash);
  const otherSecret = built({ authentication: { ...AUTH!, secretName: 'other-keys' } }, 5);
  assert.deepEqual(classifyChange(withAuth, otherSecret).roll, ['Secrets']);
  const hostAdded = built({ hosts: [A, B, 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000c'], authentication: AUTH }, 6);
  assert.deepEqual(classifyChange(withAuth, hostAdded), { roll: [], live: ['hosts'] });
  assert.equal(withAuth.hash, hostAdded.hash, 'a host without keys added: no roll');
});

test('a key the target reports missing or malformed is Ready=False, KeyInvalid; its message names the host, not the key', () => {
  // The target's own messages (target/auth/host-keys.ts, target/tls/keys.ts through the TCP front end).
  const messages = [
    `subsystem nqn.2024-01.io.nvmeof:storage:db, host ${A}: keyFile ${AUTH_MOUNT}/host-a.dhchap cannot be read (ENOENT)`,
    `subsystem nqn.2024-01.io.nvmeof:storage:db, host ${A}: ctrlKeyFile ${AUTH_MOUNT}/ctrl fails its CRC-32 check (the text was damaged or mistyped)`,
    `TLS: subsystems[0].tlsPsks[0] (host ${A}): cannot read the key file ${AUTH_MOUNT}/host-a.psk: ENOENT`,
    `TLS: subsystems[0].tlsPsks[0] (host ${A}): the key file ${AUTH_MOUNT}/host-a.psk: not in the interchange format`,
  ];
  const pod = { name: 'p', node: 'n1', ready: false, restarts: 2, outdated: false, waitingReason: 'CrashLoopBackOff' };
  for (const message of messages) {
    assert.match(message, KEY_INVALID);
    const c = nextConditions(undefined, { generation: 1, deleting: false, pod: { ...pod, exit: { code: 1, message } } }, '2026-01-01T00:00:00Z');
    const ready = c.find((x) => x.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'KeyInvalid', message);
    assert.ok(ready.message.includes(A));
  }
  for (const other of ['port 4420 on 0.0.0.0 is in use by another process (EADDRINUSE)', 'nsid 1: cannot size file /data/ns1.img: EFBIG', 'invalid configuration: subsystems[0].hosts[0]: bad host']) {
    assert.doesNotMatch(other, KEY_INVALID);
  }
});
