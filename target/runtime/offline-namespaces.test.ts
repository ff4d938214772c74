import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Subsystem } from '../subsystem/subsystem.js';
import type { BackendOffline } from '../subsystem/backends/backend.js';
import { offlineNamespaces, registerOfflineGauge } from './offline-namespaces.js';

const OFF: BackendOffline = { reason: 'SIGBUS on the mapping of /d/ns2.img (read at byte 4096): ...', since: '2026-12-07T19:00:00.000Z' };

/** A subsystem with the namespaces `ns` (nsid -> backend offline or not); only what offline-namespaces reads. */
function sub(nqn: string, ns: Record<number, BackendOffline | undefined>, path = true): Subsystem {
  const namespaces = new Map(Object.entries(ns).map(([k, off]) => {
    const nsid = Number(k);
    return [nsid, { nsid, backend: { kind: 'file', ...(path ? { path: `/d/ns${nsid}.img` } : {}), offline: off } }] as const;
  }));
  return { nqn, namespaces, activeNsids: () => [...namespaces.keys()].sort((a, b) => a - b) } as unknown as Subsystem;
}

test('offlineNamespaces lists the offline namespaces with their path, reason and since, in order', () => {
  const cases: Array<{ name: string; subs: Subsystem[]; want: ReturnType<typeof offlineNamespaces> }> = [
    { name: 'none', subs: [], want: [] },
    { name: 'all serve', subs: [sub('a', { 1: undefined, 2: undefined })], want: [] },
    {
      name: 'one of two', subs: [sub('a', { 1: undefined, 2: OFF })],
      want: [{ subsystem: 'a', nsid: 2, path: '/d/ns2.img', reason: OFF.reason, since: OFF.since }],
    },
    {
      name: 'by subsystem then nsid', subs: [sub('b', { 3: OFF, 1: OFF }), sub('a', { 2: OFF })],
      want: [
        { subsystem: 'b', nsid: 1, path: '/d/ns1.img', reason: OFF.reason, since: OFF.since },
        { subsystem: 'b', nsid: 3, path: '/d/ns3.img', reason: OFF.reason, since: OFF.since },
        { subsystem: 'a', nsid: 2, path: '/d/ns2.img', reason: OFF.reason, since: OFF.since },
      ],
    },
    { name: 'no path (a backend without one)', subs: [sub('a', { 1: OFF }, false)], want: [{ subsystem: 'a', nsid: 1, reason: OFF.reason, since: OFF.since }] },
  ];
  for (const c of cases) assert.deepEqual(offlineNamespaces(c.subs), c.want, c.name);
});

test('nvmeof_target_namespace_offline: 1 per offline namespace, 0 per serving one, none for a namespace gone', async () => {
  const registry = new Registry();
  let subs = [sub('a', { 1: undefined, 2: OFF })];
  registerOfflineGauge(registry, () => subs);
  const text = await registry.metrics();
  assert.match(text, /^nvmeof_target_namespace_offline\{subsystem="a",nsid="1"\} 0$/m);
  assert.match(text, /^nvmeof_target_namespace_offline\{subsystem="a",nsid="2"\} 1$/m);
  subs = [sub('a', { 1: undefined })];
  const after = await registry.metrics();
  assert.match(after, /^nvmeof_target_namespace_offline\{subsystem="a",nsid="1"\} 0$/m);
  assert.doesNotMatch(after, /nsid="2"/, 'a namespace removed live leaves no series');
});
