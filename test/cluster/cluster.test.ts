// Acceptance tests of the single-node cluster (issue 4): real etcd, API server,
// controller-manager, scheduler, kubelet, containerd + runc, kube-proxy. One cluster
// for the whole file. A missing part fails the tests with what to install.
import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, warningEvents, type Cluster } from './cluster.js';
import { containerPid } from './tasks.js';
import { waitFor as waitForEvery } from '../support/wait.js';
import { waitCondition } from '../support/wait-condition.js';

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 90_000) => waitForEvery(what, fn, ms, 300);

const NS = 'cluster-test';
let c: Cluster;
let hostDir: string;
// A start that fails (a missing part, say) fails every test with its message: none is skipped.
let startError: unknown;
const it = (name: string, fn: () => Promise<void>) =>
  nodeIt(name, async () => {
    if (startError) throw startError;
    await fn();
  });

interface PodJson {
  metadata: { name: string; uid: string };
  status: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { containerID?: string; ready: boolean; state?: Record<string, unknown> }[];
  };
}

async function pod(name: string): Promise<PodJson> {
  return JSON.parse(await c.kubectl(['-n', NS, 'get', 'pod', name, '-o', 'json'])) as PodJson;
}

/** The host PID of a container's process, from containerd's task list. */
const procAlive = (pid: number) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/** A pod running node in the project's image. */
function nodePod(name: string, script: string, extra: Record<string, unknown> = {}, containerExtra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { test: name } },
    spec: {
      containers: [{ name: 'main', image: c.images.target, imagePullPolicy: 'Never', command: ['node', '-e', script], ...containerExtra }],
      ...extra,
    },
  };
}

const apply = (obj: unknown) => c.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });

/** Runs a node script in a pod to its end (restartPolicy Never); asserts it succeeded, resolves to its log. */
async function runToEnd(name: string, script: string, extra: Record<string, unknown> = {}): Promise<string> {
  await apply(nodePod(name, script, { restartPolicy: 'Never', ...extra }));
  const done = await waitFor('the pod to finish', async () => {
    const p = await pod(name);
    return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p : undefined;
  });
  const logs = await c.kubectl(['-n', NS, 'logs', name]);
  assert.equal(done.status.phase, 'Succeeded', logs);
  return logs;
}

// Writes into /data, serves HTTP on 8080, and notes SIGTERM in /data before exiting
// (or ignores it, when IGNORE_TERM is set).
const SERVER = `
const fs = require('fs');
fs.writeFileSync('/data/' + process.env.NAME + '.started', String(process.pid));
require('http').createServer((q, s) => s.end('ok')).listen(8080);
process.on('SIGTERM', () => {
  fs.writeFileSync('/data/' + process.env.NAME + '.sigterm', 'SIGTERM');
  if (!process.env.IGNORE_TERM) process.exit(0);
});`;

function serverPod(name: string, opts: { ignoreTerm?: boolean; grace?: number } = {}) {
  return nodePod(
    name,
    SERVER,
    {
      terminationGracePeriodSeconds: opts.grace ?? 30,
      volumes: [{ name: 'data', hostPath: { path: hostDir, type: 'Directory' } }],
    },
    {
      env: [{ name: 'NAME', value: name }, ...(opts.ignoreTerm ? [{ name: 'IGNORE_TERM', value: '1' }] : [])],
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
      readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
    },
  );
}

describe('single-node Kubernetes cluster', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    try {
      c = await startCluster({ name: 'test' });
      hostDir = mkdtempSync(join(tmpdir(), 'nvmeof-cluster-test-'));
      await c.kubectl(['create', 'namespace', NS]);
      await waitFor('the default ServiceAccount in ' + NS, async () => (await c.kubectlResult(['-n', NS, 'get', 'sa', 'default'])).code === 0);
    } catch (e) {
      startError = e;
    }
  });

  after(async () => {
    await c?.stop();
    if (hostDir) rmSync(hostDir, { recursive: true, force: true });
    if (c) {
      assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(c.stateDir), false, 'something stayed mounted');
      assert.equal(existsSync(`/run/netns/${c.netns}`), false, 'the network namespace stayed');
    }
  });

  it('has its node Ready (kubectl get nodes)', async () => {
    const out = await c.kubectl(['get', 'nodes', '-o', 'json']);
    const nodes = (JSON.parse(out) as { items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[]; nodeInfo: { kubeletVersion: string } } }[] }).items;
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].metadata.name, c.nodeName);
    assert.ok(nodes[0].status.conditions.some((x) => x.type === 'Ready' && x.status === 'True'), 'node not Ready');
    assert.match(nodes[0].status.nodeInfo.kubeletVersion, /^v1\.34\./);
    assert.match(await c.kubectl(['get', 'nodes']), new RegExp(`${c.nodeName}\\s+Ready`));
  });

  it('gives a pod no DNS server, said in its resolv.conf (clusterDNS 127.0.0.1): lookups fail, /etc/hosts works', async () => {
    // dnsPolicy ClusterFirst (the default). See the kubelet's configuration in cluster.ts for why.
    const script = `
const conf = require('fs').readFileSync('/etc/resolv.conf', 'utf8').split('\\n').filter((l) => /^(nameserver|search)/.test(l)).join('; ');
const dns = require('dns').promises;
(async () => {
  console.log('resolv.conf: ' + conf);
  console.log('own name: ' + (await dns.lookup(require('os').hostname())).address);
  console.log('kubernetes.default: ' + await dns.lookup('kubernetes.default').then((a) => a.address, (e) => 'fails, ' + e.code));
})().catch((e) => { console.log('error ' + e.message); process.exit(1); });`;
    const logs = await runToEnd('dns', script);
    assert.match(logs, new RegExp(`resolv.conf: .*search ${NS}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`));
    assert.match(logs, /resolv.conf: .*nameserver 127\.0\.0\.1(;|\n)/);
    assert.match(logs, /own name: 10\.244\.0\.\d+/);
    assert.match(logs, /kubernetes\.default: fails, /);
  });

  it('raises no Warning events for a healthy pod (no MissingClusterDNS)', async () => {
    // Node events are in `default`. (Later tests delete pods by force on purpose: this one comes first.)
    const warnings = await warningEvents(c, [NS, 'default', 'kube-system']);
    assert.deepEqual(warnings, [], `Warning events:\n${warnings.join('\n')}`);
  });

  it('runs a Pod with a hostPath volume and an HTTP readiness probe to Running and Ready', async () => {
    await apply(serverPod('web'));
    await waitCondition((a) => c.kubectl(a), { namespace: NS, object: 'pod/web', type: 'Ready', timeoutMs: 90_000 });
    const p = await pod('web');
    assert.equal(p.status.phase, 'Running');
    assert.equal(p.status.containerStatuses?.[0].ready, true);
    assert.ok(existsSync(join(hostDir, 'web.started')), 'the pod did not write into its hostPath');
  });

  it('ends the container on a graceful `kubectl delete pod` (SIGTERM)', async () => {
    const p = await pod('web');
    const pid = await containerPid(c, p.status.containerStatuses![0].containerID!);
    assert.ok(procAlive(pid), 'container process not found');
    await c.kubectl(['-n', NS, 'delete', 'pod', 'web', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(readFileSync(join(hostDir, 'web.sigterm'), 'utf8'), 'SIGTERM');
    await waitFor('the container process to end', async () => !procAlive(pid), 30_000);
  });

  it('ends the container on `kubectl delete pod --grace-period=0 --force`', async () => {
    // It ignores SIGTERM and asks for 10 minutes of grace: only the forced deletion ends it quickly.
    await apply(serverPod('stubborn', { ignoreTerm: true, grace: 600 }));
    await waitCondition((a) => c.kubectl(a), { namespace: NS, object: 'pod/stubborn', type: 'Ready', timeoutMs: 90_000 });
    const p = await pod('stubborn');
    const pid = await containerPid(c, p.status.containerStatuses![0].containerID!);
    assert.ok(procAlive(pid), 'container process not found');
    const t = Date.now();
    await c.kubectl(['-n', NS, 'delete', 'pod', 'stubborn', '--grace-period=0', '--force']);
    await waitFor('the container process to end', async () => !procAlive(pid), 90_000);
    assert.ok(Date.now() - t < 90_000);
    assert.equal((await c.kubectlResult(['-n', NS, 'get', 'pod', 'stubborn'])).code, 1, 'the pod object is still there');
  });

  it("recreates a Deployment's deleted pod (controller-manager)", async () => {
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'deploy', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'deploy' } },
        template: {
          metadata: { labels: { app: 'deploy' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [{ name: 'main', image: c.images.target, imagePullPolicy: 'Never', command: ['node', '-e', 'setInterval(() => {}, 1e6)'] }],
          },
        },
      },
    });
    await c.kubectl(['-n', NS, 'rollout', 'status', 'deployment/deploy', '--timeout=90s'], { timeoutMs: 100_000 });
    const list = async () =>
      (JSON.parse(await c.kubectl(['-n', NS, 'get', 'pods', '-l', 'app=deploy', '-o', 'json'])) as { items: PodJson[] }).items;
    const [first] = await list();
    await c.kubectl(['-n', NS, 'delete', 'pod', first.metadata.name, '--wait=false']);
    const second = await waitFor('a new pod', async () =>
      (await list()).find((p) => p.metadata.uid !== first.metadata.uid && p.status.phase === 'Running'),
    );
    assert.notEqual(second.metadata.name, first.metadata.name);
    await c.kubectl(['-n', NS, 'delete', 'deployment', 'deploy', '--wait=false']);
  });

  it('garbage-collects an object whose owner is deleted', async () => {
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: NS }, data: { a: '1' } });
    const uid = (await c.kubectl(['-n', NS, 'get', 'configmap', 'owner', '-o', 'jsonpath={.metadata.uid}'])).trim();
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'owned', namespace: NS, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid }] },
      data: { b: '2' },
    });
    await c.kubectl(['-n', NS, 'delete', 'configmap', 'owner']);
    await waitFor('the owned ConfigMap to be collected', async () => (await c.kubectlResult(['-n', NS, 'get', 'configmap', 'owned'])).code !== 0, 60_000);
  });

  it("runs the project's target image: node and its native addons load inside", async () => {
    const script = `
const m = require('/app/node_modules/@riaskov/mmap-io');
const fsExt = require('/app/node_modules/fs-ext');
const { crc32c } = require('/app/node_modules/@node-rs/crc32');
console.log('node ' + process.version + ' mmap ' + typeof m.map + ' flock ' + typeof fsExt.flockSync + ' crc32c ' + crc32c('123456789').toString(16));`;
    const logs = await runToEnd('addons', script);
    assert.match(logs, new RegExp(`node ${process.version} mmap function flock function crc32c e3069283`));
  });

  it('installs and uninstalls a Helm chart (helm v3 from the cache)', async () => {
    const chart = join(hostDir, 'chart');
    mkdirSync(join(chart, 'templates'), { recursive: true });
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: probe\nversion: 0.1.0\n');
    writeFileSync(
      join(chart, 'templates', 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  image: {{ .Values.image | quote }}\n',
    );
    assert.match(await c.helm(['version', '--short']), /^v3\./);
    await c.helm(['install', 'probe', chart, '-n', NS, '--set', `image=${c.images.operator}`, '--wait', '--timeout', '60s']);
    assert.equal((await c.kubectl(['-n', NS, 'get', 'configmap', 'probe-cm', '-o', 'jsonpath={.data.image}'])).trim(), c.images.operator);
    await c.helm(['uninstall', 'probe', '-n', NS, '--wait']);
    assert.notEqual((await c.kubectlResult(['-n', NS, 'get', 'configmap', 'probe-cm'])).code, 0);
  });

  it('lets a pod with a service account reach the API server from inside', async () => {
    await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: NS } });
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'read-configmaps', namespace: NS },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    });
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'reader', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }],
    });
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'greeting', namespace: NS }, data: { text: 'hello from the API server' } });
    const script = `
const fs = require('fs');
const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
const req = require('https').get({
  host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,
  path: '/api/v1/namespaces/' + fs.readFileSync(sa + 'namespace', 'utf8') + '/configmaps/greeting',
  ca: fs.readFileSync(sa + 'ca.crt'), headers: { authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8') },
}, (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => {
    console.log('status ' + res.statusCode + ' via ' + process.env.KUBERNETES_SERVICE_HOST);
    if (res.statusCode === 200) console.log('text: ' + JSON.parse(body).data.text);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
});
req.on('error', (e) => { console.log('error ' + e.message); process.exit(2); });`;
    const logs = await runToEnd('api-client', script, { serviceAccountName: 'reader' });
    assert.match(logs, new RegExp(`status 200 via ${c.serviceIP.replace(/\./g, '\\.')}`));
    assert.match(logs, /text: hello from the API server/);
  });
});
