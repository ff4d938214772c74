// `npm start`: the main job on an embedded default. It starts the cluster and then
// runs the steps below in order: install the CRDs, run the operator (its Deployment, from
// the image the cluster built), apply a sample NvmeofSubsystem, wait for it to be Ready;
// then it prints the kubeconfig and PATH lines (a kubectl and helm that match the cluster),
// and commands that work as printed: the operator's lease, logs and metrics, the sample's
// `nvme connect` line and its metrics. A step whose part does not exist yet (no CRDs, no
// operator in dist/) is reported as skipped. Ctrl-C, or SIGTERM to npm (which forwards it
// to this process), stops everything cleanly (the cluster's own signal handler: every pod
// goes with it).
//
// To extend it: add a StartStep to `steps`. Each gets the running cluster and a context
// to leave values in, which are printed at the end.
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { clusterStateDir, startCluster, type Cluster } from './cluster.js';
import { cacheDir, k8sVersion, repoRoot } from './paths.js';
import {
  deployOperator, installCrdsWithKubectl, LEASE_NAME, leaseHolder, OPERATOR_NAME, OPERATOR_NAMESPACE, operatorMissing, waitFor, waitSubsystemReady,
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

const CLUSTER_NAME = 'start';
/** Where the operator keeps the subsystems' directories: inside the cluster's state folder, wiped at each start. */
const hostPathRoot = (stateDir: string) => join(stateDir, 'nvmeof');

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
      const root = hostPathRoot(c.stateDir);
      await deployOperator(c, { hostPathRoot: root, replicas: 2 });
      const { holder } = await waitFor('the operator to elect a leader', async () => { const l = await leaseHolder(c); return l.holder ? l : undefined; }, 60_000);
      ctx.log(`operator running in ${OPERATOR_NAMESPACE} (leader ${holder}), subsystem directories under ${root}`);
      // Not the leader's pod name: it changes when the leader does. The selector follows every replica.
      ctx.summary.push(
        `kubectl -n ${OPERATOR_NAMESPACE} get lease ${LEASE_NAME}    # which operator replica leads`,
        `kubectl -n ${OPERATOR_NAMESPACE} logs -l app.kubernetes.io/name=${OPERATOR_NAME} --prefix --tail=20    # both replicas' logs`,
        `kubectl get --raw /api/v1/namespaces/${OPERATOR_NAMESPACE}/services/${OPERATOR_NAME}-metrics:8080/proxy/metrics    # the operator's metrics`,
      );
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
        `kubectl get nvmeofsubsystems -A -o wide`,
        `curl -s http://${addr}:${metricsPort}/metrics    # the target's metrics (and /recovery)`,
        `nvme connect -t tcp -a ${addr} -s ${port} -n ${s.status!.nqn}    # from a Linux host with nvme-tcp`,
        `# ${addr} is the node, inside the cluster's network namespace: this machine reaches it over the veth pair, and so does a qemu guest with user networking`,
      );
    },
  },
];

/** The subsystems' directories an earlier start left (`<namespace>/<name>`). */
function subsystemDirs(root: string): string[] {
  const dirs = (d: string) => {
    try {
      return readdirSync(d).filter((n) => statSync(join(d, n)).isDirectory());
    } catch {
      return [];
    }
  };
  return dirs(root).flatMap((ns) => dirs(join(root, ns)).map((n) => `${ns}/${n}`));
}

/**
 * A folder holding only `kubectl` and `helm`, links to the ones the cluster uses (kubectl of the
 * cluster's own release: the machine's /usr/bin/kubectl, 1.32, is outside the version skew and
 * says so). Printed as one `export PATH=...` line.
 */
function userBin(c: Cluster): string {
  const dir = join(cacheDir(), 'bin');
  mkdirSync(dir, { recursive: true });
  for (const [name, target] of [['kubectl', c.binaries.kubectl], ['helm', c.binaries.helm]]) {
    const link = join(dir, name);
    let now: string | undefined;
    try {
      now = readlinkSync(link);
    } catch {
      /* none yet */
    }
    if (now !== target) {
      rmSync(link, { force: true });
      symlinkSync(target, link);
    }
  }
  return dir;
}

export async function runStart(): Promise<number> {
  const log = (m: string) => console.log(`start: ${m}`);
  const t0 = Date.now();
  // Wipe or keep the earlier start's subsystems? Wiped, with the rest of the cluster's state folder
  // (startCluster does it): the cluster starts empty, a new etcd with no NvmeofSubsystem, so nothing
  // owns those directories any more, and one kept would be adopted by the new sample of the same name
  // with the disk and state file of a subsystem that no longer exists. Said first, with the path.
  const root = hostPathRoot(clusterStateDir({ name: CLUSTER_NAME }));
  const earlier = subsystemDirs(root);
  if (earlier.length) {
    log(`wiping the earlier start's subsystem directories under ${root} (${earlier.join(', ')}): every start begins with an empty cluster`);
  }
  const cluster = await startCluster({ name: CLUSTER_NAME });
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
  console.log(`export PATH=${userBin(cluster)}:$PATH    # kubectl ${k8sVersion()} and helm, matching the cluster`);
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
