import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ClusterRole, V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { FLAGS } from '../config.js';
import { operatorManifests } from './manifests.js';

const objs = operatorManifests({ namespace: 'nvmeof-system', image: 'localhost/nvmeof-operator:1', flags: { 'target-image': 'localhost/nvmeof-target:1', 'metrics-port': '8081' } });

test('the operator\'s objects: account, RBAC, metrics Service, Deployment', () => {
  assert.deepEqual(objs.map((o) => o.kind), ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Service', 'PodDisruptionBudget', 'Deployment'], 'the Service and the budget before the pods');
  const d = objs.find((o) => o.kind === 'Deployment') as V1Deployment;
  const c = d.spec!.template.spec!.containers[0];
  assert.equal(d.spec!.replicas, 2, 'two replicas elect a leader');
  assert.deepEqual(c.command, ['node', '/app/dist/operator/main.js']);
  assert.deepEqual(c.args, ['--target-image=localhost/nvmeof-target:1', '--metrics-port=8081']);
  for (const a of c.args!) assert.ok(FLAGS.includes(a.slice(2, a.indexOf('='))), a);
  assert.equal(c.readinessProbe!.httpGet!.port, 8081);
  assert.deepEqual(c.env!.map((e) => e.name), ['POD_NAME', 'POD_NAMESPACE']);
  assert.equal(d.spec!.template.spec!.securityContext!.runAsNonRoot, true);
  // The Service the README's `kubectl port-forward svc/nvmeof-operator-metrics 8080` uses: every replica, the metrics port.
  const svc = objs.find((o) => o.kind === 'Service') as V1Service;
  assert.equal(svc.metadata!.name, 'nvmeof-operator-metrics');
  assert.deepEqual(svc.spec!.selector, d.spec!.selector!.matchLabels);
  assert.deepEqual(svc.spec!.ports!.map((p) => [p.name, p.port, p.targetPort]), [['metrics', 8081, 'metrics']]);
  assert.equal(c.ports![0].name, 'metrics');
});

test('a drain evicts at most one operator replica at a time: a budget of maxUnavailable 1 over the Deployment\'s pods', () => {
  const d = objs.find((o) => o.kind === 'Deployment') as V1Deployment;
  const pdb = objs.find((o) => o.kind === 'PodDisruptionBudget') as V1PodDisruptionBudget;
  assert.equal(pdb.apiVersion, 'policy/v1');
  assert.equal(pdb.metadata!.namespace, 'nvmeof-system');
  assert.equal(pdb.spec!.maxUnavailable, 1);
  assert.deepEqual(pdb.spec!.selector, d.spec!.selector);
});

test('RBAC grants what the operator does and nothing on secrets', () => {
  const cr = objs.find((o) => o.kind === 'ClusterRole') as V1ClusterRole;
  const can = (group: string, resource: string, verb: string) =>
    cr.rules!.some((r) => r.apiGroups!.includes(group) && r.resources!.includes(resource) && r.verbs.includes(verb));
  for (const [g, r, v] of [
    ['nvmeof.io', 'nvmeofsubsystems', 'watch'], ['nvmeof.io', 'nvmeofsubsystems', 'patch'], ['nvmeof.io', 'nvmeofsubsystems/status', 'patch'],
    ['', 'pods', 'create'], ['', 'pods', 'delete'], ['', 'pods', 'patch'], ['', 'configmaps', 'patch'], ['', 'services', 'patch'],
    ['', 'events', 'create'], ['', 'nodes', 'list'], ['', 'namespaces', 'watch'],
    ['policy', 'poddisruptionbudgets', 'watch'], ['policy', 'poddisruptionbudgets', 'create'], ['policy', 'poddisruptionbudgets', 'patch'],
  ]) assert.ok(can(g, r, v), `${v} ${g}/${r}`);
  assert.ok(!cr.rules!.some((r) => r.resources!.includes('secrets') || r.resources!.includes('*') || r.verbs.includes('*')));
});
