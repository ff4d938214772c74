// diffConfig: what is live, what is refused, as a table of (change to the served configuration) -> outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from './config.js';
import { describeRefusals, diffConfig, removedKey, type DiffOptions, type LiveChanges } from './diff.js';

const NQN = 'nqn.2026-01.io.example:a';
const HOST_A = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000000a';
const HOST_B = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000000b';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;
const served = (): Raw => ({
  apiVersion: 'nvmeof.io/v1alpha1',
  kind: 'TargetConfig',
  generation: 3,
  metrics: { address: '127.0.0.1', port: 9464 },
  subsystems: [{
    nqn: NQN,
    listeners: [{ address: '127.0.0.1', port: 4420 }],
    hosts: [HOST_A, HOST_B],
    stateFile: '/var/lib/a/state.bin',
    namespaces: [
      { nsid: 1, blockSize: 512, backing: { kind: 'file', path: '/var/lib/a/ns1.img', size: 1 << 24 } },
      { nsid: 2, blockSize: 4096, backing: { kind: 'block', path: '/dev/loop7' } },
      { nsid: 3, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 }, uuid: '11111111-2222-3333-4444-555555555555' },
    ],
  }],
});

/** `from`: applied to the served configuration first (the edit then changes a copy of it). */
interface Live { name: string; from?(c: Raw): void; edit(c: Raw): void; opts?: DiffOptions; expect: Partial<LiveChanges> | ((c: LiveChanges) => void) }
interface Refused { name: string; edit(c: Raw): void; opts?: DiffOptions; fields: string[] }

const sub0 = (c: LiveChanges) => c.subsystems[0];

/** nsid 4 was removed earlier in the process: it was over ns4.img with derived identifiers. */
const removed4: DiffOptions = { removed: new Map([[removedKey(NQN, 4), { nsid: 4, blockSize: 512, backing: { kind: 'file', path: '/var/lib/a/ns4.img', size: 1 << 20 } }]]) };
const ns4 = (path: string, ids: Record<string, string> = {}) => ({ nsid: 4, blockSize: 512, backing: { kind: 'file', path, size: 1 << 20 }, ...ids });
const NEW_IDS = { uuid: '0f0f0f0f-2222-3333-4444-555555555555', nguid: '0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e', eui64: '0d0d0d0d0d0d0d0d' };

/** Host A authenticates with DH-HMAC-CHAP. */
const dhchapA = (c: Raw) => { c.subsystems[0].dhchap = [{ host: HOST_A, keyFile: '/keys/a' }]; };

const live: Live[] = [
  { name: 'nothing but the generation', edit: (c) => { c.generation = 4; }, expect: { generation: 4, subsystems: [], addSubsystems: [], removeSubsystems: [], discoveryLogChanged: false } },
  { name: 'a hand-written file without generation', edit: (c) => { delete c.generation; }, expect: { generation: 0, subsystems: [] } },
  {
    name: 'nsid 4 added', edit: (c) => c.subsystems[0].namespaces.push({ nsid: 4, blockSize: 512, backing: { kind: 'file', path: '/var/lib/a/ns4.img', size: 1 << 20 } }),
    expect: (c) => { assert.deepEqual(sub0(c).addNamespaces.map((n) => n.nsid), [4]); assert.equal(c.discoveryLogChanged, false); },
  },
  { name: 'nsid 2 removed', edit: (c) => c.subsystems[0].namespaces.splice(1, 1), expect: (c) => assert.deepEqual(sub0(c).removeNamespaces, [2]) },
  {
    name: 'nsid 1 grows', edit: (c) => { c.subsystems[0].namespaces[0].backing.size = 1 << 25; },
    expect: (c) => assert.deepEqual(sub0(c).growNamespaces, [{ nsid: 1, fromBytes: 1 << 24, toBytes: 1 << 25 }]),
  },
  { name: 'a file namespace without a size keeps its size', edit: (c) => { delete c.subsystems[0].namespaces[0].backing.size; }, expect: { subsystems: [] } },
  { name: 'namespaces listed in another order', edit: (c) => c.subsystems[0].namespaces.reverse(), expect: { subsystems: [] } },
  {
    name: 'host B removed', edit: (c) => { c.subsystems[0].hosts = [HOST_A]; },
    expect: (c) => { assert.deepEqual(sub0(c).hosts, { hosts: [HOST_A], removed: [HOST_B] }); assert.equal(c.discoveryLogChanged, true); },
  },
  { name: 'hosts listed in another order', edit: (c) => { c.subsystems[0].hosts = [HOST_B, HOST_A]; }, expect: { subsystems: [] } },
  { name: 'any host now', edit: (c) => { c.subsystems[0].allowAnyHost = true; }, expect: (c) => assert.deepEqual(sub0(c).hosts, { hosts: undefined, removed: [] }) },
  {
    name: 'a listener added', edit: (c) => c.subsystems[0].listeners.push({ address: '127.0.0.1', port: 4421 }),
    expect: (c) => { assert.equal(sub0(c).listeners?.length, 2); assert.equal(c.discoveryLogChanged, true); },
  },
  {
    name: 'a second subsystem added', edit: (c) => c.subsystems.push({ nqn: 'nqn.2026-01.io.example:b', listeners: [{ address: '127.0.0.1', port: 4420 }], allowAnyHost: true, namespaces: [] }),
    expect: (c) => { assert.deepEqual(c.addSubsystems.map((s) => s.nqn), ['nqn.2026-01.io.example:b']); assert.equal(c.discoveryLogChanged, true); },
  },
  {
    name: 'a subsystem removed, another added', edit: (c) => { c.subsystems[0] = { ...c.subsystems[0], nqn: 'nqn.2026-01.io.example:c', stateFile: '/var/lib/c/state.bin' }; },
    expect: (c) => { assert.deepEqual(c.removeSubsystems, [NQN]); assert.equal(c.addSubsystems.length, 1); },
  },
  { name: 'log level', edit: (c) => { c.logLevel = 'debug'; }, expect: { logLevel: 'debug', discoveryLogChanged: false } },
  { name: 'log level info is the default', edit: (c) => { c.logLevel = 'info'; }, expect: (c) => assert.equal(c.logLevel, undefined) },
  { name: 'shutdown grace (read at shutdown, no action)', edit: (c) => { c.shutdownGraceSeconds = 30; }, expect: { subsystems: [] } },
  { name: 'discovery listener added', edit: (c) => { c.discoveryListeners = [{ address: '127.0.0.1', port: 8009 }]; }, expect: { discoveryListeners: [{ address: '127.0.0.1', port: 8009 }], discoveryLogChanged: true } },
  { name: 'a removed nsid back over the same file', opts: removed4, edit: (c) => c.subsystems[0].namespaces.push(ns4('/var/lib/a/ns4.img')), expect: (c) => assert.deepEqual(sub0(c).addNamespaces.map((n) => n.nsid), [4]) },
  { name: 'a removed nsid back over another file with new identifiers', opts: removed4, edit: (c) => c.subsystems[0].namespaces.push(ns4('/var/lib/a/ns4-new.img', NEW_IDS)), expect: (c) => assert.deepEqual(sub0(c).addNamespaces.map((n) => n.nsid), [4]) },
  { name: 'a removed nsid back in memory (random identifiers)', opts: removed4, edit: (c) => c.subsystems[0].namespaces.push({ nsid: 4, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } }), expect: (c) => assert.equal(sub0(c).addNamespaces.length, 1) },
  {
    name: 'a front end with fixed listeners: a namespace added on the same listeners', opts: { fixedListeners: true },
    edit: (c) => c.subsystems[0].namespaces.push({ nsid: 9, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } }),
    expect: (c) => assert.deepEqual(sub0(c).addNamespaces.map((n) => n.nsid), [9]),
  },
  {
    name: 'a host gains a DH-HMAC-CHAP key: read, and its unauthenticated controllers ended', edit: dhchapA,
    expect: (c) => { assert.deepEqual(sub0(c).dhchap, { entries: [{ host: HOST_A, keyFile: '/keys/a' }], reload: [HOST_A], end: [HOST_A] }); assert.equal(sub0(c).hosts, undefined); },
  },
  {
    name: 'a host loses its key but stays in hosts: its connections kept', from: dhchapA, edit: (c) => { delete c.subsystems[0].dhchap; },
    expect: (c) => { assert.deepEqual(sub0(c).dhchap, { entries: [], reload: [], end: [] }); assert.equal(sub0(c).hosts, undefined); },
  },
  {
    name: 'a host loses its key and leaves hosts: the host-list change ends it', from: dhchapA, edit: (c) => { delete c.subsystems[0].dhchap; c.subsystems[0].hosts = [HOST_B]; },
    expect: (c) => { assert.deepEqual(sub0(c).dhchap?.end, []); assert.deepEqual(sub0(c).hosts, { hosts: [HOST_B], removed: [HOST_A] }); },
  },
  {
    name: 'a key file path changed: read again, connections kept', from: dhchapA, edit: (c) => { c.subsystems[0].dhchap[0].keyFile = '/keys/a2'; c.subsystems[0].dhchap[0].ctrlKeyFile = '/keys/c'; },
    expect: (c) => assert.deepEqual(sub0(c).dhchap, { entries: [{ host: HOST_A, keyFile: '/keys/a2', ctrlKeyFile: '/keys/c' }], reload: [HOST_A], end: [] }),
  },
  {
    name: 'hashes and groups changed for one host of two', from: (c) => { dhchapA(c); c.subsystems[0].dhchap.push({ host: HOST_B, keyFile: '/keys/b' }); },
    edit: (c) => { c.subsystems[0].dhchap[1].hashes = ['sha512']; c.subsystems[0].dhchap[1].dhGroups = ['ffdhe4096']; },
    expect: (c) => { assert.deepEqual(sub0(c).dhchap?.reload, [HOST_B]); assert.deepEqual(sub0(c).dhchap?.end, []); },
  },
  {
    name: 'DH-HMAC-CHAP entries listed in another order', from: (c) => { dhchapA(c); c.subsystems[0].dhchap.push({ host: HOST_B, keyFile: '/keys/b' }); },
    edit: (c) => c.subsystems[0].dhchap.reverse(), expect: { subsystems: [], tlsKeysChanged: false },
  },
  {
    name: 'a TLS PSK added', edit: (c) => { c.subsystems[0].tlsPsks = [{ host: HOST_A, pskFile: '/k' }]; },
    expect: (c) => { assert.deepEqual(sub0(c).tlsPsks, [{ host: HOST_A, pskFile: '/k' }]); assert.equal(c.tlsKeysChanged, true); assert.equal(sub0(c).hosts, undefined); },
  },
  {
    name: 'a TLS PSK removed', from: (c) => { c.subsystems[0].tlsPsks = [{ host: HOST_A, pskFile: '/k' }]; }, edit: (c) => { delete c.subsystems[0].tlsPsks; },
    expect: (c) => { assert.deepEqual(sub0(c).tlsPsks, []); assert.equal(c.tlsKeysChanged, true); },
  },
  {
    name: 'a subsystem added with TLS PSKs',
    edit: (c) => c.subsystems.push({ nqn: 'nqn.2026-01.io.example:t', listeners: [{ address: '127.0.0.1', port: 4420 }], hosts: [HOST_A], namespaces: [], tlsPsks: [{ host: HOST_A, pskFile: '/k' }] }),
    expect: (c) => { assert.deepEqual(c.addSubsystems.map((s) => s.nqn), ['nqn.2026-01.io.example:t']); assert.equal(c.tlsKeysChanged, true); },
  },
];

const refused: Refused[] = [
  { name: 'nsid 1 over another file', edit: (c) => { c.subsystems[0].namespaces[0].backing.path = '/var/lib/a/other.img'; }, fields: ['subsystems[0].namespaces[0].backing.path'] },
  { name: 'nsid 2 from block to file', edit: (c) => { c.subsystems[0].namespaces[1].backing = { kind: 'file', path: '/dev/loop7', size: 4096 }; }, fields: ['subsystems[0].namespaces[1].backing.kind'] },
  { name: 'nsid 1 shrinks', edit: (c) => { c.subsystems[0].namespaces[0].backing.size = 1 << 23; }, fields: ['subsystems[0].namespaces[0].backing.size'] },
  { name: 'a memory namespace grows', edit: (c) => { c.subsystems[0].namespaces[2].backing.size = 1 << 21; }, fields: ['subsystems[0].namespaces[2].backing.size'] },
  { name: 'block size', edit: (c) => { c.subsystems[0].namespaces[0].blockSize = 4096; }, fields: ['subsystems[0].namespaces[0].blockSize'] },
  { name: 'a uuid where one was derived', edit: (c) => { c.subsystems[0].namespaces[0].uuid = 'aaaaaaaa-2222-3333-4444-555555555555'; }, fields: ['subsystems[0].namespaces[0].uuid'] },
  { name: 'a fixed uuid dropped', edit: (c) => { delete c.subsystems[0].namespaces[2].uuid; }, fields: ['subsystems[0].namespaces[2].uuid'] },
  { name: 'an eui64 changed', edit: (c) => { c.subsystems[0].namespaces[0].eui64 = '0102030405060708'; }, fields: ['subsystems[0].namespaces[0].eui64'] },
  { name: 'serial', edit: (c) => { c.subsystems[0].serial = 'S1'; }, fields: ['subsystems[0].serial'] },
  { name: 'state file', edit: (c) => { c.subsystems[0].stateFile = '/elsewhere/state.bin'; }, fields: ['subsystems[0].stateFile'] },
  { name: 'durability', edit: (c) => { c.subsystems[0].durability = 'node'; }, fields: ['subsystems[0].durability'] },
  { name: 'metrics address', edit: (c) => { c.metrics.port = 9465; }, fields: ['metrics'] },
  {
    name: 'two bad changes and a good one: all refused, each named',
    edit: (c) => { c.subsystems[0].namespaces[0].backing.size = 4096; c.subsystems[0].model = 'M'; c.subsystems[0].hosts = [HOST_A]; },
    fields: ['subsystems[0].model', 'subsystems[0].namespaces[0].backing.size'],
  },
  { name: 'a listener\'s TLS mode', edit: (c) => { c.subsystems[0].listeners[0].tls = 'required'; }, fields: ['subsystems[0].listeners[0]'] },
  { name: 'a listener\'s TLS mode with a PSK added: the mode alone refused', edit: (c) => { c.subsystems[0].listeners[0].tls = 'allowed'; c.subsystems[0].listeners.push({ address: '127.0.0.1', port: 4430 }); c.subsystems[0].tlsPsks = [{ host: HOST_A, pskFile: '/k' }]; }, fields: ['subsystems[0].listeners[0]'] },
  { name: 'a front end that cannot reload TLS keys: a PSK added', opts: { fixedTlsKeys: true }, edit: (c) => { c.subsystems[0].tlsPsks = [{ host: HOST_A, pskFile: '/k' }]; }, fields: ['subsystems[0].tlsPsks'] },
  {
    name: 'a front end that cannot reload TLS keys: a subsystem added with TLS PSKs', opts: { fixedTlsKeys: true },
    edit: (c) => c.subsystems.push({ nqn: 'nqn.2026-01.io.example:t', listeners: [{ address: '127.0.0.1', port: 4420 }], hosts: [HOST_A], namespaces: [], tlsPsks: [{ host: HOST_A, pskFile: '/k' }] }),
    fields: ['subsystems[1].tlsPsks'],
  },
  { name: 'a removed nsid back over another file with the identifiers hosts knew', opts: removed4, edit: (c) => c.subsystems[0].namespaces.push(ns4('/var/lib/a/ns4-new.img')), fields: ['subsystems[0].namespaces[3]'] },
  { name: 'a removed nsid back over another file with one new identifier only', opts: removed4, edit: (c) => c.subsystems[0].namespaces.push(ns4('/var/lib/a/ns4-new.img', { uuid: NEW_IDS.uuid })), fields: ['subsystems[0].namespaces[3]'] },
  { name: 'a TLS listener added', edit: (c) => c.subsystems[0].listeners.push({ address: '127.0.0.1', port: 4421, tls: 'required' }), fields: ['subsystems[0].listeners[1].tls'] },
  { name: 'a TLS discovery listener added', edit: (c) => { c.discoveryListeners = [{ address: '127.0.0.1', port: 8009, tls: 'allowed' }]; }, fields: ['discoveryListeners[0].tls'] },
  { name: 'a front end with fixed listeners: a listener added', opts: { fixedListeners: true }, edit: (c) => c.subsystems[0].listeners.push({ address: '127.0.0.1', port: 4421 }), fields: ['subsystems[].listeners'] },
];

for (const t of live) {
  test(`live: ${t.name}`, () => {
    const before = served();
    t.from?.(before);
    const next = structuredClone(before);
    t.edit(next);
    const d = diffConfig(validateConfig(before), validateConfig(next), t.opts);
    assert.ok(d.ok, d.ok ? '' : describeRefusals(d.refused));
    if (typeof t.expect === 'function') t.expect(d.changes);
    else for (const [k, v] of Object.entries(t.expect)) assert.deepEqual(d.changes[k as keyof LiveChanges], v, k);
  });
}

for (const t of refused) {
  test(`refused: ${t.name}`, () => {
    const next = served();
    t.edit(next);
    const d = diffConfig(validateConfig(served()), validateConfig(next), t.opts);
    assert.equal(d.ok, false);
    if (d.ok) return;
    assert.deepEqual(d.refused.map((r) => r.field).sort(), [...t.fields].sort(), describeRefusals(d.refused));
    for (const r of d.refused) assert.ok(r.reason.length > 10, `a reason for ${r.field}`);
  });
}

test('a refusal line names field and reason', () => {
  const next = served();
  next.subsystems[0].namespaces[0].backing.path = '/x.img';
  const d = diffConfig(validateConfig(served()), validateConfig(next));
  assert.ok(!d.ok);
  assert.match(describeRefusals(d.refused), /^subsystems\[0\]\.namespaces\[0\]\.backing\.path: nsid 1's backing cannot change from \/var\/lib\/a\/ns1\.img to \/x\.img/);
});
