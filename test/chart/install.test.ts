// `helm install` of charts/nvmeof-operator into the real single-node cluster (test/cluster), with the
// locally built images: every object is created, the operator runs as a pod with the chart's service
// account and RBAC (in a namespace that enforces the "restricted" Pod Security Standard), `helm test`
// passes, a sample NvmeofSubsystem becomes Ready with its target pod Running and Ready, and
// `helm uninstall` removes everything the chart installed but the CRD. A missing part fails the tests
// with what to install; none is skipped.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it as nodeIt } from 'node:test';
import * as yaml from 'js-yaml';
import { startCluster, type Cluster } from '../cluster/cluster.js';
import { repoRoot } from '../cluster/paths.js';
import { CHART, type K8sObject } from './helm.js';
import { waitFor as waitForEvery } from '../support/wait.js';
import { waitCondition } from '../support/wait-condition.js';

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 90_000) => waitForEvery(what, fn, ms, 500);

const NS = 'nvmeof-system';
const APP_NS = 'chart-demo';
const RELEASE = 'nvmeof-operator';
const SA = `system:serviceaccount:${NS}:nvmeof-operator`;

let c: Cluster;
let hostRoot: string;
let startError: unknown;
let installed: K8sObject[] = [];
let installOutput = '';
const t0 = Date.now();
const it = (name: string, fn: () => Promise<void>) =>
  nodeIt(name, async () => {
    if (startError) throw startError;
    await fn();
  });

interface PodJson {
  metadata: { name: string };
  spec: { serviceAccountName: string; securityContext?: { runAsUser?: number } };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

const ready = (p: PodJson) => p.status.phase === 'Running' && p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');

async function pods(ns: string, selector: string): Promise<PodJson[]> {
  return (JSON.parse(await c.kubectl(['-n', ns, 'get', 'pods', '-l', selector, '-o', 'json'])) as { items: PodJson[] }).items;
}

/** `kubectl get` of one object of the release; undefined once it is gone. */
async function getObject(o: K8sObject): Promise<string | undefined> {
  const args = ['get', `${o.kind.toLowerCase()}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''), o.metadata.name, '-o', 'name'];
  if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
  const r = await c.kubectlResult(args);
  if (r.code === 0) return r.stdout.trim();
  if (/NotFound|not found/.test(r.stderr)) return undefined;
  throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
}

async function canI(verb: string, resource: string, ns: string, subresource?: string): Promise<boolean> {
  const args = ['auth', 'can-i', verb, resource, '-n', ns, `--as=${SA}`, ...(subresource ? [`--subresource=${subresource}`] : [])];
  const r = await c.kubectlResult(args);
  if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') throw new Error(`kubectl ${args.join(' ')}: ${r.stdout} ${r.stderr}`);
  return r.stdout.trim() === 'yes';
}

function splitRef(ref: string): { repository: string; tag: string } {
  const i = ref.lastIndexOf(':');
  return { repository: ref.slice(0, i), tag: ref.slice(i + 1) };
}

describe('helm install charts/nvmeof-operator into the single-node cluster', () => {
  before(async () => {
    try {
      c = await startCluster({ name: 'chart' });
      hostRoot = mkdtempSync('/tmp/nvmeof-chart-data-');
      console.log(`chart: cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      startError = e;
    }
  });

  after(async () => {
    await c?.stop();
    if (hostRoot) rmSync(hostRoot, { recursive: true, force: true });
    console.log(`chart: cluster part took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('creates every object of the chart and runs the operator with its service account in a restricted namespace', async () => {
    await c.kubectl(['create', 'namespace', NS]);
    await c.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
    const op = splitRef(c.images.operator);
    const target = splitRef(c.images.target);
    const t = Date.now();
    installOutput = await c.helm([
      'install', RELEASE, CHART, '-n', NS,
      '--set', `image.repository=${op.repository}`, '--set', `image.tag=${op.tag}`, '--set', 'image.pullPolicy=Never',
      '--set', `targetImage.repository=${target.repository}`, '--set', `targetImage.tag=${target.tag}`, '--set', 'targetImage.pullPolicy=Never',
      '--set', `hostPathRoot=${hostRoot}`,
      '--wait', '--timeout', '120s',
    ], { timeoutMs: 150_000 });
    console.log(`chart: helm install --wait took ${((Date.now() - t) / 1000).toFixed(1)} s`);
    assert.match(installOutput, /STATUS: deployed/);
    assert.ok(installOutput.includes(`operator image: ${c.images.operator}`), installOutput);
    assert.ok(installOutput.includes(`target image:   ${c.images.target}`), installOutput);
    assert.doesNotMatch(installOutput, /WARNING: image.repository/);

    installed = (yaml.loadAll(await c.helm(['get', 'manifest', RELEASE, '-n', NS])) as (K8sObject | null)[]).filter((o): o is K8sObject => !!o);
    assert.deepEqual(installed.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    for (const o of installed) assert.ok(await getObject(o), `${o.kind} ${o.metadata.name} exists`);
    const crd = JSON.parse(await c.kubectl(['get', 'crd', 'nvmeofsubsystems.nvmeof.io', '-o', 'json'])) as { status: { conditions: { type: string; status: string }[] } };
    assert.ok(crd.status.conditions.some((x) => x.type === 'Established' && x.status === 'True'), 'the CRD from the chart\'s crds/ is established');

    const ops = await pods(NS, `app.kubernetes.io/instance=${RELEASE}`);
    assert.equal(ops.length, 2, 'two replicas');
    for (const p of ops) {
      assert.ok(ready(p), `${p.metadata.name} is Running and Ready`);
      assert.equal(p.spec.serviceAccountName, 'nvmeof-operator');
      assert.equal(p.spec.securityContext?.runAsUser, 65534);
    }
    const lease = JSON.parse(await c.kubectl(['-n', NS, 'get', 'lease', 'nvmeof-operator-leader', '-o', 'json'])) as { spec: { holderIdentity?: string } };
    assert.ok(ops.some((p) => p.metadata.name === lease.spec.holderIdentity), `the Lease is held by one of the chart's pods (${lease.spec.holderIdentity})`);
  });

  it('gives the operator\'s service account its RBAC and nothing more', async () => {
    await c.kubectl(['create', 'namespace', APP_NS]);
    await c.kubectl(['label', 'namespace', APP_NS, 'pod-security.kubernetes.io/enforce=privileged']);
    const yes: [string, string, string, string?][] = [
      ['watch', 'nvmeofsubsystems.nvmeof.io', APP_NS], ['patch', 'nvmeofsubsystems.nvmeof.io', APP_NS, 'status'],
      ['update', 'nvmeofsubsystems.nvmeof.io', APP_NS, 'finalizers'], ['create', 'pods', APP_NS], ['delete', 'pods', APP_NS],
      ['patch', 'configmaps', APP_NS], ['patch', 'services', APP_NS], ['create', 'events', APP_NS], ['list', 'nodes', ''],
      ['watch', 'namespaces', ''], ['update', 'leases.coordination.k8s.io', NS], ['create', 'leases.coordination.k8s.io', NS],
    ];
    const no: [string, string, string, string?][] = [
      ['get', 'secrets', APP_NS], ['get', 'secrets', NS], ['delete', 'nvmeofsubsystems.nvmeof.io', APP_NS],
      ['update', 'leases.coordination.k8s.io', APP_NS], ['delete', 'nodes', ''], ['create', 'pods', 'kube-system', 'exec'],
      ['create', 'deployments.apps', APP_NS], ['create', 'clusterrolebindings.rbac.authorization.k8s.io', ''],
    ];
    for (const [v, r, ns, sub] of yes) assert.equal(await canI(v, r, ns || 'default', sub), true, `${SA} can ${v} ${r}${sub ? `/${sub}` : ''} in ${ns || '(cluster)'}`);
    for (const [v, r, ns, sub] of no) assert.equal(await canI(v, r, ns || 'default', sub), false, `${SA} cannot ${v} ${r}${sub ? `/${sub}` : ''} in ${ns || '(cluster)'}`);
  });

  it('passes helm test (the operator answers /readyz and /metrics on its Service)', async () => {
    const r = await c.helm(['test', RELEASE, '-n', NS, '--timeout', '90s'], { timeoutMs: 120_000 });
    assert.match(r, /Phase:\s+Succeeded/, r);
  });

  it('brings a sample NvmeofSubsystem to Ready: its target pod is Running and Ready', async () => {
    const sample = readFileSync(join(repoRoot, 'crds', 'samples', 'file-any-host.yaml'), 'utf8');
    await c.kubectl(['-n', APP_NS, 'apply', '-f', '-'], { input: sample });
    const t = Date.now();
    await waitCondition((a) => c.kubectl(a), { namespace: APP_NS, object: 'nvmeofsubsystem/demo-file', type: 'Ready', timeoutMs: 120_000 });
    console.log(`chart: the sample subsystem was Ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const sub = JSON.parse(await c.kubectl(['-n', APP_NS, 'get', 'nvmeofsubsystem', 'demo-file', '-o', 'json'])) as {
      status: { node: string; endpoint: string; nqn: string };
    };
    assert.equal(sub.status.node, c.nodeName);
    assert.equal(sub.status.endpoint, `${c.nodeIP}:4420`);
    const targets = await pods(APP_NS, 'app.kubernetes.io/managed-by=nvmeof-operator,nvmeof.io/role=target');
    assert.equal(targets.length, 1);
    assert.ok(ready(targets[0]), `${targets[0].metadata.name} is Running and Ready`);
    assert.ok(existsSync(join(hostRoot, APP_NS, 'demo-file', 'state.bin')), 'the state file is under the chart\'s hostPathRoot');
    // The target's metrics on the node's address, as README "Metrics" reads them.
    const metrics = await (await fetch(`http://${c.nodeIP}:9420/metrics`)).text();
    assert.ok(metrics.includes(`nvmeof_target_connections{subsystem="${sub.status.nqn}"}`), metrics.slice(0, 2000));
    // The operator recorded Events on the resource (its RBAC on events works).
    const events = JSON.parse(await c.kubectl(['-n', APP_NS, 'get', 'events', '--field-selector', 'involvedObject.kind=NvmeofSubsystem', '-o', 'json'])) as { items: unknown[] };
    assert.ok(events.items.length > 0, 'events about the subsystem');
    // And no request of the operator was refused.
    for (const p of await pods(NS, `app.kubernetes.io/instance=${RELEASE}`)) {
      const logs = await c.kubectl(['-n', NS, 'logs', p.metadata.name]);
      assert.doesNotMatch(logs, /forbidden/i, `${p.metadata.name}: ${logs}`);
    }
  });

  it('uninstalls everything the chart installed but the CRD', async () => {
    // Subsystems first: with reclaimPolicy Delete the operator removes the directory on the node.
    await c.kubectl(['-n', APP_NS, 'delete', 'nvmeofsubsystem', 'demo-file', '--wait', '--timeout=90s'], { timeoutMs: 100_000 });
    assert.ok(!existsSync(join(hostRoot, APP_NS, 'demo-file')), 'reclaimPolicy Delete removed the subsystem\'s directory');
    await c.helm(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '90s'], { timeoutMs: 100_000 });
    for (const o of installed) {
      await waitFor(`${o.kind} ${o.metadata.name} to be gone`, async () => (await getObject(o)) === undefined, 60_000);
    }
    await waitFor('the operator pods to be gone', async () => (await pods(NS, `app.kubernetes.io/instance=${RELEASE}`)).length === 0, 60_000);
    const left = await c.kubectl(['-n', NS, 'get', 'all,serviceaccounts,roles,rolebindings,configmaps', '-o', 'name']);
    assert.deepEqual(left.trim().split('\n').filter((l) => l && l !== 'serviceaccount/default' && l !== 'configmap/kube-root-ca.crt'), [], left);
    const clusterWide = await c.kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'name']);
    assert.doesNotMatch(clusterWide, /nvmeof/);
    assert.ok(await getObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'nvmeofsubsystems.nvmeof.io' } }), 'Helm keeps the CRD');
    // Not installed by Helm, so left behind: the operator's leader-election Lease (README, "Uninstall").
    // Its holder, if the release could not be written before the RBAC went, is a pod that is gone.
    const lease = JSON.parse(await c.kubectl(['-n', NS, 'get', 'lease', 'nvmeof-operator-leader', '-o', 'json'])) as { spec: { holderIdentity?: string } };
    if (lease.spec.holderIdentity) {
      assert.equal((await c.kubectlResult(['-n', NS, 'get', 'pod', lease.spec.holderIdentity])).code, 1, `the Lease's holder ${lease.spec.holderIdentity} is gone`);
    }
  });
});
