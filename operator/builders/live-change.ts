// What a change of an NvmeofSubsystem does to its running target (issue 20): from what the running pod was
// built from and what the current spec builds, the changes a running target applies live and the ones
// that roll the pod, each by name (for events, status and the README's table). Pure.
//
// Invariants:
// - a change of anything the pod's spec carries rolls the pod (a pod's spec is immutable): the image, the
//   node flags, in-pod resume on or off (the command), resources, host networking, the container ports and
//   probes, the mounted block devices and Secrets, the security context (privileged once a block device
//   is mounted), placement, the node; and the configuration fields rolling-config.ts lists;
// - everything else in the target's configuration is live: namespaces added, removed or grown, hosts,
//   listeners that do not change a container port, serial, model, the log level;
// - the names come from the pod specs themselves, so a running pod read back from the API (with the
//   apiserver's defaults filled in) compares equal to the pod the operator would build for it now.
import type { V1PodSpec, V1Toleration } from '@kubernetes/client-node';
import type { NamespaceConfig, TargetConfig } from '../../target/contract.js';
import { canonicalJson } from './canonical.js';
import { configMapsOf, devicesOf, pinnedNodeOf, SUPERVISOR_ENTRYPOINT, TARGET_CONTAINER } from './pod.js';
import { quantityBytes } from './quantity.js';
import { listenerTlsModes, ROLLING_SUBSYSTEM_FIELDS, ROLLING_TOP_FIELDS, type SubsystemConfig } from './rolling-config.js';

/** What a pod is built from: its spec and the configuration its ConfigMap holds. */
export interface Built {
  pod: V1PodSpec;
  config: TargetConfig;
}

export interface Change {
  /** Changes that roll the pod, by name (README, "What changes live, what rolls the pod"). */
  roll: string[];
  /** Changes the running target applies, by name. */
  live: string[];
}

const containerOf = (s: V1PodSpec) => s.containers?.find((c) => c.name === TARGET_CONTAINER) ?? s.containers?.[0];
const commandOf = (s: V1PodSpec) => containerOf(s)?.command ?? [];
const SUPERVISOR_SCRIPT = SUPERVISOR_ENTRYPOINT[SUPERVISOR_ENTRYPOINT.length - 1];

/** Requests and limits by resource, in bytes or cores, so "1Gi" and "1024Mi" (the apiserver's canonical form) compare equal. */
function resources(s: V1PodSpec): unknown {
  const r = containerOf(s)?.resources ?? {};
  const norm = (m?: Record<string, string>) =>
    Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, k === 'cpu' ? cpuMillis(v) : quantityBytes(v) ?? v]));
  return { requests: norm(r.requests), limits: norm(r.limits) };
}

function cpuMillis(q: string): number | string {
  const m = /^([0-9.]+)(m?)$/.exec(q);
  return m ? Math.round(Number(m[1]) * (m[2] ? 1 : 1000)) : q;
}

/** The node flags: the command's arguments between `node` and its script. */
function nodeFlags(s: V1PodSpec): string[] {
  const cmd = commandOf(s);
  const script = cmd.findIndex((a) => a.endsWith('.js'));
  return cmd.slice(1, script < 0 ? cmd.length : script);
}

/**
 * The tolerations the DefaultTolerationSeconds admission plugin adds to every pod that has none of its own
 * for these keys (kubernetes plugin/pkg/admission/defaulttolerationseconds): not part of what the operator built.
 */
function admissionDefault(t: V1Toleration): boolean {
  return (t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable') &&
    t.operator === 'Exists' && t.effect === 'NoExecute' && t.tolerationSeconds === 300;
}

function probe(p: { httpGet?: { path?: string; port?: unknown }; initialDelaySeconds?: number; periodSeconds?: number; timeoutSeconds?: number; failureThreshold?: number } | undefined): unknown {
  return p && { path: p.httpGet?.path, port: p.httpGet?.port, delay: p.initialDelaySeconds, period: p.periodSeconds, timeout: p.timeoutSeconds, failures: p.failureThreshold };
}

/**
 * The fields of a pod's spec a change is named by. Each reads only what the operator sets, never a
 * default the apiserver fills in. `command` is named only when neither of the two command fields is.
 */
const POD_FIELDS: ReadonlyArray<readonly [string, (s: V1PodSpec) => unknown]> = [
  ['image', (s) => containerOf(s)?.image],
  ['image pull policy', (s) => containerOf(s)?.imagePullPolicy],
  ['node flags', nodeFlags],
  ['in-pod resume', (s) => commandOf(s).includes(SUPERVISOR_SCRIPT)],
  ['resources', resources],
  ['host networking', (s) => s.hostNetwork ?? false],
  ['container ports', (s) => (containerOf(s)?.ports ?? []).map((p) => ({ name: p.name, port: p.containerPort, host: p.hostPort ?? null })).sort((a, b) => String(a.name).localeCompare(String(b.name)))],
  ['probes', (s) => ({ readiness: probe(containerOf(s)?.readinessProbe), liveness: probe(containerOf(s)?.livenessProbe) })],
  ['block devices', (s) => [...devicesOf({ spec: s })].sort()],
  ['Secrets', (s) => (s.volumes ?? []).flatMap((v) => (v.secret?.secretName ? [v.secret.secretName] : [])).sort()],
  ['security context', (s) => {
    const c = containerOf(s)?.securityContext ?? {};
    return { privileged: c.privileged ?? false, user: c.runAsUser, escalation: c.allowPrivilegeEscalation, readOnlyRoot: c.readOnlyRootFilesystem, capabilities: c.capabilities };
  }],
  ['node selector', (s) => s.nodeSelector ?? {}],
  ['tolerations', (s) => (s.tolerations ?? []).filter((t) => !admissionDefault(t)).map((t) => ({ key: t.key, operator: t.operator, value: t.value, effect: t.effect, seconds: t.tolerationSeconds }))],
  ['termination grace period', (s) => s.terminationGracePeriodSeconds],
  ['subsystem directory', (s) => (s.volumes ?? []).find((v) => v.name === 'subsystem')?.hostPath?.path],
  ['configuration ConfigMap', (s) => configMapsOf({ spec: s })],
  ['volumes', (s) => (s.volumes ?? []).map((v) => v.name).sort()],
];

const differ = (a: unknown, b: unknown) => canonicalJson(a ?? null) !== canonicalJson(b ?? null);

/** Pod fields that differ, by name. The node only when both pods name one (pinning a pod rolls nothing). */
export function podChanges(before: V1PodSpec, after: V1PodSpec): string[] {
  const out = POD_FIELDS.filter(([, read]) => differ(read(before), read(after))).map(([name]) => name);
  if (differ(commandOf(before), commandOf(after)) && !out.includes('node flags') && !out.includes('in-pod resume')) out.push('command');
  const node = (s: V1PodSpec) => s.nodeName ?? pinnedNodeOf({ spec: s });
  if (node(before) && node(after) && node(before) !== node(after)) out.push('node');
  return out;
}

function namespaceChanges(before: NamespaceConfig[], after: NamespaceConfig[], where: string): string[] {
  const out: string[] = [];
  const old = new Map(before.map((n) => [n.nsid, n]));
  const now = new Map(after.map((n) => [n.nsid, n]));
  for (const n of after) {
    const o = old.get(n.nsid);
    if (!o) {
      out.push(`${where}namespace ${n.nsid} added`);
      continue;
    }
    const size = (x: NamespaceConfig) => ('size' in x.backing ? x.backing.size : undefined);
    const { backing: ob, ...orest } = o;
    const { backing: nb, ...nrest } = n;
    const oSized = { ...ob, size: undefined };
    const nSized = { ...nb, size: undefined };
    if (size(o) !== size(n)) out.push(`${where}namespace ${n.nsid} ${(size(n) ?? 0) > (size(o) ?? 0) ? 'grown' : 'shrunk'}`);
    if (differ(orest, nrest) || differ(oSized, nSized)) out.push(`${where}namespace ${n.nsid} changed`);
  }
  for (const n of before) if (!now.has(n.nsid)) out.push(`${where}namespace ${n.nsid} removed`);
  return out;
}

const SUBSYSTEM_LIVE_NAMES: Record<string, string> = { allowAnyHost: 'hosts', hosts: 'hosts', dhchap: 'DH-HMAC-CHAP hosts', tlsPsks: 'TLS PSKs' };
const TOP_LIVE_NAMES: Record<string, string> = { logLevel: 'log level', discoveryListeners: 'discovery listeners', shutdownGraceSeconds: 'shutdown grace' };

function keysOf(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

/** Configuration fields that differ, by name, split into what rolls and what is live. */
export function configChanges(before: TargetConfig, after: TargetConfig): Change {
  const roll: string[] = [];
  const live: string[] = [];
  const rollTop: readonly string[] = ROLLING_TOP_FIELDS;
  const rollSub: readonly string[] = ROLLING_SUBSYSTEM_FIELDS;
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  for (const k of keysOf(b, a)) {
    if (k === 'subsystems' || k === 'generation' || !differ(b[k], a[k])) continue;
    (rollTop.includes(k) ? roll : live).push(TOP_LIVE_NAMES[k] ?? k);
  }
  const single = before.subsystems.length === 1 && after.subsystems.length === 1;
  const old = new Map(before.subsystems.map((s) => [s.nqn, s]));
  const now = new Map(after.subsystems.map((s) => [s.nqn, s]));
  // One subsystem on either side (what the operator builds) is the same subsystem, its NQN a rolling field.
  const pairs: Array<[SubsystemConfig, SubsystemConfig]> = single
    ? [[before.subsystems[0], after.subsystems[0]]]
    : after.subsystems.flatMap((s) => (old.has(s.nqn) ? [[old.get(s.nqn)!, s] as [SubsystemConfig, SubsystemConfig]] : []));
  if (!single) {
    for (const s of after.subsystems) if (!old.has(s.nqn)) live.push(`subsystem ${s.nqn} added`);
    for (const s of before.subsystems) if (!now.has(s.nqn)) live.push(`subsystem ${s.nqn} removed`);
  }
  for (const [o, n] of pairs) {
    const where = single ? '' : `subsystem ${n.nqn}: `;
    const os = o as unknown as Record<string, unknown>;
    const ns = n as unknown as Record<string, unknown>;
    for (const k of keysOf(os, ns)) {
      if (k === 'namespaces' || !differ(os[k], ns[k])) continue;
      const name = `${where}${SUBSYSTEM_LIVE_NAMES[k] ?? k}`;
      // A listener's TLS mode rolls (rolling-config.ts); its address and port are live.
      const tlsOnly = k === 'listeners' && differ(listenerTlsModes(o), listenerTlsModes(n));
      const list = rollSub.includes(k) || tlsOnly ? roll : live;
      const named = tlsOnly ? `${where}listener tls` : name;
      if (!list.includes(named)) list.push(named);
    }
    live.push(...namespaceChanges(o.namespaces, n.namespaces, where));
  }
  return { roll, live };
}

/** The whole classification: pod changes and rolling configuration fields roll; the rest is live. */
export function classifyChange(before: Built, after: Built): Change {
  const config = configChanges(before.config, after.config);
  return { roll: [...podChanges(before.pod, after.pod), ...config.roll], live: config.live };
}
