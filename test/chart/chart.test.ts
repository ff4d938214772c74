// The Helm chart without a cluster: `helm lint`, `helm template` with default and non-default values,
// the schema's refusals, and the equivalence of what it renders with the operator's own idea of its
// objects (operator/deploy/manifests.ts) and configuration (operator/config.ts). The chart's CRD and RBAC
// rules are generated (operator/deploy/chart.ts; operator/deploy/chart.test.ts checks they are current).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { V1ClusterRole, V1ClusterRoleBinding, V1Deployment, V1Pod, V1PodDisruptionBudget, V1PolicyRule, V1Role, V1RoleBinding, V1Service } from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { parseOperatorConfig } from '../../operator/config.js';
import { CLUSTER_RULES, LEASE_RULES, operatorManifests } from '../../operator/deploy/manifests.js';
import { desiredPod } from '../../operator/builders/pod.js';
import { realise } from '../../operator/builders/target-config.js';
import { SETTINGS, subsystem } from '../../operator/testing/fixtures.js';
import { repoRoot } from '../cluster/paths.js';
import { CHART, find, helm, template, templateResult, type K8sObject } from './helm.js';

const NS = 'nvmeof-system';
const tmp = mkdtempSync(join(tmpdir(), 'nvmeof-chart-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Every (group, resource, verb) a list of rules grants, as "group/resource:verb". */
function grants(rules: V1PolicyRule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    assert.ok(!r.resourceNames && !r.nonResourceURLs, `a rule with resourceNames or URLs: ${JSON.stringify(r)}`);
    for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs) out.add(`${g}/${res}:${v}`);
  }
  return [...out].sort();
}

function container(objs: K8sObject[]) {
  return find<V1Deployment>(objs, 'Deployment').spec!.template.spec!.containers[0];
}

/** The operator's configuration, parsed from the Deployment as the operator would parse it. */
function operatorConfigOf(objs: K8sObject[]) {
  return parseOperatorConfig(container(objs).args!, { POD_NAMESPACE: NS, POD_NAME: 'nvmeof-operator-0' });
}

describe('the Helm chart (helm lint and helm template)', () => {
  it('is clean for helm lint, with default and with non-default values', () => {
    const values = join(tmp, 'lint.yaml');
    writeFileSync(values, yaml.dump({ watchNamespace: 'storage', replicaCount: 1, leaderElection: { enabled: false }, allowedDevices: ['/dev/nvme1n1'] }));
    for (const extra of [[], ['-f', values]]) {
      const r = helm(['lint', CHART, '--strict', ...extra]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/, r.stdout);
    }
  });

  it('renders the operator, its account, least-privilege RBAC, a metrics Service and a test hook by default', () => {
    const objs = template();
    assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      'ClusterRole/nvmeof-operator', 'ClusterRoleBinding/nvmeof-operator', 'Deployment/nvmeof-operator',
      'Pod/nvmeof-operator-test', 'PodDisruptionBudget/nvmeof-operator', 'Role/nvmeof-operator-leader', 'RoleBinding/nvmeof-operator-leader',
      'Service/nvmeof-operator-metrics', 'ServiceAccount/nvmeof-operator',
    ]);
    for (const o of objs) {
      if (!o.kind.startsWith('Cluster')) assert.equal(o.metadata.namespace, NS, `${o.kind} in the release namespace`);
      assert.equal(o.metadata.labels?.['app.kubernetes.io/instance'], 'nvmeof-operator');
      assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm');
    }
    const hook = find<V1Pod>(objs, 'Pod');
    assert.equal(hook.metadata!.annotations!['helm.sh/hook'], 'test');
    const c = container(objs);
    assert.equal(c.image, 'nvmeof-operator:0.1.0', 'the tag defaults to appVersion');
    const cfg = operatorConfigOf(objs);
    assert.equal(cfg.target.image, 'nvmeof-target:0.1.0');
    assert.equal(cfg.target.hostPathRoot, '/var/lib/nvmeof');
    assert.deepEqual(cfg.target.allowedDevices, []);
    assert.equal(cfg.leaderElect, true);
    assert.equal(cfg.leaderElectionNamespace, NS);
    assert.equal(cfg.watchNamespace, '');
    assert.equal(cfg.logLevel, 'info');
    assert.equal(find<V1Deployment>(objs, 'Deployment').spec!.replicas, 2);
  });

  it('renders the Deployment of operator/deploy/manifests.ts: command, env, probes, security context, resources', () => {
    const objs = template();
    const d = find<V1Deployment>(objs, 'Deployment');
    const cfgFlags = Object.fromEntries(container(objs).args!.map((a) => [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
    const ref = operatorManifests({ namespace: NS, image: 'nvmeof-operator:0.1.0', flags: cfgFlags }).find((o) => o.kind === 'Deployment') as V1Deployment;
    const [c, rc] = [d.spec!.template.spec!.containers[0], ref.spec!.template.spec!.containers[0]];
    assert.deepEqual(c.command, rc.command);
    assert.deepEqual(c.command, ['node', '/app/dist/operator/main.js']);
    assert.deepEqual(c.args, rc.args);
    assert.deepEqual(c.env, rc.env);
    assert.deepEqual(c.ports!.map((p) => [p.name, p.containerPort]), rc.ports!.map((p) => [p.name, p.containerPort]));
    assert.deepEqual(c.livenessProbe, rc.livenessProbe);
    assert.deepEqual(c.readinessProbe, rc.readinessProbe);
    assert.deepEqual(c.resources, rc.resources);
    assert.deepEqual(c.securityContext, rc.securityContext);
    assert.deepEqual(d.spec!.template.spec!.securityContext, ref.spec!.template.spec!.securityContext);
    assert.equal(d.spec!.replicas, ref.spec!.replicas);
    assert.equal(d.spec!.template.spec!.terminationGracePeriodSeconds, ref.spec!.template.spec!.terminationGracePeriodSeconds);
    // The "restricted" Pod Security Standard.
    const pod = d.spec!.template.spec!;
    assert.equal(pod.securityContext!.runAsNonRoot, true);
    assert.equal(pod.securityContext!.seccompProfile!.type, 'RuntimeDefault');
    assert.equal(c.securityContext!.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext!.capabilities!.drop, ['ALL']);
    assert.ok(!pod.hostNetwork && !pod.volumes?.some((v) => v.hostPath));
    assert.equal(pod.serviceAccountName, find(objs, 'ServiceAccount').metadata.name);
  });

  it('renders the PodDisruptionBudget of operator/deploy/manifests.ts (one replica evicted at a time), on the Deployment\'s pods', () => {
    const objs = template();
    const pdb = find<V1PodDisruptionBudget>(objs, 'PodDisruptionBudget');
    const ref = operatorManifests({ namespace: NS, image: 'nvmeof-operator:0.1.0', flags: {} }).find((o) => o.kind === 'PodDisruptionBudget') as V1PodDisruptionBudget;
    assert.equal(pdb.apiVersion, ref.apiVersion);
    assert.equal(pdb.spec!.maxUnavailable, 1);
    assert.equal(pdb.spec!.maxUnavailable, ref.spec!.maxUnavailable);
    assert.equal(pdb.spec!.minAvailable, undefined);
    assert.deepEqual(pdb.spec!.selector, find<V1Deployment>(objs, 'Deployment').spec!.selector, 'it selects exactly the Deployment\'s pods');
    assert.ok(!template({ set: ['podDisruptionBudget.enabled=false'] }).some((o) => o.kind === 'PodDisruptionBudget'), 'it can be turned off');
  });

  it('grants exactly the RBAC rules of operator/deploy/manifests.ts, split by scope when one namespace is watched', () => {
    const all = template();
    const cr = find<V1ClusterRole>(all, 'ClusterRole');
    assert.deepEqual(grants(cr.rules!), grants(CLUSTER_RULES), 'the ClusterRole is CLUSTER_RULES');
    const leader = find<V1Role>(all, 'Role', 'nvmeof-operator-leader');
    assert.deepEqual(grants(leader.rules!), grants(LEASE_RULES), 'the leader Role is LEASE_RULES');
    assert.ok(grants(cr.rules!).includes('nvmeof.io/nvmeofsubsystems/status:patch'));
    assert.ok(grants(cr.rules!).includes('/events:create'));
    assert.ok(grants(leader.rules!).includes('coordination.k8s.io/leases:update'));
    assert.ok(!grants(cr.rules!).some((g) => g.includes('secrets') || g.includes('*')));
    const sa = { kind: 'ServiceAccount', name: 'nvmeof-operator', namespace: NS };
    for (const b of [find<V1ClusterRoleBinding>(all, 'ClusterRoleBinding'), find<V1RoleBinding>(all, 'RoleBinding')]) {
      assert.deepEqual(b.subjects, [sa]);
    }
    assert.equal(find<V1ClusterRoleBinding>(all, 'ClusterRoleBinding').roleRef.name, cr.metadata!.name);
    assert.equal(find<V1RoleBinding>(all, 'RoleBinding').roleRef.name, leader.metadata!.name);

    const one = template({ set: ['watchNamespace=storage'] });
    const ocr = find<V1ClusterRole>(one, 'ClusterRole');
    const orole = find<V1Role>(one, 'Role', 'nvmeof-operator');
    assert.equal(orole.metadata!.namespace, 'storage');
    assert.deepEqual(grants(ocr.rules!), ['/namespaces:get', '/namespaces:list', '/namespaces:watch', '/nodes:get', '/nodes:list', '/nodes:watch']);
    assert.deepEqual([...grants(ocr.rules!), ...grants(orole.rules!)].sort(), grants(CLUSTER_RULES), 'ClusterRole + Role = CLUSTER_RULES');
    const orb = find<V1RoleBinding>(one, 'RoleBinding', 'nvmeof-operator');
    assert.equal(orb.metadata!.namespace, 'storage');
    assert.deepEqual(orb.subjects, [sa]);
    assert.equal(operatorConfigOf(one).watchNamespace, 'storage');
  });

  it('renders non-default values: images by digest, devices, hostPath, log level, resources, replicas, leader election', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const values = join(tmp, 'custom.yaml');
    writeFileSync(values, yaml.dump({
      image: { repository: 'registry.example.com/storage/nvmeof-operator', tag: '1.2.3', pullPolicy: 'Always' },
      targetImage: { repository: 'registry.example.com:5000/storage/nvmeof-target', digest, pullPolicy: 'Always' },
      imagePullSecrets: [{ name: 'regcred' }],
      replicaCount: 1,
      leaderElection: { enabled: false },
      hostPathRoot: '/srv/nvmeof',
      allowedDevices: ['/dev/nvme1n1', '/dev/disk/by-id/nvme-*'],
      requirePrivilegedNamespace: false,
      logLevel: 'debug',
      target: { logLevel: 'warn', shutdownGraceSeconds: 30, resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '1Gi' } } },
      workers: 8,
      resyncSeconds: 600,
      recoveryProbeSeconds: 0,
      metrics: { port: 9090, service: { port: 80 } },
      serviceAccount: { name: 'nvmeof' },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: 1, memory: '512Mi' } },
      nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
      tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
      podAnnotations: { 'example.com/team': 'storage' },
      priorityClassName: 'system-cluster-critical',
    }));
    const objs = template({ values, release: 'storage' });
    const d = find<V1Deployment>(objs, 'Deployment', 'storage-nvmeof-operator');
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0];
    assert.equal(d.spec!.replicas, 1);
    assert.equal(c.image, 'registry.example.com/storage/nvmeof-operator:1.2.3');
    assert.equal(c.imagePullPolicy, 'Always');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'regcred' }]);
    assert.equal(pod.serviceAccountName, 'nvmeof');
    assert.equal(find(objs, 'ServiceAccount').metadata.name, 'nvmeof');
    assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: 1, memory: '512Mi' } });
    assert.deepEqual(pod.nodeSelector, { 'node-role.kubernetes.io/control-plane': '' });
    assert.equal(pod.tolerations!.length, 1);
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.equal(d.spec!.template.metadata!.annotations!['example.com/team'], 'storage');
    assert.equal(c.readinessProbe!.httpGet!.port, 9090);
    const cfg = operatorConfigOf(objs);
    assert.equal(cfg.target.image, `registry.example.com:5000/storage/nvmeof-target@${digest}`);
    assert.equal(cfg.target.imagePullPolicy, 'Always');
    assert.equal(cfg.target.hostPathRoot, '/srv/nvmeof');
    assert.deepEqual(cfg.target.allowedDevices, ['/dev/nvme1n1', '/dev/disk/by-id/nvme-*']);
    assert.equal(cfg.target.requirePrivilegedNamespace, false);
    assert.equal(cfg.target.targetLogLevel, 'warn');
    assert.equal(cfg.target.shutdownGraceSeconds, 30);
    assert.deepEqual(cfg.target.defaultResources, { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '1Gi' } });
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.leaderElect, false);
    assert.equal(cfg.workers, 8);
    assert.equal(cfg.resyncSeconds, 600);
    assert.equal(cfg.recoveryProbeSeconds, 0, 'the prober turned off');
    assert.equal(cfg.metricsPort, 9090);
    assert.ok(!objs.some((o) => o.kind === 'Role' || o.kind === 'RoleBinding'), 'no Lease rights without leader election');
    const svc = find<V1Service>(objs, 'Service');
    assert.deepEqual(svc.spec!.ports!.map((p) => [p.port, p.targetPort]), [[80, 'metrics']]);
    const hook = find<V1Pod>(objs, 'Pod');
    assert.match(String(hook.spec!.containers[0].args), /STORAGE_NVMEOF_OPERATOR_METRICS_SERVICE_HOST[\s\S]*:80`/);

    const lean = template({ set: ['metrics.service.enabled=false', 'tests.enabled=false', 'rbac.create=false', 'serviceAccount.create=false', 'serviceAccount.name=existing', 'podDisruptionBudget.enabled=false'] });
    assert.deepEqual(lean.map((o) => o.kind), ['Deployment']);
    assert.equal(find<V1Deployment>(lean, 'Deployment').spec!.template.spec!.serviceAccountName, 'existing');
  });

  it('refuses bad values with a message that names the value and what is expected', () => {
    const cases: [string[], RegExp][] = [
      [['logLevel=verbose'], /at '\/logLevel': value must be one of 'error', 'warn', 'info', 'debug'/],
      [['target.logLevel=trace'], /at '\/target\/logLevel': value must be one of/],
      [['replicaCount=0'], /at '\/replicaCount': minimum: got 0, want 1/],
      [['image.repository='], /at '\/image\/repository': minLength: got 0, want 1/],
      [['image.pullPolicy=Sometimes'], /at '\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/],
      [['targetImage.digest=sha256:1234'], /at '\/targetImage\/digest': 'sha256:1234' does not match pattern/],
      [['hostPathRoot=var/lib/nvmeof'], /at '\/hostPathRoot': 'var\/lib\/nvmeof' does not match pattern '\^\(\/\[\^\/\]\+\)\+\$'/],
      [['hostPathRoot=/var/lib/nvmeof/'], /at '\/hostPathRoot': '\/var\/lib\/nvmeof\/' does not match/],
      [['hostPathRoot=/var/lib/../nvmeof'], /hostPathRoot "\/var\/lib\/..\/nvmeof" must be a normalized path: no \. or \.\. segments/],
      [['allowedDevices={/etc/shadow}'], /at '\/allowedDevices\/0': '\/etc\/shadow' does not match pattern '\^\/dev\//],
      [['allowedDevices={/dev/../etc/shadow}'], /allowedDevices entry "\/dev\/..\/etc\/shadow" must be a normalized path under \/dev\//],
      [['metrics.port=80'], /at '\/metrics\/port': minimum: got 80, want 1,?024/],
      [['resources.requests.cpu=lots'], /at '\/resources\/requests\/cpu': 'lots' does not match pattern/],
      [['leaderElection.enabled=false'], /replicaCount is 2 but leaderElection.enabled is false: .*set replicaCount: 1 or enable leader election/],
      [['logLevl=debug'], /additional properties 'logLevl' not allowed/],
      [['watchNamespace=Not_A_Namespace'], /at '\/watchNamespace': 'Not_A_Namespace' does not match pattern/],
      [['serviceAccount.create=false'], /serviceAccount.name is required when serviceAccount.create is false/],
    ];
    for (const [set, want] of cases) {
      const r = templateResult({ set });
      assert.notEqual(r.code, 0, `--set ${set.join(' ')} was accepted`);
      assert.match(r.stderr, want, `--set ${set.join(' ')}`);
    }
  });

  it('accepts only what the operator accepts for paths and devices', () => {
    const roots = ['/var/lib/nvmeof', '/srv/a.b/c-d', '/x', '/var/lib/./nvmeof', '/var//lib', '/', '/var/lib/nvmeof/', 'relative', '/var/../x', '/var/..x', '/var/...'];
    const devices = ['/dev/nvme1n1', '/dev/nvme*', '/dev/disk/by-id/nvme-*', '/dev/*', '/dev/../sda', '/dev//sda', '/dev/sda/', '/dev/./sda', '/dev/s*a', '/etc/x', '/dev/sda.1'];
    const verdicts = [
      ...roots.map((r) => ({ set: [`hostPathRoot=${r}`], flags: [`--host-path-root=${r}`] })),
      ...devices.map((d) => ({ set: [`allowedDevices={${d}}`], flags: [`--allowed-devices=${d}`] })),
    ];
    for (const v of verdicts) {
      const chart = templateResult({ set: v.set }).code === 0;
      let operator = true;
      try {
        parseOperatorConfig(['--target-image=t', ...v.flags], {});
      } catch {
        operator = false;
      }
      // The chart may be stricter (a device path with a trailing slash), never looser.
      if (v.set[0] === 'allowedDevices={/dev/sda/}') assert.equal(chart, false);
      else assert.equal(chart, operator, `${v.set}: the chart ${chart ? 'accepts' : 'refuses'} it, the operator ${operator ? 'accepts' : 'refuses'} ${v.flags}`);
    }
  });

  it('renders a ServiceMonitor for the operator and a PodMonitor for the targets when asked (helm template only)', () => {
    const refused = templateResult({ set: ['metrics.serviceMonitor.enabled=true'] });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /metrics.serviceMonitor.enabled needs the monitoring.coreos.com\/v1 API \(the prometheus-operator CRDs\)/);

    const objs = template({
      set: ['metrics.serviceMonitor.enabled=true', 'metrics.serviceMonitor.labels.release=prometheus', 'metrics.serviceMonitor.interval=15s', 'metrics.targetPodMonitor.enabled=true'],
      extra: ['--api-versions', 'monitoring.coreos.com/v1'],
    });
    const sm = find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string; interval: string }[]; namespaceSelector: { matchNames: string[] } } }>(objs, 'ServiceMonitor');
    assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(sm.metadata.labels!.release, 'prometheus');
    const svc = find<V1Service>(objs, 'Service');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata!.labels![k], v, `the ServiceMonitor selects the Service by ${k}`);
    assert.deepEqual(sm.spec.namespaceSelector.matchNames, [NS]);
    assert.deepEqual(sm.spec.endpoints, [{ port: 'metrics', path: '/metrics', interval: '15s' }]);
    assert.ok(svc.spec!.ports!.some((p) => p.name === 'metrics'));

    const pm = find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[]; namespaceSelector: { any?: boolean } } }>(objs, 'PodMonitor');
    // A target pod as the operator builds it (operator/builders/pod.ts).
    const sub = subsystem();
    const r = realise(sub, SETTINGS);
    assert.ok(r.ok);
    const target = desiredPod(sub, SETTINGS, r.value, { name: 'demo-target-abcde' });
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) assert.equal(target.metadata!.labels![k], v, `the PodMonitor selects target pods by ${k}`);
    assert.ok(target.spec!.containers[0].ports!.some((p) => p.name === pm.spec.podMetricsEndpoints[0].port), 'the target container has the port the PodMonitor scrapes');
    assert.equal(pm.spec.podMetricsEndpoints[0].path, '/metrics');
    assert.equal(pm.spec.namespaceSelector.any, true);
    const scoped = template({ set: ['metrics.targetPodMonitor.enabled=true', 'watchNamespace=storage'], extra: ['--api-versions', 'monitoring.coreos.com/v1'] });
    assert.deepEqual(find<K8sObject & { spec: { namespaceSelector: unknown } }>(scoped, 'PodMonitor').spec.namespaceSelector, { matchNames: ['storage'] });
  });
  it('documents in README "Install with Helm" only values the chart has', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Install with Helm'), readme.indexOf('\n## ', readme.indexOf('## Install with Helm') + 1));
    const values = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    assert.ok(rows.length > 10, 'the values table');
    let prev: Record<string, unknown> | undefined;
    for (const row of rows) {
      for (const [, key] of row.split('|')[1].matchAll(/`([^`]+)`/g)) {
        // `.tag` continues the previous key's object; `x.*` names every field of x.
        const path = key.replace(/\.\*$/, '').split('.');
        let at: unknown = key.startsWith('.') ? prev : values;
        for (const part of path.filter(Boolean)) {
          assert.ok(at && typeof at === 'object' && part in (at as object), `README names value ${key}, which values.yaml does not have`);
          if (!key.startsWith('.')) prev = at as Record<string, unknown>;
          at = (at as Record<string, unknown>)[part];
        }
      }
    }
  });
});
