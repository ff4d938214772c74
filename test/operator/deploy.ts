// Running the operator on the project's own cluster (test/cluster), the way users run it: as a
// Deployment of its image (operator/deploy/manifests.ts), with the target image the cluster built.
// Used by test/operator/operator.test.ts and by `npm start` (test/cluster/start.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../cluster/cluster.js';
import { repoRoot } from '../cluster/paths.js';
import { operatorManifests } from '../../operator/deploy/manifests.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';

export const OPERATOR_NAMESPACE = 'nvmeof-system';
export const OPERATOR_NAME = 'nvmeof-operator';
export const LEASE_NAME = 'nvmeof-operator-leader';
export const CRD_NAME = 'nvmeofsubsystems.nvmeof.io';
export const crdDir = join(repoRoot, 'crds');
export const sampleDir = join(crdDir, 'samples');

import { sleep, waitFor } from '../support/wait.js';
import { waitCondition } from '../support/wait-condition.js';

export { sleep, waitFor };
export { containerPid } from '../cluster/tasks.js';

/** What the operator needs that the cluster may lack, as an installable message (empty: nothing). */
export function operatorMissing(): string {
  const missing: string[] = [];
  if (!existsSync(join(repoRoot, 'dist/operator/main.js'))) missing.push('dist/operator/main.js (run `npm run build`)');
  if (!existsSync(join(crdDir, 'nvmeofsubsystems.nvmeof.io.yaml'))) missing.push('crds/nvmeofsubsystems.nvmeof.io.yaml');
  return missing.join('; ');
}

/** `kubectl apply -f crds/` (the top folder only: samples are not applied), then waits until the CRD is Established. */
export async function installCrdsWithKubectl(c: Cluster): Promise<string> {
  const out = await c.kubectl(['apply', '-f', crdDir]);
  await waitCondition((a) => c.kubectl(a), { object: `crd/${CRD_NAME}`, type: 'Established', timeoutMs: 60_000 });
  return out;
}

export interface OperatorDeployment {
  namespace: string;
  hostPathRoot: string;
  replicas: number;
}

/** Applies the operator's namespace, RBAC and Deployment, and waits until every replica is Ready. */
export async function deployOperator(c: Cluster, o: { hostPathRoot: string; replicas?: number; namespace?: string; extraFlags?: Record<string, string> }): Promise<OperatorDeployment> {
  const namespace = o.namespace ?? OPERATOR_NAMESPACE;
  const replicas = o.replicas ?? 2;
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    ...operatorManifests({
      namespace,
      image: c.images.operator,
      imagePullPolicy: 'Never',
      replicas,
      flags: {
        'target-image': c.images.target,
        'image-pull-policy': 'Never',
        'host-path-root': o.hostPathRoot,
        ...(o.extraFlags ?? {}),
      },
    }),
  ];
  await c.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  await c.kubectl(['-n', namespace, 'rollout', 'status', `deployment/${OPERATOR_NAME}`, '--timeout=120s'], { timeoutMs: 130_000 });
  return { namespace, hostPathRoot: o.hostPathRoot, replicas };
}

/** The CRD from crds/, the operator's Deployment, and a namespace for subsystems labelled privileged. */
export async function operatorWithNamespace(c: Cluster, o: { hostPathRoot: string; replicas: number; namespace: string }): Promise<void> {
  await installCrdsWithKubectl(c);
  await deployOperator(c, { hostPathRoot: o.hostPathRoot, replicas: o.replicas });
  await c.kubectl(['create', 'namespace', o.namespace]);
  await c.kubectl(['label', 'namespace', o.namespace, 'pod-security.kubernetes.io/enforce=privileged']);
}

export interface PodInfo {
  metadata: { name: string; uid: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      containerID?: string;
      ready: boolean;
      restartCount: number;
      state?: { running?: { startedAt: string }; waiting?: { reason?: string }; terminated?: { exitCode: number; reason?: string } };
      lastState?: { terminated?: { exitCode: number; reason?: string; message?: string } };
    }[];
  };
}

export const podReady = (p: PodInfo) => p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false;

export async function listPods(c: Cluster, namespace: string, selector: string): Promise<PodInfo[]> {
  return (JSON.parse(await c.kubectl(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json'])) as { items: PodInfo[] }).items;
}

/** The current holder of the operator's Lease ('' when released, undefined when there is none). */
export async function leaseHolder(c: Cluster, namespace = OPERATOR_NAMESPACE): Promise<{ holder: string | undefined; transitions: number }> {
  const r = await c.kubectlResult(['-n', namespace, 'get', 'lease', LEASE_NAME, '-o', 'json']);
  if (r.code !== 0) return { holder: undefined, transitions: 0 };
  const spec = (JSON.parse(r.stdout) as { spec: { holderIdentity?: string; leaseTransitions?: number } }).spec;
  return { holder: spec.holderIdentity ?? '', transitions: spec.leaseTransitions ?? 0 };
}

/** GET on a pod's port through the API server's proxy (pods live in the cluster's network namespace). */
export async function podGet(c: Cluster, namespace: string, pod: string, port: number, path: string): Promise<string> {
  return c.kubectl(['get', '--raw', `/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy${path}`]);
}

export async function getSubsystem(c: Cluster, namespace: string, name: string): Promise<NvmeofSubsystem | undefined> {
  const r = await c.kubectlResult(['-n', namespace, 'get', 'nvmeofsubsystem', name, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(r.stderr.trim());
  }
  return JSON.parse(r.stdout) as NvmeofSubsystem;
}

export const conditionOf = (s: NvmeofSubsystem | undefined, type: string) => s?.status?.conditions?.find((x) => x.type === type);

/** Ready=True for the current generation, with an endpoint; optionally served by a pod other than `notPod`. */
export async function waitSubsystemReady(c: Cluster, namespace: string, name: string, opts: { ms?: number; notPod?: string } = {}): Promise<NvmeofSubsystem> {
  let last: NvmeofSubsystem | undefined;
  try {
    return await waitFor(`NvmeofSubsystem ${namespace}/${name} Ready${opts.notPod ? ` on a pod other than ${opts.notPod}` : ''}`, async () => {
      last = await getSubsystem(c, namespace, name);
      const ready = conditionOf(last, 'Ready');
      if (!last || ready?.status !== 'True' || ready.observedGeneration !== last.metadata.generation) return undefined;
      if (last.status?.observedGeneration !== last.metadata.generation || !last.status?.endpoint) return undefined;
      if (opts.notPod && last.status.podName === opts.notPod) return undefined;
      return last;
    }, opts.ms ?? 90_000);
  } catch (e) {
    const conds = (last?.status?.conditions ?? []).map((x) => `${x.type}=${x.status} (${x.reason}: ${x.message})`).join('; ');
    throw new Error(`${(e as Error).message}; conditions: ${conds || 'none yet'}`);
  }
}
