// The operator's own configuration, from flags (`--name=value` or `--name value`) over environment
// variables over defaults. This, never an NvmeofSubsystem, decides what a target pod may touch on a
// node: the image, the hostPath root and the allow-list of block devices.
//
//   flag                         env                              default
//   --target-image               NVMEOF_TARGET_IMAGE              (required)
//   --image-pull-policy          NVMEOF_IMAGE_PULL_POLICY         IfNotPresent
//   --host-path-root             NVMEOF_HOST_PATH_ROOT            /var/lib/nvmeof
//   --allowed-devices            NVMEOF_ALLOWED_DEVICES           (none; comma-separated paths, `prefix*`)
//   --metrics-port               NVMEOF_METRICS_PORT              8080  (/metrics, /healthz, /readyz)
//   --watch-namespace            NVMEOF_WATCH_NAMESPACE           (all namespaces)
//   --leader-elect               NVMEOF_LEADER_ELECT              true
//   --leader-election-namespace  NVMEOF_LEADER_ELECTION_NAMESPACE POD_NAMESPACE, else default
//   --leader-election-id         NVMEOF_LEADER_ELECTION_ID        nvmeof-operator-leader
//   --identity                   POD_NAME                         <hostname>_<random>
//   --workers                    NVMEOF_WORKERS                   4
//   --resync-seconds             NVMEOF_RESYNC_SECONDS            300
//   --recovery-probe-seconds     NVMEOF_RECOVERY_PROBE_SECONDS    5     (0: no prober; controller/recovery-prober.ts)
//   --target-shutdown-grace-seconds NVMEOF_TARGET_SHUTDOWN_GRACE_SECONDS 10
//   --target-log-level           NVMEOF_TARGET_LOG_LEVEL          info
//   --target-cpu-request         NVMEOF_TARGET_CPU_REQUEST        25m   (target pods whose resource names no
//   --target-memory-request      NVMEOF_TARGET_MEMORY_REQUEST     64Mi   spec.resources; README, Sizing)
//   --target-cpu-limit           NVMEOF_TARGET_CPU_LIMIT          (none)
//   --target-memory-limit        NVMEOF_TARGET_MEMORY_LIMIT       (none)
//   --require-privileged-namespace NVMEOF_REQUIRE_PRIVILEGED_NAMESPACE true
//   --log-level                  NVMEOF_LOG_LEVEL                 info
//   --kubeconfig                 KUBECONFIG                       (in-cluster, else ~/.kube/config)
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { posix } from 'node:path';
import { parseArgs } from 'node:util';
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import { parseBytes } from './builders/quantity.js';
import type { PullPolicy, TargetSettings } from './builders/settings.js';
import type { Level } from './log.js';

export interface OperatorConfig {
  target: TargetSettings;
  metricsPort: number;
  /** Empty: all namespaces. */
  watchNamespace: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  workers: number;
  resyncSeconds: number;
  /** Seconds between the prober's reads of ready targets' /recovery; 0: none (the 60 s ready refresh alone). */
  recoveryProbeSeconds: number;
  logLevel: Level;
  kubeconfig?: string;
}

export class OperatorConfigError extends Error {}

type Spec = { flag: string; env?: string; def?: string };

const SPECS = {
  targetImage: { flag: 'target-image', env: 'NVMEOF_TARGET_IMAGE' },
  imagePullPolicy: { flag: 'image-pull-policy', env: 'NVMEOF_IMAGE_PULL_POLICY', def: 'IfNotPresent' },
  hostPathRoot: { flag: 'host-path-root', env: 'NVMEOF_HOST_PATH_ROOT', def: '/var/lib/nvmeof' },
  allowedDevices: { flag: 'allowed-devices', env: 'NVMEOF_ALLOWED_DEVICES', def: '' },
  metricsPort: { flag: 'metrics-port', env: 'NVMEOF_METRICS_PORT', def: '8080' },
  watchNamespace: { flag: 'watch-namespace', env: 'NVMEOF_WATCH_NAMESPACE', def: '' },
  leaderElect: { flag: 'leader-elect', env: 'NVMEOF_LEADER_ELECT', def: 'true' },
  leaderElectionNamespace: { flag: 'leader-election-namespace', env: 'NVMEOF_LEADER_ELECTION_NAMESPACE' },
  leaderElectionId: { flag: 'leader-election-id', env: 'NVMEOF_LEADER_ELECTION_ID', def: 'nvmeof-operator-leader' },
  identity: { flag: 'identity', env: 'POD_NAME' },
  workers: { flag: 'workers', env: 'NVMEOF_WORKERS', def: '4' },
  resyncSeconds: { flag: 'resync-seconds', env: 'NVMEOF_RESYNC_SECONDS', def: '300' },
  recoveryProbeSeconds: { flag: 'recovery-probe-seconds', env: 'NVMEOF_RECOVERY_PROBE_SECONDS', def: '5' },
  shutdownGrace: { flag: 'target-shutdown-grace-seconds', env: 'NVMEOF_TARGET_SHUTDOWN_GRACE_SECONDS', def: '10' },
  targetLogLevel: { flag: 'target-log-level', env: 'NVMEOF_TARGET_LOG_LEVEL', def: 'info' },
  targetCpuRequest: { flag: 'target-cpu-request', env: 'NVMEOF_TARGET_CPU_REQUEST', def: '25m' },
  targetMemoryRequest: { flag: 'target-memory-request', env: 'NVMEOF_TARGET_MEMORY_REQUEST', def: '64Mi' },
  targetCpuLimit: { flag: 'target-cpu-limit', env: 'NVMEOF_TARGET_CPU_LIMIT' },
  targetMemoryLimit: { flag: 'target-memory-limit', env: 'NVMEOF_TARGET_MEMORY_LIMIT' },
  requirePrivileged: { flag: 'require-privileged-namespace', env: 'NVMEOF_REQUIRE_PRIVILEGED_NAMESPACE', def: 'true' },
  logLevel: { flag: 'log-level', env: 'NVMEOF_LOG_LEVEL', def: 'info' },
  kubeconfig: { flag: 'kubeconfig', env: 'KUBECONFIG' },
} satisfies Record<string, Spec>;

export const FLAGS = Object.values(SPECS).map((s) => s.flag);

// Every flag is declared boolean, so that node's parser never takes the next argument as a flag's value: it
// splits `--name=value` and names each flag; a flag without `=` takes the next argument unless that starts
// with `--` (a bare flag means true).
const OPTIONS = Object.fromEntries(FLAGS.map((f) => [f, { type: 'boolean' as const }]));

function parseFlags(argv: readonly string[]): Map<string, string> {
  const { tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const out = new Map<string, string>();
  let taken = -1;
  for (const t of tokens) {
    if (t.index === taken) continue; // the value of the flag before it (`-1`: a short-option token of its own)
    const a = argv[t.index];
    if (!a.startsWith('--')) throw new OperatorConfigError(`unexpected argument ${JSON.stringify(a)}`);
    const name = t.kind === 'option' ? t.name : '';
    if (!FLAGS.includes(name)) {
      const eq = a.indexOf('=');
      throw new OperatorConfigError(`unknown flag --${a.slice(2, eq > 0 ? eq : undefined)} (known: ${FLAGS.map((f) => `--${f}`).join(', ')})`);
    }
    let value: string;
    if (t.kind === 'option' && t.inlineValue) value = t.value ?? '';
    else if (t.index + 1 < argv.length && !argv[t.index + 1].startsWith('--')) value = argv[(taken = t.index + 1)];
    else value = 'true';
    out.set(name, value);
  }
  return out;
}

function int(v: string, what: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new OperatorConfigError(`${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

function bool(v: string, what: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new OperatorConfigError(`${what} must be true or false, got ${JSON.stringify(v)}`);
}

function oneOf<T extends string>(v: string, what: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new OperatorConfigError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** A CPU quantity as Kubernetes writes one: cores (`0.5`, `2`) or millicores (`250m`), above zero. */
function cpu(v: string, what: string): string {
  if (!/^(\d+(\.\d+)?|\d+m)$/.test(v) || Number.parseFloat(v) <= 0) throw new OperatorConfigError(`${what} must be a CPU quantity such as 25m or 0.5, got ${JSON.stringify(v)}`);
  return v;
}

/** A memory quantity (`64Mi`, `1G`, bytes), above zero. */
function memory(v: string, what: string): string {
  let bytes: number;
  try {
    bytes = parseBytes(v);
  } catch {
    bytes = 0;
  }
  if (!(bytes > 0)) throw new OperatorConfigError(`${what} must be a memory quantity such as 64Mi or 1Gi, got ${JSON.stringify(v)}`);
  return v;
}

/** The target pods' default resources (a resource's own spec.resources wins); limits only when given. */
function targetResources(get: (s: Spec) => string | undefined): V1ResourceRequirements {
  const cpuLimit = get(SPECS.targetCpuLimit);
  const memoryLimit = get(SPECS.targetMemoryLimit);
  const limits = {
    ...(cpuLimit ? { cpu: cpu(cpuLimit, '--target-cpu-limit') } : {}),
    ...(memoryLimit ? { memory: memory(memoryLimit, '--target-memory-limit') } : {}),
  };
  return {
    requests: { cpu: cpu(get(SPECS.targetCpuRequest) ?? '', '--target-cpu-request'), memory: memory(get(SPECS.targetMemoryRequest) ?? '', '--target-memory-request') },
    ...(Object.keys(limits).length ? { limits } : {}),
  };
}

export function parseOperatorConfig(argv: readonly string[], env: Record<string, string | undefined>): OperatorConfig {
  const flags = parseFlags(argv);
  const get = (s: Spec): string | undefined => flags.get(s.flag) ?? (s.env ? env[s.env] : undefined) ?? s.def;
  const need = (s: Spec): string => {
    const v = get(s);
    if (!v) throw new OperatorConfigError(`--${s.flag}${s.env ? ` (or ${s.env})` : ''} is required`);
    return v;
  };
  const root = need(SPECS.hostPathRoot);
  if (!posix.isAbsolute(root) || posix.normalize(root) !== root || root === '/' || root.endsWith('/')) {
    throw new OperatorConfigError(`--host-path-root must be an absolute, normalized path other than /, got ${JSON.stringify(root)}`);
  }
  const devices = (get(SPECS.allowedDevices) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const d of devices) {
    const p = d.endsWith('*') ? d.slice(0, -1) : d;
    if (!p.startsWith('/dev/') || p.includes('..') || p.includes('*') || (!d.endsWith('*') && posix.normalize(p) !== p)) {
      throw new OperatorConfigError(`--allowed-devices entry ${JSON.stringify(d)} must be a path under /dev/, optionally ending in *`);
    }
  }
  const levels = ['error', 'warn', 'info', 'debug'] as const;
  const target: TargetSettings = {
    image: need(SPECS.targetImage),
    imagePullPolicy: oneOf<PullPolicy>(need(SPECS.imagePullPolicy), '--image-pull-policy', ['Always', 'IfNotPresent', 'Never']),
    hostPathRoot: root,
    allowedDevices: devices,
    shutdownGraceSeconds: int(need(SPECS.shutdownGrace), '--target-shutdown-grace-seconds', 0, 3600),
    targetLogLevel: oneOf(need(SPECS.targetLogLevel), '--target-log-level', levels),
    requirePrivilegedNamespace: bool(need(SPECS.requirePrivileged), '--require-privileged-namespace'),
    defaultResources: targetResources(get),
  };
  const kubeconfig = get(SPECS.kubeconfig);
  return {
    target,
    metricsPort: int(need(SPECS.metricsPort), '--metrics-port', 1, 65535),
    watchNamespace: get(SPECS.watchNamespace) ?? '',
    leaderElect: bool(need(SPECS.leaderElect), '--leader-elect'),
    leaderElectionNamespace: get(SPECS.leaderElectionNamespace) ?? env.POD_NAMESPACE ?? 'default',
    leaderElectionId: need(SPECS.leaderElectionId),
    identity: get(SPECS.identity) ?? `${hostname()}_${randomBytes(4).toString('hex')}`,
    workers: int(need(SPECS.workers), '--workers', 1, 64),
    resyncSeconds: int(need(SPECS.resyncSeconds), '--resync-seconds', 10, 86_400),
    recoveryProbeSeconds: int(need(SPECS.recoveryProbeSeconds), '--recovery-probe-seconds', 0, 3600),
    logLevel: oneOf(need(SPECS.logLevel), '--log-level', levels),
    ...(kubeconfig ? { kubeconfig } : {}),
  };
}
