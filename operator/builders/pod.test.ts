import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SETTINGS, subsystem } from '../testing/fixtures.js';
import { desiredCleanupPod } from './cleanup-pod.js';
import { desiredConfigMap, desiredConfigMapName } from './configmap.js';
import { legacyConfigMapNameOf } from './legacy.js';
import { ANNOTATION_SPEC_HASH } from './names.js';
import { FILE_HEADER_SIZE, slotFileSize, SUPERVISOR_DEFAULTS } from '../../target/contract.js';
import { parseBytes } from './quantity.js';
import {
  configMapsOf, defaultResources, desiredPod, devicesOf, legacyPodSpecHash, pinnedNodeOf, podSpecHash, RESUME_CONNECTION_SLOTS, RESUME_SHM_SIZE_LIMIT, SUPERVISOR_ENTRYPOINT,
} from './pod.js';
import { desiredService } from './service.js';
import { realise, type Realisation } from './target-config.js';

function real(spec: Parameters<typeof subsystem>[0] = {}): { sub: ReturnType<typeof subsystem>; r: Realisation } {
  const sub = subsystem(spec);
  const r = realise(sub, SETTINGS);
  assert.ok(r.ok);
  return { sub, r: r.value };
}

test('desiredPod: image, command, hostNetwork, mounts, probes, owner', () => {
  const { sub, r } = real();
  const pod = desiredPod(sub, SETTINGS, r, { name: 'vol-target-abcde' });
  const c = pod.spec!.containers[0];
  assert.equal(c.image, SETTINGS.image);
  assert.equal(c.imagePullPolicy, 'Never');
  assert.deepEqual(c.command, ['node', '--max-semi-space-size=4', '/app/dist/target/main.js', '--config', '/etc/nvmeof/config.json']);
  assert.equal(pod.spec!.hostNetwork, true);
  assert.equal(pod.spec!.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.equal(pod.spec!.terminationGracePeriodSeconds, 15);
  assert.deepEqual(c.ports, [
    { name: 'nvme-tcp', containerPort: 4420, hostPort: 4420, protocol: 'TCP' },
    { name: 'metrics', containerPort: 9420, hostPort: 9420, protocol: 'TCP' },
  ]);
  assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 9420 });
  assert.deepEqual(pod.spec!.volumes!.find((v) => v.name === 'subsystem')?.hostPath, { path: '/var/lib/nvmeof/storage/vol', type: 'DirectoryOrCreate' });
  assert.equal(pod.spec!.volumes!.find((v) => v.name === 'config')?.configMap?.name, desiredConfigMapName(sub));
  assert.equal(c.securityContext?.privileged, false);
  assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
  assert.equal(pod.spec!.affinity, undefined, 'no pin before the first scheduling');
  assert.deepEqual(pod.metadata!.ownerReferences, [{ apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', name: 'vol', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  assert.equal(pod.metadata!.labels!['nvmeof.io/role'], 'target');
  assert.equal(pod.metadata!.annotations![ANNOTATION_SPEC_HASH], podSpecHash(sub, SETTINGS, r));
  assert.equal(pod.spec!.automountServiceAccountToken, false);
});

test('desiredPod: pinned pods get a required affinity to their node, by name', () => {
  const { sub, r } = real({ placement: { nodeName: 'n2', nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'k', operator: 'Exists' }] } });
  const unpinned = desiredPod(sub, SETTINGS, r, { name: 'p' });
  assert.equal(pinnedNodeOf(unpinned), 'n2');
  const pinned = desiredPod(sub, SETTINGS, r, { name: 'p', pinnedNode: 'n1' });
  assert.equal(pinnedNodeOf(pinned), 'n1', 'the node holding the state wins over spec.placement.nodeName');
  assert.deepEqual(pinned.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms,
    [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }]);
  assert.equal(pinned.spec!.nodeName, undefined, 'the scheduler still places it: cordons and taints apply');
  assert.deepEqual(pinned.spec!.nodeSelector, { disk: 'ssd' });
  assert.deepEqual(pinned.spec!.tolerations, [{ key: 'k', operator: 'Exists' }]);
  assert.equal(pinned.metadata!.annotations![ANNOTATION_SPEC_HASH], unpinned.metadata!.annotations![ANNOTATION_SPEC_HASH], 'pinning never rolls a pod');
});

test('desiredPod: block devices are mounted and make the container privileged', () => {
  const { sub, r } = real({ namespaces: [{ nsid: 1, backing: { block: { device: '/dev/sdb' } } }] });
  const pod = desiredPod(sub, SETTINGS, r, { name: 'p' });
  assert.deepEqual(devicesOf(pod), ['/dev/sdb']);
  assert.equal(pod.spec!.containers[0].securityContext?.privileged, true);
  assert.ok(pod.spec!.containers[0].volumeMounts!.some((m) => m.mountPath === '/dev/sdb'));
});

test('desiredPod: without hostNetwork no host ports', () => {
  const { sub, r } = real({ listener: { port: 4420, metricsPort: 9420, hostNetwork: false } });
  const pod = desiredPod(sub, SETTINGS, r, { name: 'p' });
  assert.equal(pod.spec!.hostNetwork, false);
  assert.ok(pod.spec!.containers[0].ports!.every((p) => p.hostPort === undefined));
});

test('podSpecHash: changes with what the pod is built from, not with its name', () => {
  const base = real();
  const h = podSpecHash(base.sub, SETTINGS, base.r);
  assert.equal(desiredPod(base.sub, SETTINGS, base.r, { name: 'a' }).metadata!.annotations![ANNOTATION_SPEC_HASH], desiredPod(base.sub, SETTINGS, base.r, { name: 'b' }).metadata!.annotations![ANNOTATION_SPEC_HASH]);
  // What a running target applies live leaves the hash (and the pod) as it is.
  for (const live of [
    { namespaces: [{ nsid: 1, size: '2Gi', blockSize: 512 as const, backing: { file: { path: 'ns1.img' } } }] },
    { hosts: ['nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001'] },
  ]) {
    const sub = subsystem(live, { generation: 9 });
    const rr = realise(sub, SETTINGS);
    assert.ok(rr.ok);
    assert.equal(podSpecHash(sub, SETTINGS, rr.value), h, JSON.stringify(live));
  }
  const changes: Array<[string, Parameters<typeof subsystem>[0] | undefined, typeof SETTINGS | undefined]> = [
    ['durability', { persistence: { durability: 'node' } }, undefined],
    ['port', { listener: { port: 4430, metricsPort: 9420, hostNetwork: true } }, undefined],
    ['resources', { resources: { limits: { memory: '1Gi' } } }, undefined],
    ['in-pod resume', { persistence: { inPodResume: true } }, undefined],
    ['image', undefined, { ...SETTINGS, image: 'localhost/nvmeof-target:2' }],
  ];
  for (const [what, spec, settings] of changes) {
    const sub = subsystem(spec ?? {});
    const rr = realise(sub, settings ?? SETTINGS);
    assert.ok(rr.ok);
    assert.notEqual(podSpecHash(sub, settings ?? SETTINGS, rr.value), h, what);
  }
});

test('desiredPod: in-pod resume runs the supervisor, its rings in a memory emptyDir at /dev/shm', () => {
  const plain = real();
  const { sub, r } = real({ persistence: { inPodResume: true } });
  const pod = desiredPod(sub, SETTINGS, r, { name: 'p' });
  const c = pod.spec!.containers[0];
  assert.deepEqual(c.command, [
    'node', '--max-semi-space-size=4', '/app/dist/target/supervisor.js', '--rings', '/dev/shm/nvmeof-rings', '--connection-slots', '32', '--config', '/etc/nvmeof/config.json',
  ]);
  assert.deepEqual(c.command!.slice(0, SUPERVISOR_ENTRYPOINT.length), SUPERVISOR_ENTRYPOINT);
  assert.deepEqual(pod.spec!.volumes!.find((v) => v.name === 'shm'), { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '200Mi' } });
  assert.deepEqual(c.volumeMounts!.find((m) => m.name === 'shm'), { name: 'shm', mountPath: '/dev/shm' });
  // The rings' tmpfs counts against the pod's memory: the default request makes room for it.
  assert.deepEqual(c.resources, { requests: { cpu: '25m', memory: '264Mi' } });
  // Nothing else differs: the same configuration (the target's flags), ports, probes and security context.
  const before = desiredPod(plain.sub, SETTINGS, plain.r, { name: 'p' });
  const strip = (p: typeof pod) => {
    const { command: _, resources: _r, volumeMounts, ...rest } = p.spec!.containers[0];
    return { ...rest, volumeMounts: volumeMounts!.filter((m) => m.name !== 'shm'), volumes: p.spec!.volumes!.filter((v) => v.name !== 'shm') };
  };
  assert.deepEqual(strip(pod), strip(before));
  assert.deepEqual(r.config, plain.r.config, 'the mode is the pod\'s, not the target configuration\'s');
});

test('defaultResources: in-pod resume adds the rings\' 200Mi to the default memory request and limit, never to a resource\'s own', () => {
  const on = real({ persistence: { inPodResume: true } }).sub;
  const off = real().sub;
  assert.deepEqual(defaultResources(off, SETTINGS), { requests: { cpu: '25m', memory: '64Mi' } });
  assert.deepEqual(defaultResources(on, SETTINGS), { requests: { cpu: '25m', memory: '264Mi' } });
  const chart = { ...SETTINGS, defaultResources: { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2G' } } };
  assert.deepEqual(defaultResources(on, chart), { requests: { cpu: '1', memory: '1224Mi' }, limits: { memory: '2108Mi' } });
  assert.deepEqual(defaultResources(off, chart), chart.defaultResources);
  // A quantity that is not a whole number of bytes is left as it is.
  assert.deepEqual(defaultResources(on, { ...SETTINGS, defaultResources: { requests: { memory: '1.5Gi' } } }), { requests: { memory: '1.5Gi' } });
  // A resource's own resources are used unchanged.
  const own = real({ persistence: { inPodResume: true }, resources: { requests: { memory: '64Mi' } } });
  assert.deepEqual(desiredPod(own.sub, SETTINGS, own.r, { name: 'p' }).spec!.containers[0].resources, { requests: { memory: '64Mi' } });
});

test('defaultResources: a node of 2 cores and 24 GiB admits several times the 18 idle subsystems 100m admitted', () => {
  // What the scheduler checks: requests against allocatable, after the operator's own 50m and 96Mi.
  const free = { millicores: 2000 - 50, mib: 24 * 1024 - 96 };
  for (const sub of [real().sub, real({ persistence: { inPodResume: true } }).sub]) {
    const req = defaultResources(sub, SETTINGS).requests!;
    const cpu = /^(\d+)m$/.exec(String(req.cpu));
    const mem = /^(\d+)Mi$/.exec(String(req.memory));
    assert.ok(cpu && mem, JSON.stringify(req));
    const pods = Math.min(Math.floor(free.millicores / Number(cpu[1])), Math.floor(free.mib / Number(mem[1])));
    assert.ok(pods >= 4 * 18, `${pods} pods of ${JSON.stringify(req)}`);
  }
});

test('legacyPodSpecHash: the upgrades that lowered the built-in default requests and brought live configuration roll no pod (hashes of the releases before them)', () => {
  // Computed by the operator of commit 5577673^ for these resources (100m/128Mi built in then).
  const before: Array<[Parameters<typeof subsystem>[0], string]> = [
    [{}, 'eb4705e9946a3dcc'],
    [{ persistence: { inPodResume: true } }, '4b61032984c2c71e'],
    [{ resources: { requests: { memory: '64Mi' } } }, '7d2862ac45c53649'],
  ];
  for (const [spec, hash] of before) {
    const { sub, r } = real(spec);
    // Such a pod mounts the ConfigMap that release named by the hash of its configuration (legacy.ts).
    const cm = legacyConfigMapNameOf(sub, r);
    assert.equal(legacyPodSpecHash(sub, SETTINGS, r, cm), hash, JSON.stringify(spec));
    // The operator's own default (--target-cpu-request ...) is used by new pods and rolls none either.
    const tunedSettings = { ...SETTINGS, defaultResources: { requests: { cpu: '10m', memory: '48Mi' } } };
    assert.equal(legacyPodSpecHash(sub, tunedSettings, r, cm), hash, JSON.stringify(spec));
    assert.equal(podSpecHash(sub, tunedSettings, r), podSpecHash(sub, SETTINGS, r), JSON.stringify(spec));
    const tuned = desiredPod(sub, tunedSettings, r, { name: 'p' });
    if (!spec?.resources) assert.equal(tuned.spec!.containers[0].resources!.requests!.cpu, '10m');
  }
  // The pod itself gets today's default; a resource's own resources still count in the hash.
  const { sub, r } = real();
  assert.deepEqual(desiredPod(sub, SETTINGS, r, { name: 'p' }).spec!.containers[0].resources, { requests: { cpu: '25m', memory: '64Mi' } });
  const own = real({ resources: { requests: { memory: '96Mi' } } });
  assert.notEqual(podSpecHash(own.sub, SETTINGS, own.r), 'eb4705e9946a3dcc');
});

test('desiredPod: without in-pod resume (absent or false) the pod is the one of before the mode existed', () => {
  const absent = real();
  const off = real({ persistence: { durability: 'process', inPodResume: false } });
  const a = desiredPod(absent.sub, SETTINGS, absent.r, { name: 'p' });
  const b = desiredPod(off.sub, SETTINGS, off.r, { name: 'p' });
  assert.equal(JSON.stringify(b), JSON.stringify(a), 'byte for byte, hash included: existing pods are not rolled');
  assert.deepEqual(a.spec!.containers[0].command!.slice(0, 3), ['node', '--max-semi-space-size=4', '/app/dist/target/main.js']);
  assert.ok(!a.spec!.volumes!.some((v) => v.name === 'shm'));
  assert.ok(!a.spec!.containers[0].volumeMounts!.some((m) => m.mountPath === '/dev/shm'));
});

test('desiredPod: the /dev/shm limit holds every connection slot with the supervisor\'s default rings', () => {
  // The supervisor's defaults, which the pod does not override.
  const d = SUPERVISOR_DEFAULTS;
  const perSlot = slotFileSize({ slots: RESUME_CONNECTION_SLOTS, rxSize: d.rxRingBytes, txSize: d.txRingBytes, records: d.recordsPerSlot });
  assert.equal(perSlot, 6_430_720);
  const need = FILE_HEADER_SIZE + RESUME_CONNECTION_SLOTS * perSlot;
  const limit = parseBytes(RESUME_SHM_SIZE_LIMIT);
  assert.ok(need <= limit, `${RESUME_CONNECTION_SLOTS} slots need ${need} bytes, over ${RESUME_SHM_SIZE_LIMIT}`);
  assert.ok(limit - need < perSlot, `${RESUME_SHM_SIZE_LIMIT} leaves room for more than ${RESUME_CONNECTION_SLOTS} slots: raise the slots or lower the limit`);
});

test('desiredConfigMap: the target configuration with its generation, one per subsystem, a stable name, updated in place', () => {
  const { sub, r } = real();
  const cm = desiredConfigMap(sub, r);
  assert.equal(cm.immutable, undefined, 'mutable: a live change updates it');
  assert.deepEqual(JSON.parse(cm.data!['config.json']), JSON.parse(JSON.stringify(r.config)));
  assert.equal(r.config.generation, sub.metadata.generation ?? 0);
  assert.equal(cm.metadata!.name, 'vol-target-config');
  const other = real({ persistence: { durability: 'node' } });
  assert.equal(desiredConfigMap(other.sub, other.r).metadata!.name, cm.metadata!.name);
  assert.notEqual(desiredConfigMap(other.sub, other.r).data!['config.json'], cm.data!['config.json']);
  assert.deepEqual(configMapsOf(desiredPod(sub, SETTINGS, r, { name: 'p' })), [cm.metadata!.name]);
});

test('desiredService: metrics port of the subsystem pod', () => {
  const { sub, r } = real({ listener: { port: 4420, metricsPort: 9555, hostNetwork: true } });
  const svc = desiredService(sub, r);
  assert.equal(svc.metadata!.name, 'vol-metrics');
  assert.deepEqual(svc.spec!.selector, { 'nvmeof.io/subsystem-uid': 'uid-1', 'nvmeof.io/role': 'target' });
  assert.deepEqual(svc.spec!.ports, [{ name: 'metrics', port: 9555, targetPort: 9555, protocol: 'TCP' }]);
});

test('desiredCleanupPod: runs on the node, removes only the subsystem directory', () => {
  const sub = subsystem();
  const pod = desiredCleanupPod(sub, SETTINGS, 'n1', '/var/lib/nvmeof/storage/vol');
  assert.equal(pinnedNodeOf(pod), 'n1');
  assert.deepEqual(pod.spec!.tolerations, [{ operator: 'Exists' }]);
  assert.equal(pod.spec!.restartPolicy, 'Never');
  assert.deepEqual(pod.spec!.volumes![0].hostPath, { path: '/var/lib/nvmeof/storage', type: 'DirectoryOrCreate' });
  const cmd = pod.spec!.containers[0].command!;
  assert.equal(cmd[0], 'node');
  assert.equal(cmd.at(-1), '/nvmeof-namespace/vol');
  assert.equal(pod.metadata!.ownerReferences![0].blockOwnerDeletion, false);
  assert.equal(pod.spec!.containers[0].securityContext?.privileged, false);
});
