import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1PodSpec } from '@kubernetes/client-node';
import type { NvmeofSubsystemSpec } from '../api/types.js';
import { SETTINGS, subsystem } from '../testing/fixtures.js';
import { classifyChange, podChanges, type Built, type Change } from './live-change.js';
import { desiredPod } from './pod.js';
import type { TargetSettings } from './settings.js';
import { realise } from './target-config.js';

const HOST_A = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000a';
const HOST_B = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000b';
const NS1 = { nsid: 1, size: '1Gi', blockSize: 512 as const, backing: { file: { path: 'ns1.img' } } };
const NS2 = { nsid: 2, size: '1Gi', blockSize: 512 as const, backing: { file: { path: 'ns2.img' } } };
const DEV = (nsid: number, device: string) => ({ nsid, blockSize: 512 as const, backing: { block: { device } } });
const SPEC: Partial<NvmeofSubsystemSpec> = { allowAnyHost: undefined, hosts: [HOST_A, HOST_B], namespaces: [NS1] };
const DEVICES: TargetSettings = { ...SETTINGS, allowedDevices: ['/dev/sd*'] };

/** What a pod is built from, for a spec over the base one; the generation differs as it would. */
function built(over: Partial<NvmeofSubsystemSpec> = {}, settings: TargetSettings = DEVICES, generation = 1, node?: string): Built {
  const sub = subsystem({ ...SPEC, ...over }, { generation });
  const r = realise(sub, settings);
  assert.ok(r.ok, JSON.stringify(r));
  return { pod: desiredPod(sub, settings, r.value, { name: 'p', ...(node ? { pinnedNode: node } : {}) }).spec!, config: r.value.config };
}

// One row per row of the README's table ("What changes live, what rolls the pod").
const ROWS: Array<[string, Built, Built, Change]> = [
  ['a namespace added', built(), built({ namespaces: [NS1, NS2] }, DEVICES, 2), { roll: [], live: ['namespace 2 added'] }],
  ['a namespace removed', built({ namespaces: [NS1, NS2] }), built({}, DEVICES, 2), { roll: [], live: ['namespace 2 removed'] }],
  ['a file namespace grown', built(), built({ namespaces: [{ ...NS1, size: '2Gi' }] }, DEVICES, 2), { roll: [], live: ['namespace 1 grown'] }],
  ['a memory namespace grown (the target refuses it: ConfigRejected)',
    built({ namespaces: [{ nsid: 1, size: '16Mi', backing: { memory: {} } }] }), built({ namespaces: [{ nsid: 1, size: '32Mi', backing: { memory: {} } }] }, DEVICES, 2),
    { roll: [], live: ['namespace 1 grown'] }],
  ['a host removed', built(), built({ hosts: [HOST_A] }, DEVICES, 2), { roll: [], live: ['hosts'] }],
  ['a host added', built({ hosts: [HOST_A] }), built({}, DEVICES, 2), { roll: [], live: ['hosts'] }],
  ['any host allowed', built(), built({ hosts: undefined, allowAnyHost: true }, DEVICES, 2), { roll: [], live: ['hosts'] }],
  ['the target log level', built(), built({}, { ...DEVICES, targetLogLevel: 'debug' }, 2), { roll: [], live: ['log level'] }],
  ['a namespace on a block device added next to another on the same device set',
    built({ namespaces: [NS1, DEV(2, '/dev/sdb')] }), built({ namespaces: [NS1, DEV(2, '/dev/sdb'), { ...NS2, nsid: 3 }] }, DEVICES, 2),
    { roll: [], live: ['namespace 3 added'] }],
  ['only the generation (reclaimPolicy, maintenance)', built(), built({ reclaimPolicy: 'Delete' }, DEVICES, 2), { roll: [], live: [] }],
  ['the image', built(), built({}, { ...DEVICES, image: 'localhost/nvmeof-target:2' }, 2), { roll: ['image'], live: [] }],
  ['resources', built(), built({ resources: { requests: { cpu: '1', memory: '1Gi' } } }, DEVICES, 2), { roll: ['resources'], live: [] }],
  ['host networking off', built(), built({ listener: { port: 4420, metricsPort: 9420, hostNetwork: false } }, DEVICES, 2),
    { roll: ['host networking', 'container ports'], live: [] }],
  ['in-pod resume on', built(), built({ persistence: { inPodResume: true } }, DEVICES, 2),
    { roll: ['in-pod resume', 'resources', 'volumes'], live: [] }],
  ['the NVMe/TCP port (a container port)', built(), built({ listener: { port: 4421, metricsPort: 9420, hostNetwork: true } }, DEVICES, 2),
    { roll: ['container ports'], live: ['listeners'] }],
  ['the metrics port', built(), built({ listener: { port: 4420, metricsPort: 9421, hostNetwork: true } }, DEVICES, 2),
    { roll: ['container ports', 'probes', 'metrics'], live: [] }],
  ['the first block device (privileged)', built(), built({ namespaces: [NS1, DEV(2, '/dev/sdb')] }, DEVICES, 2),
    { roll: ['block devices', 'security context', 'volumes'], live: ['namespace 2 added'] }],
  ['another block device', built({ namespaces: [NS1, DEV(2, '/dev/sdb')] }), built({ namespaces: [NS1, DEV(2, '/dev/sdb'), DEV(3, '/dev/sdc')] }, DEVICES, 2),
    { roll: ['block devices', 'volumes'], live: ['namespace 3 added'] }],
  ['a block device removed', built({ namespaces: [NS1, DEV(2, '/dev/sdb')] }), built({}, DEVICES, 2),
    { roll: ['block devices', 'security context', 'volumes'], live: ['namespace 2 removed'] }],
  ['durability', built(), built({ persistence: { durability: 'node' } }, DEVICES, 2), { roll: ['durability'], live: [] }],
  ['serial', built(), built({ serial: 'SN2' }, DEVICES, 2), { roll: ['serial'], live: [] }],
  ['model', built(), built({ model: 'M2' }, DEVICES, 2), { roll: ['model'], live: [] }],
  ['node selector', built(), built({ placement: { nodeSelector: { disk: 'ssd' } } }, DEVICES, 2), { roll: ['node selector'], live: [] }],
  ['tolerations', built(), built({ placement: { tolerations: [{ key: 'k', operator: 'Exists' }] } }, DEVICES, 2), { roll: ['tolerations'], live: [] }],
  ['the target shutdown grace', built(), built({}, { ...DEVICES, shutdownGraceSeconds: 30 }, 2),
    { roll: ['termination grace period'], live: ['shutdown grace'] }],
  ['the image pull policy', built(), built({}, { ...DEVICES, imagePullPolicy: 'Always' }, 2), { roll: ['image pull policy'], live: [] }],
  ['the hostPath root', built(), built({}, { ...DEVICES, hostPathRoot: '/srv/nvmeof' }, 2), { roll: ['subsystem directory'], live: [] }],
  ['the node', built({}, DEVICES, 1, 'n1'), built({}, DEVICES, 2, 'n2'), { roll: ['node'], live: [] }],
  ['pinning to the node it runs on', built(), built({}, DEVICES, 1, 'n1'), { roll: [], live: [] }],
];

test('classifyChange: what is live and what rolls the pod, by name (the README table)', () => {
  for (const [what, before, after, want] of ROWS) {
    assert.deepEqual(classifyChange(before, after), want, what);
  }
});

test('podChanges: the node flags and the Secrets a pod mounts roll it', () => {
  const pod = built().pod;
  const c = pod.containers[0];
  const flags: V1PodSpec = { ...pod, containers: [{ ...c, command: ['node', '--max-semi-space-size=8', ...c.command!.slice(1)] }] };
  assert.deepEqual(podChanges(pod, flags), ['node flags']);
  const secret: V1PodSpec = { ...pod, volumes: [...pod.volumes!, { name: 'auth', secret: { secretName: 'vol-dhchap' } }] };
  assert.deepEqual(podChanges(pod, secret), ['Secrets', 'volumes']);
  const other: V1PodSpec = { ...pod, containers: [{ ...c, command: [...c.command!.slice(0, -1), '/etc/other.json'] }] };
  assert.deepEqual(podChanges(pod, other), ['command']);
});

test('podChanges: a pod read back from the apiserver, defaults filled in, equals the one built for it', () => {
  const { pod } = built({ namespaces: [NS1, DEV(2, '/dev/sdb')], resources: { requests: { cpu: '0.5', memory: '1024Mi' } } }, DEVICES, 1, 'n1');
  const c = pod.containers[0];
  const probe = { successThreshold: 1 };
  const read: V1PodSpec = {
    ...structuredClone(pod),
    nodeName: 'n1', schedulerName: 'default-scheduler', serviceAccountName: 'default', priority: 0, preemptionPolicy: 'PreemptLowerPriority',
    securityContext: {}, enableServiceLinks: false,
    tolerations: ['not-ready', 'unreachable'].map((k) => ({ key: `node.kubernetes.io/${k}`, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 })),
    volumes: pod.volumes!.map((v) => (v.configMap ? { ...v, configMap: { ...v.configMap, defaultMode: 420 } } : v)),
    containers: [{
      ...structuredClone(c),
      terminationMessagePath: '/dev/termination-log',
      resources: { requests: { cpu: '500m', memory: '1Gi' } },
      readinessProbe: { ...c.readinessProbe, ...probe, httpGet: { ...c.readinessProbe!.httpGet!, scheme: 'HTTP' } },
      livenessProbe: { ...c.livenessProbe, ...probe, httpGet: { ...c.livenessProbe!.httpGet!, scheme: 'HTTP' } },
      volumeMounts: c.volumeMounts!.map((m) => ({ ...m, mountPropagation: 'None' })),
    }],
  };
  assert.deepEqual(podChanges(read, pod), []);
});
