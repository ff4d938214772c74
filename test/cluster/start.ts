// `npm start`: the main job on an embedded default. It starts the cluster and then
// runs the steps below in order: install the CRDs, run the operator (its Deployment, from
// the image the cluster built), apply a sample NvmeofSubsystem, wait for it to be Ready;
// then it prints the `nvme connect` line, the metrics URL and the kubeconfig path. A step
// whose part does not exist yet (no CRDs, no operator in dist/) is reported as skipped.
// Ctrl-C stops everything cleanly (the cluster's own signal handler: every pod goes with it).
//
// To extend it: add a StartStep to `steps`. Each gets the running cluster and a context
// to leave values in, which are printed at the end.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from './cluster.js';
import { repoRoot } from './paths.js';
import {
  deployOperator, installCrdsWithKubectl, leaseHolder, OPERATOR_NAMESPACE, operatorMissing, waitFor, waitSubsystemReady,
} from '../operator/deploy.js';

export interface StartContext {
  /** lines printed at the end, under the kubeconfig path (e.g. `nvme connect ...`, `metrics: http://...`) */
  summary: string[];
  log: (msg: string) => void;
}

export interface StartStep {
  name: string;
  /** returns false (or a reason) when the step's part is not there yet: the step is skipped and the job stops after it */
  available(): boolean | string;
  run(cluster: Cluster, ctx: StartContext): Promise<void>;
}

const crdDir = join(repoRoot, 'crds');
const hasYaml = (dir: string) => existsSync(dir) && readdirSync(dir).some((n) => /\.ya?ml$/.test(n));

/** The sample `npm start` applies, and where. */
const SAMPLE = join(repoRoot, 'crds/samples/file-any-host.yaml');
const SAMPLE_NAMESPACE = 'default';
const SAMPLE_NAME = 'demo-file';

export const steps: StartStep[] = [
  {
    name: 'install the CRDs',
    available: () => hasYaml(crdDir) || 'no CRDs in crds/ yet',
    async run(c, ctx) {
      ctx.log((await installCrdsWithKubectl(c)).trim());
    },
  },
  {
    name: 'run the operator',
    // As users run it: its Deployment (two replicas electing a leader) from the image the cluster
    // built, configured with the target image. Subsystem directories go under the cluster's own
    // state folder, not the machine's /var/lib/nvmeof.
    available: () => !operatorMissing() || `the operator is not built (${operatorMissing()})`,
    async run(c, ctx) {
      const hostPathRoot = join(c.stateDir, 'nvmeof');
      await deployOperator(c, { hostPathRoot, replicas: 2 });
      const { holder } = await waitFor('the operator to elect a leader', async () => { const l = await leaseHolder(c); return l.holder ? l : undefined; }, 60_000);
      ctx.log(`operator running in ${OPERATOR_NAMESPACE} (leader ${holder}), subsystem directories under ${hostPathRoot}`);
      ctx.summary.push(`operator: kubectl -n ${OPERATOR_NAMESPACE} logs ${holder}; its metrics: kubectl get --raw /api/v1/namespaces/${OPERATOR_NAMESPACE}/pods/${holder}:8080/proxy/metrics`);
    },
  },
  {
    name: 'apply a sample NvmeofSubsystem',
    available: () => existsSync(SAMPLE) || `no sample at ${SAMPLE}`,
    async run(c, ctx) {
      // Target pods use hostPath and hostNetwork: the namespace must admit privileged pods.
      await c.kubectl(['label', '--overwrite', 'namespace', SAMPLE_NAMESPACE, 'pod-security.kubernetes.io/enforce=privileged']);
      ctx.log((await c.kubectl(['-n', SAMPLE_NAMESPACE, 'apply', '-f', SAMPLE])).trim());
    },
  },
  {
    name: 'wait for it to be Ready',
    available: () => true,
    async run(c, ctx) {
      const s = await waitSubsystemReady(c, SAMPLE_NAMESPACE, SAMPLE_NAME, { ms: 120_000 });
      const [addr, port] = s.status!.endpoint!.split(':');
      const metricsPort = s.spec.listener?.metricsPort ?? 9420;
      ctx.log(`${SAMPLE_NAMESPACE}/${SAMPLE_NAME} Ready: pod ${s.status!.podName} on ${s.status!.node}`);
      ctx.summary.push(
        `${c.binaries.kubectl} get nvmeofsubsystems -A    (this kubectl: the machine's own is outside the version skew)`,
        `nvme connect -t tcp -a ${addr} -s ${port} -n ${s.status!.nqn}`,
        `metrics: http://${addr}:${metricsPort}/metrics (recovery: http://${addr}:${metricsPort}/recovery)`,
        `(${addr} is the node, inside the cluster's network namespace; this machine reaches it over the veth pair, and so does a qemu guest with user networking)`,
      );
    },
  },
];

export async function runStart(): Promise<number> {
  const log = (m: string) => console.log(`start: ${m}`);
  const t0 = Date.now();
  const cluster = await startCluster({ name: 'start' });
  const ctx: StartContext = { summary: [], log };
  let complete = true;
  for (const step of steps) {
    const ok = step.available();
    if (ok !== true) {
      log(`${step.name}: skipped, ${ok || 'not available'}; stopping after the cluster is up`);
      complete = false;
      break;
    }
    const t = Date.now();
    await step.run(cluster, ctx);
    log(`${step.name}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  console.log('');
  console.log(`export KUBECONFIG=${cluster.kubeconfig}`);
  for (const s of ctx.summary) console.log(s);
  console.log(`images: ${cluster.images.target} ${cluster.images.operator} (sandbox ${cluster.images.pause})`);
  console.log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
  if (!complete) {
    console.log('A step was skipped, so the job ends there with the cluster up. Ctrl-C stops it.');
  } else {
    console.log('Ctrl-C stops everything.');
  }
  if (process.env.NVMEOF_START_EXIT === '1') {
    await cluster.stop();
    return 0;
  }
  await new Promise(() => setInterval(() => {}, 1 << 30)); // SIGINT/SIGTERM stop the cluster (see startCluster) and exit
  return 0;
}
