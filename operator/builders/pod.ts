// The desired target Pod. The operator manages Pods directly (no StatefulSet, as CloudNativePG does)
// because a subsystem's state lives on one node: once the pod has been scheduled, every later pod of
// the subsystem carries a required node affinity to that node, so cordons and taints keep working and
// the pod never silently moves to a node without the state.
//
// A pod's spec is immutable, so a change of it rolls the pod: the pod carries a hash of what it is built
// from (pin excluded, so pinning never rolls a pod) and a pod with another hash is replaced. The hash
// covers only what rolls: the pod's template (which names the subsystem's one ConfigMap by a stable name)
// and the few configuration fields a running target does not change (rolling-config.ts). The rest of the
// configuration reaches the running target through that ConfigMap (issue 20; live-change.ts says which
// change is which, by name).
import type { V1Affinity, V1Container, V1Pod, V1PodSpec, V1ResourceRequirements, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { TARGET_NODE_FLAGS } from '../../target/contract.js';
import { authVolume } from './authentication.js';
import { canonicalJson } from './canonical.js';
import { desiredConfigMapName } from './configmap.js';
import { ANNOTATION_CONFIG_GENERATION, ANNOTATION_SPEC_HASH, labelsFor, shortHash } from './names.js';
import { ownerReference } from './owner.js';
import { parseBytes } from './quantity.js';
import { CONFIG_FILE, CONFIG_MOUNT, SUBSYSTEM_MOUNT } from './paths.js';
import { rollingConfig } from './rolling-config.js';
import { KILL_MARGIN_SECONDS, type TargetSettings } from './settings.js';
import type { Realisation } from './target-config.js';

export const TARGET_CONTAINER = 'target';
export const TARGET_ENTRYPOINT = ['node', ...TARGET_NODE_FLAGS, '/app/dist/target/main.js'];
/** In-pod resume (spec.persistence.inPodResume): the supervisor, PID 1, forks the target as its worker. */
export const SUPERVISOR_ENTRYPOINT = ['node', ...TARGET_NODE_FLAGS, '/app/dist/target/supervisor.js'];

// In-pod resume keeps each connection's rings in a file of a memory emptyDir at /dev/shm (the runtime's
// own /dev/shm is 64 MiB). With the supervisor's default rings (4 MiB rx, 2 MiB tx), a connection slot's
// file is 4 KiB of header + 1040 command records of 128 B (133,120 B, 135,168 page-aligned) + 4 MiB + 2 MiB
// = 6,430,720 B (6.13 MiB); 32 slots (a Linux host opens one connection per I/O queue and one for the
// admin queue) are 205,783,040 B, plus the 4 KiB header file: 196.3 MiB, under a 200Mi limit. A slot's
// file is made on its first use, so the memory follows the most connections open at once; a connection
// beyond the slots, or one that does not fit the tmpfs, is refused (logged), never a SIGBUS later.
// The tmpfs pages count against the pod's memory (requests and limits must leave room for them).
export const RESUME_RINGS = '/dev/shm/nvmeof-rings';
export const RESUME_CONNECTION_SLOTS = 32;
export const RESUME_SHM_SIZE_LIMIT = '200Mi';

/** A required node affinity to exactly one node, by name (matchFields, not the hostname label). */
export function pinAffinity(node: string): V1Affinity {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    },
  };
}

const inPodResume = (sub: NvmeofSubsystem) => sub.spec.persistence?.inPodResume === true;

function volumes(sub: NvmeofSubsystem, r: Realisation, configMap: string): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const vols: V1Volume[] = [
    { name: 'config', configMap: { name: configMap } },
    { name: 'subsystem', hostPath: { path: r.hostDir, type: 'DirectoryOrCreate' } },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'config', mountPath: CONFIG_MOUNT, readOnly: true },
    { name: 'subsystem', mountPath: SUBSYSTEM_MOUNT },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  // Only with the mode on: a pod without it renders as before, so its hash and the pod stay.
  if (inPodResume(sub)) {
    vols.push({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: RESUME_SHM_SIZE_LIMIT } });
    mounts.push({ name: 'shm', mountPath: '/dev/shm' });
  }
  // Only with spec.authentication (authentication.ts): a pod without it renders as before.
  const auth = authVolume(sub.spec);
  if (auth) {
    vols.push(auth.volume);
    mounts.push(auth.mount);
  }
  r.devices.forEach((device, i) => {
    vols.push({ name: `device-${i}`, hostPath: { path: device, type: 'BlockDevice' } });
    mounts.push({ name: `device-${i}`, mountPath: device });
  });
  return { volumes: vols, mounts };
}

// The default requests, from what a target uses (test/bench/node-cost.ts on the test cluster, 30 file-backed
// subsystems on one node of 2 cores and 24 GiB, README "Sizing"): an idle target uses about 4 millicores
// (the kubelet's probes, its timers) and a 34 MiB working set; with in-pod resume about 6 millicores and 79
// MiB (three processes). 25m is several times the idle CPU, so a node of 2 cores admits about 78 idle
// subsystems where 100m admitted 18, and no limit caps a subsystem under load (CPU per I/O: README).
// 64Mi is about twice an idle target's working set; under 31 connections of 128 KiB I/O at QD 128 its
// anonymous memory peaked at 105 MiB, which a request need not cover (no limit: it bursts) but
// TARGET_BASE_MEMORY_BYTES, the MemoryTooSmall check's share for the target itself, does. In-pod resume adds
// the rings' tmpfs (RESUME_SHM_SIZE_LIMIT), which holds the supervisor's and standby's share too.
const BUILTIN_RESOURCES: V1ResourceRequirements = { requests: { cpu: '25m', memory: '64Mi' } };

/**
 * The container's resources when the resource names none: the operator's default (or 25m and 64Mi),
 * and with in-pod resume the rings' tmpfs on top of its memory request and limit, since those pages count
 * against the pod's memory. A memory quantity that is not a whole number of bytes is left as it is. The
 * resources a resource names are its own: they are used unchanged (the README says to leave room).
 */
export function defaultResources(sub: NvmeofSubsystem, settings: TargetSettings, builtin = BUILTIN_RESOURCES): V1ResourceRequirements {
  const base = settings.defaultResources ?? builtin;
  if (!inPodResume(sub)) return base;
  const withRings = (m: { [k: string]: string } | undefined) => {
    if (m?.memory === undefined) return m;
    let bytes: number;
    try {
      bytes = parseBytes(m.memory);
    } catch {
      return m;
    }
    return { ...m, memory: `${Math.ceil((bytes + parseBytes(RESUME_SHM_SIZE_LIMIT)) / 2 ** 20)}Mi` };
  };
  const out: V1ResourceRequirements = { ...base };
  if (base.requests) out.requests = withRings(base.requests);
  if (base.limits) out.limits = withRings(base.limits);
  return out;
}

/** The command before the target's own flags: the target, or its supervisor and the supervisor's flags. */
function entrypoint(sub: NvmeofSubsystem): string[] {
  if (!inPodResume(sub)) return TARGET_ENTRYPOINT;
  return [...SUPERVISOR_ENTRYPOINT, '--rings', RESUME_RINGS, '--connection-slots', String(RESUME_CONNECTION_SLOTS)];
}

function container(sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation, mounts: V1VolumeMount[]): V1Container {
  const hostPort = (p: number) => (r.hostNetwork ? { hostPort: p } : {});
  return {
    name: TARGET_CONTAINER,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    command: [...entrypoint(sub), '--config', `${CONFIG_MOUNT}/${CONFIG_FILE}`],
    ports: [
      { name: 'nvme-tcp', containerPort: r.port, protocol: 'TCP', ...hostPort(r.port) },
      { name: 'metrics', containerPort: r.metricsPort, protocol: 'TCP', ...hostPort(r.metricsPort) },
    ],
    // The first probe waits one period: one at the container's start comes before node listens, and the
    // kubelet records its failure as a Warning event on every healthy start. Ready comes no later for it.
    readinessProbe: { httpGet: { path: '/readyz', port: r.metricsPort }, initialDelaySeconds: 2, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: r.metricsPort }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
    resources: sub.spec.resources ?? defaultResources(sub, settings),
    // Block devices need the device cgroup opened, which only a privileged container gets; a pod with
    // file and memory backings only keeps no capability beyond binding low ports.
    securityContext: r.devices.length > 0
      ? { privileged: true, runAsUser: 0 }
      : {
        privileged: false, runAsUser: 0, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
      },
    volumeMounts: mounts,
  };
}

/** Everything but the name, the pin and the hash annotation. */
function template(sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation, configMap = desiredConfigMapName(sub)): V1PodSpec {
  const { volumes: vols, mounts } = volumes(sub, r, configMap);
  const placement = sub.spec.placement ?? {};
  return {
    hostNetwork: r.hostNetwork,
    dnsPolicy: r.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: settings.shutdownGraceSeconds + KILL_MARGIN_SECONDS,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
    ...(placement.tolerations ? { tolerations: placement.tolerations } : {}),
    containers: [container(sub, settings, r, mounts)],
    volumes: vols,
  };
}

/**
 * The built-in default a pod without spec.resources is hashed with: the one of the releases that first
 * hashed such pods. The built-in default applies to pods created from now on; a change of it never rolls
 * a serving pod (the change from 100m/128Mi to 25m/64Mi would have replaced every target pod of a cluster
 * at the operator's upgrade, each host reconnecting). A running pod keeps the requests it was created
 * with until something else replaces it. Never change this value: every existing pod's hash depends on it.
 * The operator's own default (--target-cpu-request and the like) is hashed the same way: changing it takes
 * effect for pods created from then on and rolls none.
 */
const HASHED_BUILTIN_RESOURCES: V1ResourceRequirements = { requests: { cpu: '100m', memory: '128Mi' } };

/** The template as hashed: the resources a pod without spec.resources is hashed with are frozen (above). */
function hashedTemplate(sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation, configMap?: string): V1PodSpec {
  const t = template(sub, settings, r, configMap);
  if (!sub.spec.resources) {
    const { defaultResources: _operatorDefault, ...builtinOnly } = settings;
    t.containers[0].resources = defaultResources(sub, builtinOnly, HASHED_BUILTIN_RESOURCES);
  }
  return t;
}

/** Hash of what rolls the pod: its template and the configuration fields a running target keeps. */
export function podSpecHash(sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation): string {
  return shortHash(canonicalJson({ pod: hashedTemplate(sub, settings, r), config: rollingConfig(r.config) }), 16);
}

/**
 * The hash the releases before live configuration gave a pod built from this resource, had it mounted
 * `configMap`: the template alone, which named a ConfigMap by a hash of the whole configuration
 * (operator/builders/legacy.ts uses it to keep such a pod until a change would roll it anyway).
 */
export function legacyPodSpecHash(sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation, configMap: string): string {
  return shortHash(canonicalJson(hashedTemplate(sub, settings, r, configMap)), 16);
}

/** Names of the ConfigMaps a pod mounts. */
export function configMapsOf(pod: V1Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => (v.configMap?.name ? [v.configMap.name] : []));
}

/** Host paths of the block devices a pod mounts. */
export function devicesOf(pod: V1Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => (v.hostPath?.type === 'BlockDevice' ? [v.hostPath.path] : []));
}

/** The node a pod's required affinity names, if it has a pin affinity. */
export function pinnedNodeOf(pod: V1Pod): string | undefined {
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const f = terms?.[0]?.matchFields?.find((m) => m.key === 'metadata.name' && m.operator === 'In');
  return f?.values?.length === 1 ? f.values[0] : undefined;
}

export interface PodPlacement {
  /** The generated pod name. */
  name: string;
  /** The node holding the state (status.node), once the subsystem has been scheduled. */
  pinnedNode?: string;
}

export function desiredPod(sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation, at: PodPlacement): V1Pod {
  const spec = template(sub, settings, r);
  // The target writes why it exits on a configuration error to /dev/termination-log; without one the
  // kubelet keeps the log's tail. Left out of the spec hash: the operator upgrade that added it rolled no
  // serving pod, and every new pod has it.
  spec.containers[0].terminationMessagePolicy = 'FallbackToLogsOnError';
  const node = at.pinnedNode ?? sub.spec.placement?.nodeName;
  if (node) spec.affinity = pinAffinity(node);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: at.name,
      namespace: sub.metadata.namespace,
      labels: labelsFor(sub, 'target'),
      annotations: {
        [ANNOTATION_SPEC_HASH]: podSpecHash(sub, settings, r),
        // The generation of the configuration the ConfigMap holds when the pod is made.
        [ANNOTATION_CONFIG_GENERATION]: String(r.config.generation ?? 0),
      },
      ownerReferences: [ownerReference(sub)],
    },
    spec,
  };
}
