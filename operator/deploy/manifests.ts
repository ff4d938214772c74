// The operator's own objects: its ServiceAccount, the RBAC it needs (no more), a Deployment of
// replicas that elect a leader, and the Service `<name>-metrics` in front of their /metrics (as the
// chart's). Pure, for the Helm chart to mirror and for tests on a real cluster.
import type {
  KubernetesObject, V1ClusterRole, V1ClusterRoleBinding, V1Deployment, V1PodDisruptionBudget, V1PolicyRule, V1Role, V1RoleBinding, V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { GROUP, PLURAL } from '../api/types.js';

export interface OperatorDeployOptions {
  namespace: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  replicas?: number;
  /** Flags passed to the operator (without the leading --), e.g. { 'target-image': 'localhost/nvmeof-target:1' }. */
  flags: Record<string, string>;
  name?: string;
}

// The operator's RBAC rules. The chart's (charts/nvmeof-operator/templates/_rbac.tpl) are generated from
// these by `npm run generate` (operator/deploy/chart.ts), which also writes RULE_NOTES there as comments.

/** On objects in the watched namespaces: in a Role there when the chart's watchNamespace names one. */
export const NAMESPACED_RULES: V1PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'patch', 'update'] },
  // Setting blockOwnerDeletion on owned objects needs update on the owner's finalizers subresource.
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
  { apiGroups: [''], resources: ['pods', 'configmaps', 'services'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'update'] },
];

/** On cluster-scoped objects: always in the ClusterRole. */
export const CLUSTER_SCOPED_RULES: V1PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] },
];

export const CLUSTER_RULES: V1PolicyRule[] = [...NAMESPACED_RULES, ...CLUSTER_SCOPED_RULES];

/** The leader-election Lease, in the operator's namespace. */
export const LEASE_RULES: V1PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/** Why a rule is there, by its first resource, where the rule does not say it: comments in the chart's RBAC. */
export const RULE_NOTES: Readonly<Record<string, string>> = {
  [`${PLURAL}/finalizers`]: 'Setting blockOwnerDeletion on the pods, ConfigMaps and Services a subsystem owns.',
  nodes: 'Nodes: where a subsystem\'s state lives, and whether it is cordoned or NotReady; namespaces: whether they admit privileged pods.',
  poddisruptionbudgets: 'Each target pod\'s PodDisruptionBudget, so a drain does not evict a serving target (garbage-collected with the subsystem).',
};

export function operatorManifests(o: OperatorDeployOptions): KubernetesObject[] {
  const name = o.name ?? 'nvmeof-operator';
  const labels = { 'app.kubernetes.io/name': name };
  const sa: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: o.namespace, labels } };
  const cr: V1ClusterRole = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels }, rules: CLUSTER_RULES };
  const crb: V1ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace: o.namespace }],
  };
  const role: V1Role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${name}-leader`, namespace: o.namespace, labels }, rules: LEASE_RULES };
  const rb: V1RoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${name}-leader`, namespace: o.namespace, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-leader` },
    subjects: [{ kind: 'ServiceAccount', name, namespace: o.namespace }],
  };
  const metricsPort = Number(o.flags['metrics-port'] ?? 8080);
  const deploy: V1Deployment = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: o.namespace, labels },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'operator',
            image: o.image,
            imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
            command: ['node', '/app/dist/operator/main.js'],
            args: Object.entries(o.flags).map(([k, v]) => `--${k}=${v}`),
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            ],
            ports: [{ name: 'metrics', containerPort: metricsPort }],
            // Each first probe waits one period: one at the container's start comes before node listens,
            // and the kubelet records its failure as a Warning event on every healthy start.
            livenessProbe: { httpGet: { path: '/healthz', port: metricsPort }, initialDelaySeconds: 10, periodSeconds: 10 },
            readinessProbe: { httpGet: { path: '/readyz', port: metricsPort }, initialDelaySeconds: 5, periodSeconds: 5 },
            resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '384Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          }],
        },
      },
    },
  };
  // Every replica serves /metrics (nvmeof_operator_leader is 1 on the leader), so the Service selects them
  // all, as the chart's does: `kubectl port-forward svc/<name>-metrics 8080` reaches one of them.
  const svc: V1Service = {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: `${name}-metrics`, namespace: o.namespace, labels: { ...labels, 'app.kubernetes.io/component': 'metrics' } },
    spec: { selector: labels, ports: [{ name: 'metrics', port: metricsPort, targetPort: 'metrics', protocol: 'TCP' }] },
  };
  // At most one replica evicted at a time (a drain of a node with both waits for the first one's successor
  // to be Ready elsewhere): the operator never goes away with its leader and standby together. The
  // Deployment has a scale subresource, so maxUnavailable is computed from its replicas.
  const pdb: V1PodDisruptionBudget = {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace: o.namespace, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
  };
  // The Service before the Deployment (as Helm orders them): its Endpoints exist before any replica does, so
  // the endpoints controller does not race itself creating them while pods appear (FailedToCreateEndpoint).
  return [sa, cr, crb, role, rb, svc, pdb, deploy];
}
