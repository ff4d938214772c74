// The target's configuration for one NvmeofSubsystem, in the target's own versioned format
// (target/config/config.ts), validated by the target's own validator: a resource whose
// configuration the target would refuse never reaches a pod; it gets a Problem instead.
import {
  CONFIG_API_VERSION, CONFIG_KIND, ConfigError, DEFAULT_METRICS_PORT, DEFAULT_PORT, validateConfig,
  type NamespaceConfig, type TargetConfig,
} from '../../target/contract.js';
import type { NamespaceIdentityStatus, NvmeofSubsystem, RetiredNamespaceStatus } from '../api/types.js';
import { authConfig, authProblem, listenerTls } from './authentication.js';
import { ownDuplicate } from './identity-claims.js';
import { issueIdentities } from './issue-identities.js';
import { memoryProblem, type MemoryBounds } from './limits.js';
import { nqnInUse } from './nqn.js';
import { deviceAllowed, fileBackingPath, STATE_FILE, SUBSYSTEM_MOUNT, subsystemHostDir } from './paths.js';
import { parseBytes, QuantityError } from './quantity.js';
import { Reason, type Problem } from './reasons.js';
import type { TargetSettings } from './settings.js';

/** Everything the pod, ConfigMap and status are built from, once a resource is known to be realisable. */
export interface Realisation {
  nqn: string;
  config: TargetConfig;
  /**
   * The namespaces' identifiers, pinned in the target's configuration and recorded in status.namespaces
   * (operator/builders/issue-identities.ts says how they are chosen and why they never change under data).
   */
  identities: NamespaceIdentityStatus[];
  /** status.retiredNamespaces after this spec. */
  retired: RetiredNamespaceStatus[];
  /** Host paths of the block devices the pod must see. */
  devices: string[];
  /** `<hostPathRoot>/<namespace>/<name>` on the node. */
  hostDir: string;
  port: number;
  metricsPort: number;
  hostNetwork: boolean;
}

export type Realised = { ok: true; value: Realisation } | { ok: false; problem: Problem };

function fail(reason: Problem['reason'], message: string): Realised {
  return { ok: false, problem: { reason, message } };
}

/** What realise needs beyond the resource: the time retired records are stamped with, and memory bounds. */
export interface RealiseContext {
  now?: string;
  memory?: MemoryBounds;
}

export function realise(sub: NvmeofSubsystem, settings: TargetSettings, ctx: RealiseContext = {}): Realised {
  const namespace = sub.metadata.namespace ?? '';
  const name = sub.metadata.name ?? '';
  const spec = sub.spec;
  const dir = subsystemHostDir(settings.hostPathRoot, namespace, name);
  if (!dir.ok) return fail(Reason.InvalidSpec, dir.problem);
  if (!Array.isArray(spec?.namespaces)) return fail(Reason.InvalidSpec, 'spec.namespaces must be a list');
  const nqn = nqnInUse(spec, sub.status, namespace, name);
  const port = spec.listener?.port ?? DEFAULT_PORT;
  const metricsPort = spec.listener?.metricsPort ?? DEFAULT_METRICS_PORT;
  const hostNetwork = spec.listener?.hostNetwork ?? true;

  for (const [i, ns] of spec.namespaces.entries()) {
    if (typeof ns !== 'object' || ns === null) return fail(Reason.InvalidSpec, `spec.namespaces[${i}] must be an object`);
  }
  const auth = authProblem(spec);
  if (auth) return fail(Reason.InvalidSpec, auth);
  const { identities, retired } = issueIdentities(nqn, spec.namespaces, sub.status?.namespaces, sub.status?.retiredNamespaces, ctx.now ?? new Date(0).toISOString());
  const dup = ownDuplicate(identities, retired);
  if (dup) return fail(Reason.IdentityConflict, dup);
  const namespaces: NamespaceConfig[] = [];
  const devices: string[] = [];
  for (const [i, ns] of spec.namespaces.entries()) {
    const field = `spec.namespaces[${i}]`;
    const blockSize = ns.blockSize ?? 512;
    const id = identities[i];
    const ids = { ...(id.uuid ? { uuid: id.uuid } : {}), ...(id.nguid ? { nguid: id.nguid } : {}), ...(id.eui64 ? { eui64: id.eui64 } : {}) };
    let size: number | undefined;
    try {
      size = ns.size === undefined ? undefined : parseBytes(ns.size);
    } catch (e) {
      if (e instanceof QuantityError) return fail(Reason.InvalidSpec, `${field}.size: ${e.message}`);
      throw e;
    }
    const b = ns.backing ?? {};
    const kinds = [b.file, b.block, b.memory].filter((x) => x !== undefined).length;
    if (kinds !== 1) return fail(Reason.InvalidBacking, `${field}.backing must be exactly one of file, block, memory`);
    if (b.file) {
      const p = fileBackingPath(b.file.path);
      if (!p.ok) return fail(Reason.InvalidBacking, `${field}.backing.file.path: ${p.problem}`);
      if (size === undefined) return fail(Reason.InvalidSpec, `${field}.size is required for a file backing`);
      namespaces.push({ nsid: ns.nsid, blockSize, backing: { kind: 'file', path: p.value, size }, ...ids });
    } else if (b.block) {
      if (!deviceAllowed(b.block.device, settings.allowedDevices)) {
        return fail(Reason.DeviceNotAllowed, `${field}.backing.block.device ${b.block.device} is not on the operator's device allow-list`);
      }
      devices.push(b.block.device);
      namespaces.push({ nsid: ns.nsid, blockSize, backing: { kind: 'block', path: b.block.device }, ...ids });
    } else {
      if (size === undefined) return fail(Reason.InvalidSpec, `${field}.size is required for a memory backing`);
      namespaces.push({ nsid: ns.nsid, blockSize, backing: { kind: 'memory', size }, ...ids });
    }
  }

  const candidate = {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    subsystems: [{
      nqn,
      ...(spec.serial !== undefined ? { serial: spec.serial } : {}),
      ...(spec.model !== undefined ? { model: spec.model } : {}),
      listeners: [{ address: '0.0.0.0', port, ...listenerTls(spec) }],
      ...(spec.allowAnyHost ? { allowAnyHost: true } : { hosts: spec.hosts ?? [] }),
      // Key files under the Secret's mount (authentication.ts); absent without spec.authentication.
      ...authConfig(spec),
      namespaces,
      stateFile: `${SUBSYSTEM_MOUNT}/${STATE_FILE}`,
      durability: spec.persistence?.durability ?? 'process',
    }],
    metrics: { address: '0.0.0.0', port: metricsPort },
    shutdownGraceSeconds: settings.shutdownGraceSeconds,
    logLevel: settings.targetLogLevel,
    // The running target reports the generation it serves (GET /recovery config.generation): status says
    // when a change is live (issue 20's contract, 1 and 3).
    generation: sub.metadata.generation ?? 0,
  };
  let config: TargetConfig;
  try {
    config = validateConfig(candidate);
  } catch (e) {
    if (e instanceof ConfigError) return fail(Reason.InvalidSpec, specField(e.message));
    throw e;
  }
  const memory = memoryProblem(spec, ctx.memory);
  if (memory) return fail(Reason.MemoryTooSmall, memory);
  if (port === metricsPort) return fail(Reason.InvalidSpec, 'spec.listener.port and metricsPort must differ');
  return { ok: true, value: { nqn, config, identities, retired, devices: [...new Set(devices)], hostDir: dir.value, port, metricsPort, hostNetwork } };
}

/**
 * A message of the target's validator in the resource's own terms: its configuration's field paths
 * (subsystems[0].namespaces[i].backing.size) become the spec's (spec.namespaces[i].size).
 */
export function specField(message: string): string {
  return message
    .replace(/^subsystems\[0\]\.namespaces\[(\d+)\]\.backing\.size/, 'spec.namespaces[$1].size')
    .replace(/^subsystems\[0\]\./, 'spec.')
    .replace(/^metrics\./, 'spec.listener.metrics ');
}
