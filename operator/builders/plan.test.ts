import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ConfigMap, V1Pod, V1Service } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { PRIVILEGED_NS, SETTINGS, subsystem, withState, type PodState } from '../testing/fixtures.js';
import type { Action, Plan } from './actions.js';
import { desiredConfigMap } from './configmap.js';
import { desiredBudget } from './pdb.js';
import { CONFIG_PENDING_POLL_MS, CONFIG_REJECTED_POLL_MS } from './config-applied.js';
import { legacyConfigMapNameOf } from './legacy.js';
import { ANNOTATION_SPEC_HASH } from './names.js';
import { desiredPod, legacyPodSpecHash, pinnedNodeOf } from './pod.js';
import { planLive, READY_REFRESH_MS, type PlanInput } from './plan.js';
import { desiredService } from './service.js';
import { realise } from './target-config.js';

const NOW = '2026-01-01T01:00:00Z';

function built(sub: NvmeofSubsystem, settings = SETTINGS) {
  const r = realise(sub, settings);
  assert.ok(r.ok);
  return r.value;
}
function podOf(sub: NvmeofSubsystem, name: string, state: PodState, settings = SETTINGS, pinnedNode?: string): V1Pod {
  return withState(desiredPod(sub, settings, built(sub, settings), { name, ...(pinnedNode ? { pinnedNode } : {}) }), state);
}
function cmOf(sub: NvmeofSubsystem): V1ConfigMap {
  return { ...desiredConfigMap(sub, built(sub)), metadata: { ...desiredConfigMap(sub, built(sub)).metadata, uid: 'cm-uid' } };
}
function svcOf(sub: NvmeofSubsystem): V1Service {
  const s = desiredService(sub, built(sub));
  return { ...s, spec: { ...s.spec, clusterIP: '10.96.0.10' } };
}

function input(sub: NvmeofSubsystem, over: Partial<PlanInput> = {}): PlanInput {
  // The owned objects already exist, when the resource can be realised at all.
  const realisable = realise(sub, SETTINGS).ok;
  return {
    sub, settings: SETTINGS, now: NOW, targetPods: [], configMaps: realisable ? [cmOf(sub)] : [], ...(realisable ? { service: svcOf(sub) } : {}),
    budget: desiredBudget(sub), namespace: PRIVILEGED_NS, nodeNames: new Set(['n1', 'n2']), newPodSuffix: 'new01', ...over,
  };
}

/** Actions in a compact form: "createPod:first@n1", "delete:Pod/x", "event:Warning/NodeGone", ... */
function brief(plan: Plan): string[] {
  return plan.actions.map((a: Action) => {
    switch (a.kind) {
      case 'apply': return `apply:${a.object.kind}`;
      case 'createPod': return `createPod:${a.cause}${pinnedNodeOf(a.pod) ? `@${pinnedNodeOf(a.pod)}` : ''}`;
      case 'delete': return `delete:${a.objectKind}/${a.name}`;
      case 'event': return `event:${a.type}/${a.reason}`;
      default: return a.kind;
    }
  });
}
const ready = (plan: Plan) => plan.status!.conditions!.find((c) => c.type === 'Ready')!;

test('planLive: table of situations', () => {
  const sub = subsystem();
  const pinnedSub = subsystem({}, {}, { node: 'n1', podName: 'vol-target-old01', nqn: 'nqn.2024-01.io.nvmeof:storage:vol' });
  const changed = subsystem({ persistence: { durability: 'node' } }, { generation: 2 }, { node: 'n1', podName: 'vol-target-old01' });
  const cases: Array<[string, PlanInput, string[], string]> = [
    ['a new resource gets its ConfigMap, Service, budget and first pod',
      input(sub, { configMaps: [], service: undefined, budget: undefined }),
      ['apply:ConfigMap', 'apply:Service', 'apply:PodDisruptionBudget', 'createPod:first', 'event:Normal/PodCreated'], 'PodCreating'],
    ['a serving subsystem of an earlier release gets its budget, and its pod stays',
      input(pinnedSub, { budget: undefined, targetPods: [podOf(pinnedSub, 'vol-target-old01', { node: 'n1', ready: true })] }),
      ['apply:PodDisruptionBudget'], 'TargetReady'],
    ['reclaimPolicy Delete adds the finalizer first',
      input(subsystem({ reclaimPolicy: 'Delete' })),
      ['addFinalizer', 'createPod:first', 'event:Normal/PodCreated'], 'PodCreating'],
    ['reclaimPolicy back to Retain releases the finalizer',
      input(subsystem({ reclaimPolicy: 'Retain' }, { finalizers: ['nvmeof.io/cleanup'] }), { targetPods: [podOf(sub, 'p1', { node: 'n1', ready: true })] }),
      ['removeFinalizer'], 'TargetReady'],
    ['a ready, current pod: nothing to do',
      input(pinnedSub, { targetPods: [podOf(pinnedSub, 'vol-target-old01', { node: 'n1', ready: true })] }),
      [], 'TargetReady'],
    ['a deleted pod is recreated on the node holding the state',
      input(pinnedSub),
      ['createPod:lost@n1', 'event:Normal/PodRecreated'], 'PodCreating'],
    ['a terminating pod does not wait: its successor is created at once (the target waits for the lock)',
      input(pinnedSub, { targetPods: [podOf(pinnedSub, 'vol-target-old01', { node: 'n1', ready: true, deleting: true })] }),
      ['createPod:lost@n1', 'event:Normal/PodRecreated'], 'PodCreating'],
    ['a pod that ended is replaced',
      input(pinnedSub, { targetPods: [podOf(pinnedSub, 'vol-target-old01', { node: 'n1', phase: 'Failed' })] }),
      ['delete:Pod/vol-target-old01', 'createPod:lost@n1', 'event:Normal/PodRecreated'], 'PodCreating'],
    ['a spec change rolls the pod, on the same node',
      input(changed, { targetPods: [podOf(pinnedSub, 'vol-target-old01', { node: 'n1', ready: true })], configMaps: [cmOf(pinnedSub)] }),
      ['delete:Pod/vol-target-old01', 'apply:ConfigMap', 'createPod:rolled@n1', 'event:Normal/PodReplaced'], 'PodCreating'],
    ['two live pods: the newer goes',
      input(pinnedSub, { targetPods: [podOf(pinnedSub, 'b', { node: 'n1', ready: true, created: '2026-01-01T00:02:00Z' }), podOf(pinnedSub, 'a', { node: 'n1', ready: true })] }),
      ['delete:Pod/b'], 'TargetReady'],
    ['an unscheduled pod pinned elsewhere than the spec now says is replaced',
      input(subsystem({ placement: { nodeName: 'n2' } }), { targetPods: [podOf(subsystem({ placement: { nodeName: 'n1' } }), 'p', {})] }),
      ['delete:Pod/p', 'createPod:rolled@n2', 'event:Normal/PodReplaced'], 'PodCreating'],
    ['a namespace that is not privileged gets no pod, and a running one is stopped',
      input(pinnedSub, { namespace: { metadata: { name: 'storage' } }, targetPods: [podOf(pinnedSub, 'p', { node: 'n1', ready: true })] }),
      ['delete:Pod/p', 'event:Warning/TargetStopped', 'event:Warning/NamespaceNotPrivileged'], 'NamespaceNotPrivileged'],
    ['a device taken off the allow-list stops the pod using it',
      input(subsystem({ namespaces: [{ nsid: 1, backing: { block: { device: '/dev/sdb' } } }] }, {}, { node: 'n1' }), {
        settings: { ...SETTINGS, allowedDevices: [] },
        targetPods: [podOf(subsystem({ namespaces: [{ nsid: 1, backing: { block: { device: '/dev/sdb' } } }] }), 'p', { node: 'n1', ready: true })],
      }),
      ['delete:Pod/p', 'event:Warning/TargetStopped', 'event:Warning/DeviceNotAllowed'], 'DeviceNotAllowed'],
    ['an edit the operator cannot realise keeps the running pod',
      input(subsystem({ namespaces: [{ nsid: 1, size: '1.5Gi', backing: { memory: {} } }] }, {}, { node: 'n1' }), { targetPods: [podOf(pinnedSub, 'p', { node: 'n1', ready: true })] }),
      ['event:Warning/InvalidSpec'], 'InvalidSpec'],
    ['the node holding the state is gone: no pod elsewhere',
      input(pinnedSub, { nodeNames: new Set(['n2']) }),
      ['event:Warning/NodeGone'], 'NodeGone'],
    ['a nodeName that is no node',
      input(subsystem({ placement: { nodeName: 'n9' } })),
      ['event:Warning/NodeNotFound'], 'NodeNotFound'],
    ['a port conflict: no pod, one Warning',
      input(sub, { portConflict: { with: 'storage/other', port: 4420, node: 'n1' } }),
      ['event:Warning/PortConflict'], 'PortConflict'],
    ['the same problem again: no new Warning',
      input(subsystem({}, {}, { conditions: [{ type: 'Ready', status: 'False', reason: 'PortConflict', message: '', lastTransitionTime: NOW }] }), { portConflict: { with: 'storage/other', port: 4420, node: 'n1' } }),
      [], 'PortConflict'],
    ['a port conflict loser whose pod never started serving (both created in one apply): the pod goes',
      input(sub, { portConflict: { with: 'storage/other', port: 4420, node: 'n1' }, targetPods: [podOf(sub, 'pending', {})] }),
      ['delete:Pod/pending', 'event:Warning/TargetStopped', 'event:Warning/PortConflict'], 'PortConflict'],
    ['an identity conflict: no pod, one Warning naming the other resource',
      input(sub, { identityConflict: { with: 'storage/first', what: 'NQN nqn.2024-01.io.nvmeof:x', where: 'its NQN' } }),
      ['event:Warning/IdentityConflict'], 'IdentityConflict'],
    ['an identity conflict never stops a pod that already serves',
      input(sub, { identityConflict: { with: 'storage/first', what: 'NQN nqn.2024-01.io.nvmeof:x', where: 'its NQN' }, targetPods: [podOf(sub, 'p', { node: 'n1', ready: true })] }),
      ['event:Warning/IdentityConflict'], 'IdentityConflict'],
    ['memory namespaces larger than the pod\'s memory limit: no pod, both numbers said',
      input(subsystem({ namespaces: [{ nsid: 1, size: '64Gi', backing: { memory: {} } }], resources: { limits: { memory: '1Gi' } } }), { memory: { limit: '1Gi' }, configMaps: [], service: undefined }),
      ['event:Warning/MemoryTooSmall'], 'MemoryTooSmall'],
    ['a Service that drifted is applied again',
      input(sub, { service: { ...svcOf(sub), spec: { ...svcOf(sub).spec, ports: [{ name: 'metrics', port: 1, targetPort: 1, protocol: 'TCP' }] } }, targetPods: [podOf(sub, 'p', { node: 'n1', ready: true })] }),
      ['apply:Service'], 'TargetReady'],
    ['a leftover cleanup pod is removed',
      input(sub, { cleanupPod: withState({ metadata: { name: 'vol-cleanup' }, spec: { containers: [] } }, { node: 'n1' }), targetPods: [podOf(sub, 'p', { node: 'n1', ready: true })] }),
      ['delete:Pod/vol-cleanup'], 'TargetReady'],
  ];
  for (const [what, inp, actions, reason] of cases) {
    const plan = planLive(inp);
    assert.deepEqual(brief(plan), actions, what);
    assert.equal(ready(plan).reason, reason, what);
  }
});

test('planLive: an identity conflict names the other resource and what clashes', () => {
  const plan = planLive(input(subsystem(), { identityConflict: { with: 'storage/first', what: 'uuid 11111111-2222-8333-8444-555555555555', where: 'nsid 2' } }));
  assert.match(ready(plan).message, /^uuid 11111111-2222-8333-8444-555555555555 is already used by nsid 2 of NvmeofSubsystem storage\/first: /);
  const mem = planLive(input(subsystem({ namespaces: [{ nsid: 1, size: '64Gi', backing: { memory: {} } }] }), { memory: { limit: '1Gi' } }));
  assert.match(ready(mem).message, /68719476736 bytes .* more than the pod's memory limit 1Gi = 1073741824 bytes/);
});

test('planLive: a namespace moved to other data is recorded as retired, its nsid a new incarnation', () => {
  const first = planLive(input(subsystem()));
  const was = first.status!.namespaces![0];
  const moved = subsystem({ namespaces: [{ nsid: 1, size: '1Gi', blockSize: 512, backing: { file: { path: 'other.img' } } }] }, { generation: 2 }, first.status);
  const plan = planLive(input(moved, { configMaps: [] }));
  assert.equal(plan.status!.namespaces![0].incarnation, 1);
  assert.notEqual(plan.status!.namespaces![0].uuid, was.uuid);
  assert.deepEqual(plan.status!.retiredNamespaces, [{ nsid: 1, uuid: was.uuid, nguid: was.nguid, eui64: was.eui64, backing: { file: { path: 'ns1.img' } }, retiredAt: NOW }]);
});

test('planLive: status of a ready subsystem', () => {
  const sub = subsystem({}, { generation: 4 });
  const pod = podOf(sub, 'vol-target-abc', { node: 'n1', ready: true, ip: '192.168.1.10' });
  const recovery = { count: 3, bootCount: 3, outcomes: { fresh: 1, clean: 0, restored: 2, corrupt: 0 }, lastOutcome: 'restored' as const };
  const plan = planLive(input(sub, { targetPods: [pod], recovery }));
  assert.deepEqual(plan.actions, []);
  const s = plan.status!;
  assert.equal(s.observedGeneration, 4);
  assert.equal(s.node, 'n1', 'pinned once scheduled');
  assert.equal(s.podName, 'vol-target-abc');
  assert.equal(s.endpoint, '192.168.1.10:4420');
  assert.equal(s.nqn, 'nqn.2024-01.io.nvmeof:storage:vol');
  assert.deepEqual(s.recovery, recovery);
  assert.equal(s.namespaces?.[0].nsid, 1);
  assert.match(s.namespaces![0].uuid!, /^[0-9a-f-]{36}$/);
  assert.equal(plan.requeueAfterMs, READY_REFRESH_MS);
});

test('planLive: recovery and podName survive a reconcile that cannot read them', () => {
  const recovery = { count: 7, bootCount: 7, outcomes: { fresh: 1, clean: 0, restored: 6, corrupt: 0 } };
  const sub = subsystem({}, {}, { node: 'n1', podName: 'gone', recovery });
  const plan = planLive(input(sub, { nodeNames: new Set() }));
  assert.deepEqual(plan.status!.recovery, recovery);
  assert.equal(plan.status!.podName, 'gone');
  assert.equal(plan.status!.endpoint, undefined);
});

test('planLive: ConfigMaps no pod uses are removed; those a terminating pod uses are kept', () => {
  const sub = subsystem();
  const legacy = { ...cmOf(sub), metadata: { ...cmOf(sub).metadata, name: 'vol-target-0123456789', uid: 'old-cm' } };
  const unused = { ...legacy, metadata: { ...legacy.metadata, name: 'vol-target-0000000000', uid: 'u' } };
  const leaving = podOf(sub, 'old', { node: 'n1', deleting: true });
  leaving.spec!.volumes = leaving.spec!.volumes!.map((v) => (v.configMap ? { ...v, configMap: { name: legacy.metadata.name } } : v));
  const plan = planLive(input(sub, { configMaps: [cmOf(sub), legacy, unused], targetPods: [leaving, podOf(sub, 'cur', { node: 'n1', ready: true })] }));
  assert.deepEqual(brief(plan), ['delete:ConfigMap/vol-target-0000000000']);
});

test('planLive: spec.placement.nodeName after pinning is reported, not obeyed', () => {
  const sub = subsystem({ placement: { nodeName: 'n2' } }, {}, { node: 'n1' });
  const plan = planLive(input(sub, { targetPods: [podOf(sub, 'p', { node: 'n1', ready: true }, SETTINGS, 'n1')] }));
  assert.deepEqual(brief(plan), []);
  const degraded = plan.status!.conditions!.find((c) => c.type === 'Degraded')!;
  assert.equal(degraded.reason, 'PlacementIgnored');
  assert.equal(ready(plan).status, 'True');
});

test('planLive: a malformed resource yields a condition, never an exception', () => {
  const broken = [
    { ...subsystem(), spec: undefined as never },
    subsystem({ namespaces: [{ nsid: 'x' as never, size: '1Mi', backing: { memory: {} } }] }),
    subsystem({ listener: { port: 0 } }),
    subsystem({ hosts: ['not-an-nqn'], allowAnyHost: undefined }),
  ];
  for (const sub of broken) {
    const plan = planLive(input(sub));
    assert.equal(ready(plan).status, 'False');
    assert.ok(!plan.actions.some((a) => a.kind === 'createPod'));
  }
});

test('planLive: a live change keeps the pod: the ConfigMap is updated, the pod annotated, the event names the change', () => {
  const was = subsystem({}, { generation: 1 }, { node: 'n1', podName: 'p' });
  const now = subsystem({ namespaces: [{ nsid: 1, size: '2Gi', blockSize: 512, backing: { file: { path: 'ns1.img' } } }, { nsid: 2, size: '1Gi', blockSize: 512, backing: { file: { path: 'ns2.img' } } }] }, { generation: 2 }, { node: 'n1', podName: 'p' });
  const pod = podOf(was, 'p', { node: 'n1', ready: true }, SETTINGS, 'n1');
  const plan = planLive(input(now, { targetPods: [pod], configMaps: [cmOf(was)], servedConfig: { servedGeneration: 1 } }));
  assert.deepEqual(brief(plan), ['apply:ConfigMap', 'annotatePod', 'event:Normal/ConfigUpdated']);
  const annotate = plan.actions.find((a) => a.kind === 'annotatePod');
  assert.deepEqual(annotate, { kind: 'annotatePod', name: 'p', uid: 'p-uid', annotations: { 'nvmeof.io/config-generation': '2' } });
  const event = plan.actions.find((a) => a.kind === 'event');
  assert.match(event && event.kind === 'event' ? event.message : '', /generation 2 .* live: namespace 1 grown, namespace 2 added$/);
  assert.equal(plan.status!.conditions!.find((c) => c.type === 'Progressing')!.reason, 'Reconciled', 'nothing rolls');
  const applied = plan.status!.conditions!.find((c) => c.type === 'ConfigApplied')!;
  assert.deepEqual([applied.status, applied.reason], ['False', 'ConfigPending']);
  assert.equal(plan.requeueAfterMs, CONFIG_PENDING_POLL_MS, 'asked again soon: nothing tells the operator when the target takes it');
  // Once the ConfigMap and the annotation are there, nothing more is done until the target serves it.
  const after = { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata!.annotations, 'nvmeof.io/config-generation': '2' } } };
  const again = planLive(input(now, { targetPods: [after], configMaps: [cmOf(now)], servedConfig: { servedGeneration: 2, appliedAt: NOW } }));
  assert.deepEqual(brief(again), []);
  assert.deepEqual(again.status!.config, { servedGeneration: 2, appliedAt: NOW });
  assert.equal(again.status!.conditions!.find((c) => c.type === 'ConfigApplied')!.status, 'True');
});

test('planLive: a roll names the changed fields in its event', () => {
  const was = subsystem({}, { generation: 1 }, { node: 'n1', podName: 'p' });
  const now = subsystem({ resources: { requests: { cpu: '1' } }, persistence: { durability: 'node' } }, { generation: 2 }, { node: 'n1', podName: 'p' });
  const plan = planLive(input(now, { targetPods: [podOf(was, 'p', { node: 'n1', ready: true }, SETTINGS, 'n1')], configMaps: [cmOf(was)] }));
  const replaced = plan.actions.find((a) => a.kind === 'event' && a.reason === 'PodReplaced');
  assert.match(replaced && replaced.kind === 'event' ? replaced.message : '', /: changed: resources, durability$/);
  assert.ok(!plan.actions.some((a) => a.kind === 'annotatePod'), 'the leaving pod is not handed the new configuration');
});

test('planLive: a pod of the release before live configuration is kept until a change would roll it; it is never told of one', () => {
  const sub = subsystem({}, { generation: 3 }, { node: 'n1', podName: 'old' });
  // What that release built: the template naming the ConfigMap by its configuration's hash, hashed alone.
  const r = built(sub);
  const legacyCm = legacyConfigMapNameOf(sub, r);
  const old = podOf(sub, 'old', { node: 'n1', ready: true }, SETTINGS, 'n1');
  old.spec!.volumes = old.spec!.volumes!.map((v) => (v.configMap ? { ...v, configMap: { name: legacyCm } } : v));
  old.metadata!.annotations = { [ANNOTATION_SPEC_HASH]: legacyPodSpecHash(sub, SETTINGS, r, legacyCm) };
  const oldCm = { ...cmOf(sub), metadata: { ...cmOf(sub).metadata, name: legacyCm, uid: 'legacy' } };
  const kept = planLive(input(sub, { targetPods: [old], configMaps: [oldCm], configNotReported: true }));
  assert.deepEqual(brief(kept), ['apply:ConfigMap'], 'the new ConfigMap is made beside the old one, which the pod keeps');
  const applied = kept.status!.conditions!.find((c) => c.type === 'ConfigApplied')!;
  assert.deepEqual([applied.status, applied.reason], ['Unknown', 'ConfigUnknown']);
  assert.match(applied.message, /reports no configuration generation/);
  // Any change of the configuration (one a new target would take live) rolls it, once.
  const grown = subsystem({ hosts: ['nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000a'], allowAnyHost: undefined }, { generation: 4 }, { node: 'n1', podName: 'old' });
  const rolled = planLive(input(grown, { targetPods: [old], configMaps: [oldCm, cmOf(sub)] }));
  assert.deepEqual(brief(rolled), ['delete:Pod/old', 'apply:ConfigMap', 'createPod:rolled@n1', 'event:Normal/PodReplaced']);
  const replaced = rolled.actions.find((a) => a.kind === 'event' && a.reason === 'PodReplaced');
  assert.match(replaced && replaced.kind === 'event' ? replaced.message : '', /changed: configuration ConfigMap \(a pod of a release before live configuration\)$/);
});

test('planLive: a change the target refused: ConfigApplied False with its message, one Warning per refusal', () => {
  const sub = subsystem({}, { generation: 5 }, { node: 'n1', podName: 'p', config: { servedGeneration: 4 } });
  const pod = podOf(sub, 'p', { node: 'n1', ready: true }, SETTINGS, 'n1');
  const rejected = { generation: 5, error: 'subsystems[0].namespaces[0].backing.size: a memory namespace\'s size is fixed', at: NOW };
  const plan = planLive(input(sub, { targetPods: [pod], servedConfig: { servedGeneration: 4, rejected } }));
  assert.deepEqual(brief(plan), ['event:Warning/ConfigRejected']);
  const c = plan.status!.conditions!.find((x) => x.type === 'ConfigApplied')!;
  assert.deepEqual([c.status, c.reason], ['False', 'ConfigRejected']);
  assert.match(c.message, /refused generation 5: subsystems\[0\]\.namespaces\[0\]\.backing\.size: a memory namespace's size is fixed; it keeps serving generation 4$/);
  assert.equal(plan.requeueAfterMs, CONFIG_REJECTED_POLL_MS, 'read again: the target may take it later (a key file that appears)');
  const seen = subsystem({}, { generation: 5 }, { ...plan.status!, podName: 'p' });
  assert.deepEqual(brief(planLive(input(seen, { targetPods: [pod], servedConfig: { servedGeneration: 4, rejected } }))), [], 'said once');
});

test('planLive: a namespace the target took offline: Degraded NamespaceOffline, status.offlineNamespaces, one Warning', () => {
  const sub = subsystem({}, { generation: 1 }, { node: 'n1', podName: 'p', config: { servedGeneration: 1 } });
  const pod = podOf(sub, 'p', { node: 'n1', ready: true }, SETTINGS, 'n1');
  const off = [{ nsid: 1, path: '/var/lib/nvmeof/default/vol/ns1.img', reason: 'SIGBUS on the mapping of ... (read at byte 4096)', since: NOW }];
  const recovery = { count: 0, bootCount: 1, outcomes: { fresh: 1, clean: 0, restored: 0, corrupt: 0 } };
  const plan = planLive(input(sub, { targetPods: [pod], servedConfig: { servedGeneration: 1 }, recovery, offline: off }));
  assert.deepEqual(brief(plan), ['event:Warning/NamespaceOffline']);
  assert.deepEqual(plan.status!.offlineNamespaces, off);
  const degraded = plan.status!.conditions!.find((c) => c.type === 'Degraded')!;
  assert.deepEqual([degraded.status, degraded.reason], ['True', 'NamespaceOffline']);
  assert.match(degraded.message, /^namespace 1 \(\/var\/lib\/nvmeof\/default\/vol\/ns1\.img\) is offline since .*: SIGBUS on the mapping/);
  assert.equal(ready(plan).status, 'True', 'the target still serves the subsystem (its other namespaces)');
  const seen = subsystem({}, { generation: 1 }, { ...plan.status!, podName: 'p' });
  const again = planLive(input(seen, { targetPods: [pod], servedConfig: { servedGeneration: 1 }, recovery, offline: off }));
  assert.deepEqual(brief(again), [], 'said once');
  const unread = planLive(input(seen, { targetPods: [pod] }));
  assert.deepEqual(unread.status!.offlineNamespaces, off, 'a failed read keeps what the same pod said');
  const fresh = planLive(input(seen, { targetPods: [pod], servedConfig: { servedGeneration: 1 }, recovery, offline: [] }));
  assert.equal(fresh.status!.offlineNamespaces, undefined);
  assert.deepEqual(fresh.status!.conditions!.find((c) => c.type === 'Degraded')!.status, 'False', 'none offline: Degraded goes');
});
