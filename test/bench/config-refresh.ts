// How fast a ConfigMap update reaches a running target pod (issue 20's contract, 4), measured on the
// project's real single-node cluster (test/cluster) with the operator as users run it. By hand, not in CI
// (about 3 minutes):
//
//   bash scripts/prepare.sh --parts cluster --build -- node dist/test/bench/config-refresh.js [--rounds 2] [--cluster refresh]
//
// One file-backed subsystem is made Ready; then the operator is scaled to 0 so that only this script writes,
// and each round bumps the generation in the subsystem's ConfigMap twice, timing until the target's
// /recovery serves it: once with the pod left alone (the kubelet rewrites the volume at its next periodic
// sync of the pod: syncFrequency, 10 s on the test cluster, 1 minute by default, plus jitter), once followed
// by an update of the pod's annotation nvmeof.io/config-generation (what the operator does: the pod's update
// makes the kubelet sync it at once and refresh its ConfigMap volume).
//
// Ports: 4471 and 9471 inside the cluster's own network namespace.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../cluster/cluster.js';
import { ANNOTATION_CONFIG_GENERATION } from '../../operator/builders/names.js';
import { listPods, OPERATOR_NAME, OPERATOR_NAMESPACE, operatorWithNamespace, sleep, waitSubsystemReady } from '../operator/deploy.js';

const NS = 'refresh';
const NAME = 'refresh';
const METRICS_PORT = 9471;
const CM = `${NAME}-target-config`;
const GIVE_UP_MS = 150_000;

async function served(c: Cluster): Promise<number> {
  const r = await fetch(`http://${c.nodeIP}:${METRICS_PORT}/recovery`, { signal: AbortSignal.timeout(2000) });
  return ((await r.json()) as { config: { generation: number } }).config.generation;
}

/** Rewrites the ConfigMap's file with another generation, as the operator would. */
async function publish(c: Cluster, generation: number): Promise<void> {
  const cm = JSON.parse(await c.kubectl(['-n', NS, 'get', 'configmap', CM, '-o', 'json'])) as { data: Record<string, string> };
  const config = { ...JSON.parse(cm.data['config.json']), generation };
  await c.kubectl(['-n', NS, 'patch', 'configmap', CM, '--type=merge', '-p', JSON.stringify({ data: { 'config.json': JSON.stringify(config, null, 2) + '\n' } })]);
}

/** Milliseconds from now until the target serves `generation` (undefined after GIVE_UP_MS). */
async function untilServed(c: Cluster, generation: number): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < GIVE_UP_MS) {
    if ((await served(c).catch(() => -1)) >= generation) return Date.now() - t0;
    await sleep(50);
  }
  return undefined;
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, cluster: { type: 'string', default: 'refresh' } } });
const c = await startCluster({ name: values.cluster });
const root = mkdtempSync(join(tmpdir(), 'nvmeof-refresh-'));
try {
  await operatorWithNamespace(c, { hostPathRoot: root, replicas: 1, namespace: NS });
  await c.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', metadata: { name: NAME, namespace: NS },
      spec: { allowAnyHost: true, listener: { port: 4471, metricsPort: METRICS_PORT }, namespaces: [{ nsid: 1, size: '16Mi', backing: { file: { path: 'ns1.img' } } }] },
    }),
  });
  const sub = await waitSubsystemReady(c, NS, NAME, { ms: 120_000 });
  const pod = (await listPods(c, NS, `nvmeof.io/role=target,nvmeof.io/subsystem-uid=${sub.metadata.uid}`))[0].metadata.name;
  await c.kubectl(['-n', OPERATOR_NAMESPACE, 'scale', `deployment/${OPERATOR_NAME}`, '--replicas=0']);
  await sleep(5000);
  for (let round = 1; round <= Number(values.rounds); round++) {
    const base = await served(c);
    await publish(c, base + 1);
    const alone = await untilServed(c, base + 1);
    await publish(c, base + 2);
    const t0 = Date.now();
    await c.kubectl(['-n', NS, 'annotate', '--overwrite', 'pod', pod, `${ANNOTATION_CONFIG_GENERATION}=${base + 2}`]);
    const annotated = await untilServed(c, base + 2);
    const sent = Date.now() - t0;
    console.log(`round ${round}: pod left alone ${alone === undefined ? `> ${GIVE_UP_MS}` : alone} ms; pod annotated ${annotated} ms after \`kubectl annotate\` returned (${sent} ms after it was run)`);
  }
} finally {
  await c.stop();
  rmSync(root, { recursive: true, force: true });
}
