// `npm start`: the main job on an embedded default. It starts the cluster and then
// runs the steps below in order; a step whose part does not exist yet (no CRDs, no
// operator in dist/) is reported as skipped. Ctrl-C stops everything cleanly.
//
// To extend it (the operator's work): add a StartStep to `steps`. Each gets the
// running cluster and a context to leave values in (the `nvme connect` line, the
// metrics URL), which are printed at the end.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from './cluster.js';
import { repoRoot } from './paths.js';

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

export const steps: StartStep[] = [
  {
    name: 'install the CRDs',
    available: () => hasYaml(crdDir) || 'no CRDs in crds/ yet',
    async run(c, ctx) {
      const files = readdirSync(crdDir).filter((n) => /\.ya?ml$/.test(n)).map((n) => join(crdDir, n));
      for (const f of files) ctx.log(await c.kubectl(['apply', '--server-side', '-f', f]));
    },
  },
  {
    name: 'run the operator',
    // The operator's work replaces this step: install the chart with the image c.images.operator
    // (or run dist/operator/main.js with KUBECONFIG=c.kubeconfig), then add the steps that apply a
    // sample NvmeofSubsystem, wait for it to be Ready and put the `nvme connect` line and the
    // metrics URL into ctx.summary.
    available: () =>
      existsSync(join(repoRoot, 'dist/operator/main.js'))
        ? 'the operator is not wired into `npm start` yet (test/cluster/start.ts, `steps`)'
        : 'the operator does not exist yet (no dist/operator/main.js)',
    async run() {},
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
    console.log('The operator is not part of `npm start` yet, so the job ends here with the cluster up. Ctrl-C stops it.');
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
