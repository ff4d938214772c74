// The CRD YAML parses, names what the issue asks for, and its validation encodes the rules; its
// regular expressions agree with the operator's and the target's own checks; the samples are
// resources the operator can realise.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as yaml from 'js-yaml';
import { DEFAULT_METRICS_PORT, DEFAULT_PORT, nqnProblem } from '../../target/contract.js';
import { fileBackingPath } from '../builders/paths.js';
import { realise } from '../builders/target-config.js';
import { crdDir } from '../install.js';
import { SETTINGS } from '../testing/fixtures.js';
import {
  API_VERSION, GROUP, KIND, PLURAL, RETIRED_NAMESPACES_MAX, VERSION, type BackingSpec, type NamespaceIdentityStatus, type NamespaceSpec, type NvmeofSubsystem,
  type NvmeofSubsystemSpec, type NvmeofSubsystemStatus, type PersistenceSpec, type RecoveryStatus, type RetiredNamespaceStatus,
} from './types.js';

type Schema = {
  type?: string; properties?: Record<string, Schema>; items?: Schema; required?: string[]; default?: unknown; enum?: unknown[];
  'x-kubernetes-validations'?: Array<{ rule: string; message: string }>; 'x-kubernetes-list-type'?: string; 'x-kubernetes-list-map-keys'?: string[];
  maxLength?: number; maxItems?: number; minimum?: number; format?: string; pattern?: string; description?: string;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const docs = yaml.loadAll(readFileSync(join(crdDir(), 'nvmeofsubsystems.nvmeof.io.yaml'), 'utf8')) as any[];
const crd = docs[0];
const version = crd.spec.versions[0];
const root: Schema = version.schema.openAPIV3Schema;
const spec = root.properties!.spec;
const ns = spec.properties!.namespaces;
const rules = (s: Schema) => (s['x-kubernetes-validations'] ?? []).map((v) => v.rule);
const regexIn = (s: Schema): RegExp => {
  const m = rules(s).map((r) => /matches\('(.+)'\)/.exec(r)).find(Boolean);
  assert.ok(m, 'a matches() rule');
  return new RegExp(m![1]);
};

test('the CRD: group, version, scope, names, status subresource', () => {
  assert.equal(docs.length, 1);
  assert.equal(crd.kind, 'CustomResourceDefinition');
  assert.equal(crd.metadata.name, `${PLURAL}.${GROUP}`);
  assert.equal(crd.spec.group, GROUP);
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.equal(crd.spec.names.kind, KIND);
  assert.equal(version.name, VERSION);
  assert.equal(`${crd.spec.group}/${version.name}`, API_VERSION);
  assert.deepEqual(version.subresources, { status: {} });
  assert.ok(version.served && version.storage);
});

test('printer columns: Ready, Node, Endpoint, Recoveries, Age', () => {
  const cols = version.additionalPrinterColumns.filter((c: { priority?: number }) => !c.priority);
  assert.deepEqual(cols.map((c: { name: string }) => c.name), ['Ready', 'Node', 'Endpoint', 'Recoveries', 'Age']);
  assert.deepEqual(cols.map((c: { jsonPath: string }) => c.jsonPath), [
    '.status.conditions[?(@.type=="Ready")].status', '.status.node', '.status.endpoint', '.status.recovery.count', '.metadata.creationTimestamp',
  ]);
});

test('wide printer columns (-o wide): Reason, NQN, Worker restarts', () => {
  const cols = version.additionalPrinterColumns.filter((c: { priority?: number }) => c.priority === 1);
  assert.deepEqual(cols.map((c: { name: string; type: string; jsonPath: string }) => [c.name, c.type, c.jsonPath]), [
    ['Reason', 'string', '.status.conditions[?(@.type=="Ready")].reason'],
    ['NQN', 'string', '.status.nqn'],
    ['Worker restarts', 'integer', '.status.recovery.workerRestarts'],
  ]);
});

test('the schema names exactly the fields of the TypeScript types', () => {
  const specFields = {
    nqn: 1, serial: 1, model: 1, listener: 1, namespaces: 1, hosts: 1, allowAnyHost: 1, authentication: 1, maintenance: 1, persistence: 1, placement: 1, resources: 1,
    reclaimPolicy: 1,
  } satisfies Record<keyof NvmeofSubsystemSpec, 1>;
  const nsFields = { nsid: 1, size: 1, blockSize: 1, backing: 1, uuid: 1, nguid: 1, eui64: 1 } satisfies Record<keyof NamespaceSpec, 1>;
  const statusFields = {
    observedGeneration: 1, conditions: 1, nqn: 1, node: 1, podName: 1, endpoint: 1, namespaces: 1, retiredNamespaces: 1, recovery: 1, config: 1, offlineNamespaces: 1,
  } satisfies Record<keyof NvmeofSubsystemStatus, 1>;
  assert.deepEqual(Object.keys(spec.properties!).sort(), Object.keys(specFields).sort());
  assert.deepEqual(Object.keys(ns.items!.properties!).sort(), Object.keys(nsFields).sort());
  assert.deepEqual(Object.keys(root.properties!.status.properties!).sort(), Object.keys(statusFields).sort());
  const persistenceFields = { durability: 1, inPodResume: 1 } satisfies Record<keyof PersistenceSpec, 1>;
  const recoveryFields = {
    count: 1, bootCount: 1, outcomes: 1, lastOutcome: 1, lastTime: 1, lastDurationSeconds: 1, lastRestoredControllers: 1, lastInflightAbandoned: 1, workerRestarts: 1, workerHangs: 1,
  } satisfies Record<keyof RecoveryStatus, 1>;
  const status = root.properties!.status.properties!;
  const identityFields = {
    nsid: 1, volatile: 1, uuid: 1, nguid: 1, eui64: 1, incarnation: 1, backing: 1,
  } satisfies Record<keyof NamespaceIdentityStatus, 1>;
  const retiredFields = {
    nsid: 1, incarnation: 1, uuid: 1, nguid: 1, eui64: 1, backing: 1, retiredAt: 1,
  } satisfies Record<keyof RetiredNamespaceStatus, 1>;
  const backingFields = { file: 1, block: 1, memory: 1 } satisfies Record<keyof BackingSpec, 1>;
  assert.deepEqual(Object.keys(status.namespaces.items!.properties!).sort(), Object.keys(identityFields).sort());
  assert.deepEqual(Object.keys(status.retiredNamespaces.items!.properties!).sort(), Object.keys(retiredFields).sort());
  for (const [where, b] of [['spec', ns.items!], ['status', status.namespaces.items!], ['retired', status.retiredNamespaces.items!]] as const) {
    assert.deepEqual(Object.keys(b.properties!.backing.properties!).sort(), Object.keys(backingFields).sort(), `${where} backing`);
  }
  assert.deepEqual(Object.keys(spec.properties!.persistence.properties!).sort(), Object.keys(persistenceFields).sort());
  assert.deepEqual(Object.keys(root.properties!.status.properties!.recovery.properties!).sort(), Object.keys(recoveryFields).sort());
});

test('status: identities carry their incarnation and backing; retired namespaces are a bounded atomic list', () => {
  const status = root.properties!.status.properties!;
  const identity = status.namespaces.items!.properties!;
  assert.equal(identity.incarnation.type, 'integer');
  assert.equal(identity.incarnation.minimum, 0);
  const retired = status.retiredNamespaces;
  assert.equal(retired['x-kubernetes-list-type'], 'atomic');
  assert.equal(retired.maxItems, RETIRED_NAMESPACES_MAX);
  assert.deepEqual(retired.items!.required, ['nsid']);
  assert.equal(retired.items!.properties!.retiredAt.format, 'date-time');
  // Same shape as spec's backing, without its CEL rules: only the operator writes status.
  const shape = (s: Schema): unknown => ({ type: s.type, required: s.required, properties: Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, shape(v)])) });
  assert.deepEqual(shape(identity.backing), shape(ns.items!.properties!.backing));
  assert.deepEqual(shape(retired.items!.properties!.backing), shape(ns.items!.properties!.backing));
});

test('every field has a description (kubectl explain shows it), the resource itself too', () => {
  const missing: string[] = [];
  const walk = (s: Schema, path: string) => {
    // The apiserver refuses anything but type on the root's metadata ("must not specify anything other than
    // name and generateName"); kubectl explain shows ObjectMeta's own description there.
    if (path !== '.metadata' && !s.description?.trim()) missing.push(path || '(the resource)');
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`);
    // kubectl explain prints an array's description followed by its items'; object items describe one entry.
    if (s.items?.properties) walk(s.items, `${path}[]`);
  };
  walk(root, '');
  assert.deepEqual(missing, []);
  assert.equal(root.properties!.metadata.description, undefined, 'the apiserver refuses a description on metadata');
});

test('defaults: the listener defaults (port 4420, metrics 9420), hostNetwork true, Retain, process durability, no in-pod resume, 512-byte blocks', () => {
  const l = spec.properties!.listener.properties!;
  assert.deepEqual([DEFAULT_PORT, DEFAULT_METRICS_PORT], [4420, 9420]);
  assert.equal(l.port.default, DEFAULT_PORT, 'the CRD\'s default port is the target\'s (target/config/config.ts)');
  assert.equal(l.metricsPort.default, DEFAULT_METRICS_PORT);
  assert.equal(l.hostNetwork.default, true);
  assert.deepEqual(spec.properties!.listener.default, { port: DEFAULT_PORT, metricsPort: DEFAULT_METRICS_PORT, hostNetwork: true });
  assert.equal(spec.properties!.reclaimPolicy.default, 'Retain');
  assert.deepEqual(spec.properties!.reclaimPolicy.enum, ['Retain', 'Delete']);
  assert.equal(spec.properties!.persistence.properties!.durability.default, 'process');
  assert.equal(spec.properties!.persistence.properties!.inPodResume.type, 'boolean');
  assert.equal(spec.properties!.persistence.properties!.inPodResume.default, false, 'in-pod resume is opt-in');
  assert.deepEqual(spec.properties!.persistence.default, { durability: 'process', inPodResume: false });
  assert.deepEqual(ns.items!.properties!.blockSize.enum, [512, 4096]);
  assert.equal(spec.properties!.allowAnyHost.default, undefined, 'no silent default to any host');
});

test('CEL: unique nsids, hosts or allowAnyHost, NQN length in bytes, immutable identity', () => {
  assert.equal(ns['x-kubernetes-list-type'], 'map');
  assert.deepEqual(ns['x-kubernetes-list-map-keys'], ['nsid']);
  assert.ok(rules(ns).some((r) => r.includes('exists_one') && r.includes('nsid')));
  assert.ok(rules(spec).some((r) => r.includes('allowAnyHost') && r.includes('hosts')));
  assert.ok(rules(spec).some((r) => r.includes('oldSelf.nqn') && r.includes('self.nqn == oldSelf.nqn')));
  assert.ok(rules(root).some((r) => r.includes('oldSelf.status.nqn')), 'spec.nqn set later must be the NQN already served');
  assert.ok(rules(spec.properties!.nqn).includes('size(bytes(self)) <= 223'));
  assert.ok(rules(spec.properties!.hosts.items!).includes('size(bytes(self)) <= 223'));
  for (const id of ['uuid', 'nguid', 'eui64']) {
    // A transition rule on the namespace (oldSelf: the same nsid before the update) that keeps the identifier as it was.
    assert.ok(rules(ns.items!).some((r) => r.includes(`has(oldSelf.${id})`) && r.includes(`self.${id} == oldSelf.${id}`)), id);
  }
  assert.ok(rules(ns.items!).some((r) => r.includes('self.blockSize == oldSelf.blockSize')));
  assert.ok(rules(ns.items!.properties!.backing).some((r) => r.includes('== 1')), 'exactly one backing');
});

test('CEL: in-pod resume is refused with a memory namespace, with a message naming both', () => {
  const v = (spec['x-kubernetes-validations'] ?? []).filter((x) => x.rule.includes('inPodResume'));
  assert.equal(v.length, 1);
  const { rule, message } = v[0];
  assert.ok(rule.includes('has(self.persistence)') && rule.includes('has(self.persistence.inPodResume)'), 'persistence and the field may be absent');
  assert.ok(rule.includes('self.namespaces.exists(n, has(n.backing.memory))'), 'any memory-backed namespace');
  assert.ok(ns.maxItems, 'over a bounded list');
  assert.match(message, /persistence\.inPodResume/);
  assert.match(message, /memory namespace/);
  assert.ok(spec.properties!.persistence.properties!.inPodResume.description, 'the field says what it does');
});

test('CEL: every rule on an unbounded string or list is bounded, so the apiserver can estimate its cost', () => {
  const walk = (s: Schema, path: string) => {
    if (s['x-kubernetes-validations'] && s.type === 'string') assert.ok(s.maxLength, `${path} needs maxLength`);
    if (s['x-kubernetes-validations'] && s.type === 'array') assert.ok(s.maxItems, `${path} needs maxItems`);
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`);
    if (s.items) walk(s.items, `${path}[]`);
  };
  walk(root, '');
});

test('the CRD\'s NQN pattern accepts what the target accepts', () => {
  const re = regexIn(spec.properties!.nqn);
  for (const nqn of [
    'nqn.2024-01.io.nvmeof:storage:vol', 'nqn.2014-08.org.nvmexpress:uuid:2b9c7b8e-7f52-4c44-9c8a-2f1e8f0f9a01', 'nqn.2024-01.com.example',
    'nqn', 'foo', 'nqn.24-01.io.x:a', 'nqn.2024-01.:a', 'nqn.2024-01.io.x:', 'NQN.2024-01.io.x:a',
  ]) {
    assert.equal(re.test(nqn), nqnProblem(nqn) === undefined, nqn);
  }
});

test('the CRD\'s file path rules refuse what the operator refuses', () => {
  const p = ns.items!.properties!.backing.properties!.file.properties!.path;
  const re = regexIn(p);
  const celOk = (s: string) => !s.startsWith('/') && !s.split('/').some((x) => x === '..' || x === '.' || x === '') && re.test(s) && s !== 'state.bin';
  for (const path of ['ns1.img', 'a/b/c.img', '../x', '/etc/passwd', 'a/../b', 'a//b', '.hidden', '-x', 'state.bin', 'a b', 'data/state.bin']) {
    assert.equal(celOk(path), fileBackingPath(path).ok, path);
  }
});

test('the samples are valid resources the operator can realise', () => {
  const dir = join(crdDir(), 'samples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(files.sort(), ['authenticated.yaml', 'file-any-host.yaml', 'host-list.yaml', 'memory.yaml']);
  const kinds = new Set<string>();
  for (const f of files) {
    for (const obj of yaml.loadAll(readFileSync(join(dir, f), 'utf8')) as NvmeofSubsystem[]) {
      assert.equal(obj.apiVersion, API_VERSION, f);
      assert.equal(obj.kind, KIND, f);
      assert.ok(Boolean(obj.spec.allowAnyHost) !== Boolean(obj.spec.hosts?.length), `${f}: hosts xor allowAnyHost`);
      const sub = { ...obj, metadata: { ...obj.metadata, namespace: 'default', uid: 'u' } };
      const r = realise(sub, SETTINGS);
      assert.ok(r.ok, `${f}: ${r.ok ? '' : r.problem.message}`);
      for (const n of obj.spec.namespaces) kinds.add(Object.keys(n.backing)[0]);
    }
  }
  assert.deepEqual([...kinds].sort(), ['file', 'memory']);
});

test('CEL: authentication is refused with allowAnyHost, its hosts must be in hosts, a TLS listener needs a host with a PSK', () => {
  const rules = (spec['x-kubernetes-validations'] ?? []).filter((x) => x.rule.includes('authentication'));
  assert.equal(rules.length, 3);
  const [anyHost, inHosts, tls] = rules;
  assert.ok(anyHost.rule.includes('self.allowAnyHost') && /allowAnyHost/.test(anyHost.message) && /requires a host list/.test(anyHost.message));
  assert.ok(inHosts.rule.includes('h.nqn in self.hosts') && /must also be in hosts/.test(inHosts.message));
  assert.ok(tls.rule.includes("self.listener.tls != 'off'") && tls.rule.includes('has(h.tlsPsk)') && /tlsPsk/.test(tls.message));
  const auth = spec.properties!.authentication;
  assert.deepEqual(auth.required, ['secretName', 'hosts']);
  assert.ok(auth.properties!.hosts.maxItems, 'bounded, for the CEL cost');
  const host = auth.properties!.hosts.items!;
  for (const k of ['dhchapKey', 'dhchapCtrlKey', 'tlsPsk']) {
    const re = new RegExp(host.properties![k].pattern!);
    for (const ok of ['host-a.dhchap', 'A_1', 'k']) assert.ok(re.test(ok), `${k} takes ${ok}`);
    // Secret data keys are [-._a-zA-Z0-9]+; a leading dot would reach the volume's ..data and friends.
    for (const bad of ['..data', '.hidden', 'a/b', 'a:b', '']) assert.ok(!re.test(bad), `${k} refuses ${JSON.stringify(bad)}`);
  }
  assert.deepEqual(spec.properties!.listener.properties!.tls.enum, ['required', 'allowed', 'off']);
  assert.equal(spec.properties!.listener.properties!.tls.default, undefined, 'no default: an existing resource reads back unchanged');
});
