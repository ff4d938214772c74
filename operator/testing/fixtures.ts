// Objects for unit tests: a subsystem, settings, pods in given states, and in-memory caches.
import type { ObjectCache, V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { API_VERSION, KIND, type NvmeofSubsystem, type NvmeofSubsystemSpec } from '../api/types.js';
import type { TargetSettings } from '../builders/settings.js';

export const SETTINGS: TargetSettings = {
  image: 'localhost/nvmeof-target:test',
  imagePullPolicy: 'Never',
  hostPathRoot: '/var/lib/nvmeof',
  allowedDevices: ['/dev/sdb', '/dev/disk/by-id/nvme-*'],
  shutdownGraceSeconds: 10,
  targetLogLevel: 'info',
  requirePrivilegedNamespace: true,
};

export function subsystem(spec: Partial<NvmeofSubsystemSpec> = {}, meta: Partial<NvmeofSubsystem['metadata']> = {}, status?: NvmeofSubsystem['status']): NvmeofSubsystem {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'vol', namespace: 'storage', uid: 'uid-1', generation: 1, resourceVersion: '10', creationTimestamp: '2026-01-01T00:00:00Z' as unknown as Date, ...meta },
    spec: {
      allowAnyHost: true,
      listener: { port: 4420, metricsPort: 9420, hostNetwork: true },
      namespaces: [{ nsid: 1, size: '1Gi', blockSize: 512, backing: { file: { path: 'ns1.img' } } }],
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

export const PRIVILEGED_NS: V1Namespace = { metadata: { name: 'storage', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } };

export function node(name: string, labels: Record<string, string> = {}): V1Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
}

export interface PodState {
  node?: string;
  ready?: boolean;
  phase?: string;
  deleting?: boolean;
  waiting?: string;
  created?: string;
  ip?: string;
}

/** `pod` with its status set as the scheduler and kubelet would. */
export function withState(pod: V1Pod, s: PodState, uid = `${pod.metadata?.name}-uid`): V1Pod {
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      uid,
      creationTimestamp: (s.created ?? '2026-01-01T00:01:00Z') as unknown as Date,
      ...(s.deleting ? { deletionTimestamp: '2026-01-01T00:05:00Z' as unknown as Date } : {}),
    },
    spec: { ...pod.spec!, ...(s.node ? { nodeName: s.node } : {}) },
    status: {
      phase: s.phase ?? (s.node ? 'Running' : 'Pending'),
      ...(s.node ? { hostIP: s.ip ?? '10.0.0.5', podIP: s.ip ?? '10.0.0.5' } : {}),
      conditions: [
        s.node ? { type: 'PodScheduled', status: 'True' } : { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' },
        { type: 'Ready', status: s.ready ? 'True' : 'False' },
      ],
      containerStatuses: s.node ? [{
        name: 'target', ready: Boolean(s.ready), restartCount: s.waiting === 'CrashLoopBackOff' ? 4 : 0, image: '', imageID: '',
        state: s.waiting ? { waiting: { reason: s.waiting } } : { running: {} },
      }] : [],
    },
  };
}

/** An ObjectCache over a fixed list, like an informer's store. */
export function cacheOf<T extends { metadata?: { name?: string; namespace?: string } }>(items: T[]): ObjectCache<T> & { items: T[] } {
  return {
    items,
    get: (name, ns) => items.find((o) => o.metadata?.name === name && (o.metadata?.namespace ?? '') === (ns ?? '')),
    list: (ns) => (ns ? items.filter((o) => o.metadata?.namespace === ns) : items),
  };
}
