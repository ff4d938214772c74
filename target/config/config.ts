// The target's configuration file format: one TypeScript type and one validator,
// shared by the target (`--config <file>`) and the operator (which renders it into a ConfigMap).
// Versioned by `apiVersion`; a file with another apiVersion is refused, never guessed at.

import { constants as bufferConstants } from 'node:buffer';
import { validateDhchapHosts, type DhchapHostConfig } from './dhchap.js';
import { TLS_MODES, type TlsMode } from '../tls/mode.js';
import { PSK_DERIVATIONS, type PskDerivation } from '../tls/psk.js';

export const CONFIG_API_VERSION = 'nvmeof.io/v1alpha1';
export const CONFIG_KIND = 'TargetConfig';

/**
 * The listener defaults: NVMe/TCP's port (IANA 4420), which the target's command line listens on when given
 * no --listen and the operator when a resource names none, and the port of a target pod's /metrics,
 * /healthz, /readyz and /recovery. The CRD's defaults (crds/nvmeofsubsystems.nvmeof.io.yaml) are these
 * (operator/api/crd.test.ts checks it).
 */
export const DEFAULT_PORT = 4420;
export const DEFAULT_METRICS_PORT = 9420;

export type Durability = 'process' | 'node';
export type BlockSize = 512 | 4096;

export interface ListenerConfig {
  /** IPv4 or IPv6 address to bind, e.g. "0.0.0.0" or "127.0.0.1". */
  address: string;
  /** TCP port, 1..65535. */
  port: number;
  /**
   * NVMe/TCP TLS 1.3 (target/tls): 'required' refuses a plain ICReq, 'allowed' takes both, 'off' (the default,
   * also when absent) reads PDUs from the first byte. Subsystem and discovery listeners only.
   */
  tls?: TlsMode;
}

/** One host's TLS PSK for a subsystem: a file holding `NVMeTLSkey-1:01:<base64>:` (SHA-256). */
export interface TlsPskConfig {
  host: string;
  pskFile: string;
  /** How the host's libnvme derives the TLS PSK (target/tls/psk.ts); default 'compat' (nvme-cli 2.13 and before). */
  derivation?: PskDerivation;
}

export type BackingConfig =
  /** A regular file, created and sized to `size` bytes when missing. */
  | { kind: 'file'; path: string; size?: number }
  /** A block device (or any existing file used as is); its size is read from the device. */
  | { kind: 'block'; path: string }
  /** Volatile memory: contents and identity are new at every start. */
  | { kind: 'memory'; size: number };

export interface NamespaceConfig {
  nsid: number;
  blockSize: BlockSize;
  backing: BackingConfig;
  /** Optional fixed identifiers (hex, no separators; UUID may use dashes). Derived when absent. */
  uuid?: string;
  nguid?: string;
  eui64?: string;
}

export interface SubsystemConfig {
  nqn: string;
  serial?: string;
  model?: string;
  listeners: ListenerConfig[];
  /** Allowed host NQNs; ignored when allowAnyHost is true. */
  hosts?: string[];
  allowAnyHost?: boolean;
  /** Hosts that must authenticate with DH-HMAC-CHAP (config/dhchap.ts); the others connect as before. */
  dhchap?: DhchapHostConfig[];
  namespaces: NamespaceConfig[];
  /** Path of this subsystem's state file (mmap'd); absent means no persistence. */
  stateFile?: string;
  durability?: Durability;
  /** TLS PSKs of the hosts that connect through a listener with `tls` required or allowed. */
  tlsPsks?: TlsPskConfig[];
}

export interface TargetConfig {
  apiVersion: typeof CONFIG_API_VERSION;
  kind: typeof CONFIG_KIND;
  subsystems: SubsystemConfig[];
  /** Extra listeners that serve only the discovery subsystem (e.g. port 8009). */
  discoveryListeners?: ListenerConfig[];
  /** Address of the HTTP server for /metrics, /healthz, /readyz, /recovery. */
  metrics?: ListenerConfig;
  /** Seconds SIGTERM waits for in-flight commands before exiting. */
  shutdownGraceSeconds?: number;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /**
   * The NvmeofSubsystem's metadata.generation the operator built this from (absent in a hand-written file:
   * 0). A running target reports the generation it serves (GET /recovery `config`, metric
   * nvmeof_target_config_generation), so the operator can tell when a change is live.
   */
  generation?: number;
}

export class ConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

const NQN_MAX_BYTES = 223;
// NVMe Base Specification 4.5 (NQN): "nqn.yyyy-mm.reverse-domain:..." or the UUID form.
const NQN_RE = /^nqn\.\d{4}-\d{2}\.[A-Za-z0-9][A-Za-z0-9.-]*(:.+)?$/;
const NQN_UUID_RE = /^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function nqnProblem(nqn: unknown): string | undefined {
  if (typeof nqn !== 'string' || nqn.length === 0) return 'must be a non-empty string';
  if (Buffer.byteLength(nqn, 'utf8') > NQN_MAX_BYTES) return `must be at most ${NQN_MAX_BYTES} bytes`;
  if (!NQN_RE.test(nqn) && !NQN_UUID_RE.test(nqn)) return 'must look like nqn.yyyy-mm.reverse.domain:name';
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The configuration's own cap on a memory namespace (1 TiB): beyond it a file or block device is the backing. */
export const MEMORY_NAMESPACE_CAP_BYTES = 2 ** 40;

/**
 * The largest memory namespace this target can hold: a memory namespace is one Buffer, so it is bounded by
 * buffer.constants.MAX_LENGTH of the Node that runs it (2^53 - 1 on 64-bit Node 22 and later, 2^32 on
 * Node 20) as well as by MEMORY_NAMESPACE_CAP_BYTES. Whether the pod's memory can hold it is the operator's
 * check (TARGET_BASE_MEMORY_BYTES, target/contract.ts).
 */
export const MAX_MEMORY_NAMESPACE_BYTES = Math.min(MEMORY_NAMESPACE_CAP_BYTES, bufferConstants.MAX_LENGTH);

/** Why a memory namespace of `size` bytes cannot be held, naming both numbers; undefined when it can. */
export function memorySizeProblem(size: number, maxLength: number = bufferConstants.MAX_LENGTH): string | undefined {
  if (size > maxLength) {
    return `${size} bytes is more than the target can address in one memory namespace (buffer.constants.MAX_LENGTH = ${maxLength} bytes): use a file or block backing`;
  }
  if (size > MEMORY_NAMESPACE_CAP_BYTES) {
    return `${size} bytes is more than the ${MEMORY_NAMESPACE_CAP_BYTES} bytes (1 TiB) a memory namespace may hold: use a file or block backing`;
  }
  return undefined;
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], field: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError(`${field}.${k}`, 'unknown field');
  }
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(field, 'must be a non-empty string');
  return v;
}

function hexId(v: unknown, field: string, bytes: number): string | undefined {
  if (v === undefined) return undefined;
  const s = str(v, field).replace(/-/g, '');
  if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(s)) {
    throw new ConfigError(field, `must be ${bytes} bytes of hex`);
  }
  if (/^0+$/.test(s)) throw new ConfigError(field, 'must not be all zeros');
  return s.toLowerCase();
}

export function validateListener(v: unknown, field: string, tlsAllowed = false): ListenerConfig {
  if (!isObject(v)) throw new ConfigError(field, 'must be an object with address and port');
  checkKeys(v, tlsAllowed ? ['address', 'port', 'tls'] : ['address', 'port'], field);
  const l: ListenerConfig = { address: str(v.address, `${field}.address`), port: int(v.port, `${field}.port`, 1, 65535) };
  if (v.tls !== undefined) {
    if (!TLS_MODES.includes(v.tls as TlsMode)) throw new ConfigError(`${field}.tls`, `must be one of ${TLS_MODES.join(', ')}`);
    if (v.tls !== 'off') l.tls = v.tls as TlsMode;
  }
  return l;
}

function validateTlsPsks(v: unknown, field: string): TlsPskConfig[] {
  if (!Array.isArray(v)) throw new ConfigError(field, 'must be a list of {host, pskFile}');
  const hosts = new Set<string>();
  return v.map((k, i) => {
    const f = `${field}[${i}]`;
    if (!isObject(k)) throw new ConfigError(f, 'must be an object with host and pskFile');
    checkKeys(k, ['host', 'pskFile', 'derivation'], f);
    const e = nqnProblem(k.host);
    if (e) throw new ConfigError(`${f}.host`, e);
    if (hosts.has(k.host as string)) throw new ConfigError(`${f}.host`, `a second key for host ${k.host as string}`);
    hosts.add(k.host as string);
    const out: TlsPskConfig = { host: k.host as string, pskFile: str(k.pskFile, `${f}.pskFile`) };
    if (k.derivation !== undefined) {
      if (!PSK_DERIVATIONS.includes(k.derivation as PskDerivation)) throw new ConfigError(`${f}.derivation`, `must be one of ${PSK_DERIVATIONS.join(', ')}`);
      out.derivation = k.derivation as PskDerivation;
    }
    return out;
  });
}

function validateBacking(v: unknown, field: string): BackingConfig {
  if (!isObject(v)) throw new ConfigError(field, 'must be an object');
  switch (v.kind) {
    case 'file':
      checkKeys(v, ['kind', 'path', 'size'], field);
      return {
        kind: 'file',
        path: str(v.path, `${field}.path`),
        ...(v.size !== undefined ? { size: int(v.size, `${field}.size`, 4096, Number.MAX_SAFE_INTEGER) } : {}),
      };
    case 'block':
      checkKeys(v, ['kind', 'path'], field);
      return { kind: 'block', path: str(v.path, `${field}.path`) };
    case 'memory': {
      checkKeys(v, ['kind', 'size'], field);
      const size = int(v.size, `${field}.size`, 4096, Number.MAX_SAFE_INTEGER);
      const problem = memorySizeProblem(size);
      if (problem) throw new ConfigError(`${field}.size`, problem);
      return { kind: 'memory', size };
    }
    default:
      throw new ConfigError(`${field}.kind`, `must be one of file, block, memory; got ${JSON.stringify(v.kind)}`);
  }
}

function validateNamespace(v: unknown, field: string): NamespaceConfig {
  if (!isObject(v)) throw new ConfigError(field, 'must be an object');
  checkKeys(v, ['nsid', 'blockSize', 'backing', 'uuid', 'nguid', 'eui64'], field);
  const blockSize = v.blockSize === undefined ? 512 : v.blockSize;
  if (blockSize !== 512 && blockSize !== 4096) throw new ConfigError(`${field}.blockSize`, 'must be 512 or 4096');
  const ns: NamespaceConfig = {
    nsid: int(v.nsid, `${field}.nsid`, 1, 0xfffffffe),
    blockSize,
    backing: validateBacking(v.backing, `${field}.backing`),
  };
  const uuid = hexId(v.uuid, `${field}.uuid`, 16);
  const nguid = hexId(v.nguid, `${field}.nguid`, 16);
  const eui64 = hexId(v.eui64, `${field}.eui64`, 8);
  if (uuid) ns.uuid = uuid;
  if (nguid) ns.nguid = nguid;
  if (eui64) ns.eui64 = eui64;
  const size = ns.backing.kind === 'block' ? undefined : ns.backing.size;
  if (size !== undefined && size % blockSize !== 0) {
    throw new ConfigError(`${field}.backing.size`, `must be a multiple of blockSize ${blockSize}`);
  }
  return ns;
}

function validateSubsystem(v: unknown, field: string): SubsystemConfig {
  if (!isObject(v)) throw new ConfigError(field, 'must be an object');
  checkKeys(v, ['nqn', 'serial', 'model', 'listeners', 'hosts', 'allowAnyHost', 'namespaces', 'stateFile', 'durability', 'dhchap', 'tlsPsks'], field);
  const nqnErr = nqnProblem(v.nqn);
  if (nqnErr) throw new ConfigError(`${field}.nqn`, nqnErr);
  if (v.nqn === 'nqn.2014-08.org.nvmexpress.discovery') throw new ConfigError(`${field}.nqn`, 'is the discovery NQN');
  if (!Array.isArray(v.listeners) || v.listeners.length === 0) throw new ConfigError(`${field}.listeners`, 'must be a non-empty list');
  if (!Array.isArray(v.namespaces)) throw new ConfigError(`${field}.namespaces`, 'must be a list');
  const sub: SubsystemConfig = {
    nqn: v.nqn as string,
    listeners: v.listeners.map((l, i) => validateListener(l, `${field}.listeners[${i}]`, true)),
    namespaces: v.namespaces.map((n, i) => validateNamespace(n, `${field}.namespaces[${i}]`)),
  };
  const seen = new Set<number>();
  sub.namespaces.forEach((n, i) => {
    if (seen.has(n.nsid)) throw new ConfigError(`${field}.namespaces[${i}].nsid`, `duplicate nsid ${n.nsid}`);
    seen.add(n.nsid);
  });
  if (v.serial !== undefined) {
    const s = str(v.serial, `${field}.serial`);
    if (s.length > 20 || !/^[\x20-\x7e]+$/.test(s)) throw new ConfigError(`${field}.serial`, 'must be at most 20 printable ASCII characters');
    sub.serial = s;
  }
  if (v.model !== undefined) {
    const s = str(v.model, `${field}.model`);
    if (s.length > 40 || !/^[\x20-\x7e]+$/.test(s)) throw new ConfigError(`${field}.model`, 'must be at most 40 printable ASCII characters');
    sub.model = s;
  }
  if (v.allowAnyHost !== undefined) {
    if (typeof v.allowAnyHost !== 'boolean') throw new ConfigError(`${field}.allowAnyHost`, 'must be a boolean');
    sub.allowAnyHost = v.allowAnyHost;
  }
  if (v.hosts !== undefined) {
    if (!Array.isArray(v.hosts)) throw new ConfigError(`${field}.hosts`, 'must be a list of host NQNs');
    sub.hosts = v.hosts.map((h, i) => {
      const e = nqnProblem(h);
      if (e) throw new ConfigError(`${field}.hosts[${i}]`, e);
      return h as string;
    });
  }
  if (!sub.allowAnyHost && (!sub.hosts || sub.hosts.length === 0)) {
    throw new ConfigError(`${field}.hosts`, 'list at least one host NQN, or set allowAnyHost: true');
  }
  if (v.dhchap !== undefined) sub.dhchap = validateDhchapHosts(v.dhchap, `${field}.dhchap`, sub.allowAnyHost ? undefined : sub.hosts);
  if (v.stateFile !== undefined) sub.stateFile = str(v.stateFile, `${field}.stateFile`);
  if (v.durability !== undefined) {
    if (v.durability !== 'process' && v.durability !== 'node') throw new ConfigError(`${field}.durability`, 'must be process or node');
    sub.durability = v.durability;
  }
  if (v.tlsPsks !== undefined) sub.tlsPsks = validateTlsPsks(v.tlsPsks, `${field}.tlsPsks`);
  return sub;
}

/** One address is one listener: every subsystem that lists it must give it the same TLS mode. */
function checkTlsModesAgree(cfg: TargetConfig): void {
  const modes = new Map<string, TlsMode>();
  const check = (l: ListenerConfig, field: string) => {
    const key = `${l.address}:${l.port}`;
    const mode = l.tls ?? 'off';
    const before = modes.get(key);
    if (before !== undefined && before !== mode) throw new ConfigError(`${field}.tls`, `${key} is listed elsewhere with tls ${before}`);
    modes.set(key, mode);
  };
  cfg.subsystems.forEach((s, i) => s.listeners.forEach((l, j) => check(l, `subsystems[${i}].listeners[${j}]`)));
  (cfg.discoveryListeners ?? []).forEach((l, i) => check(l, `discoveryListeners[${i}]`));
}

/** Validates an already-parsed JSON value; throws ConfigError naming the first bad field. */
export function validateConfig(v: unknown): TargetConfig {
  if (!isObject(v)) throw new ConfigError('(root)', 'must be an object');
  checkKeys(v, ['apiVersion', 'kind', 'subsystems', 'discoveryListeners', 'metrics', 'shutdownGraceSeconds', 'logLevel', 'generation'], '(root)');
  if (v.apiVersion !== CONFIG_API_VERSION) {
    throw new ConfigError('apiVersion', `must be ${CONFIG_API_VERSION}, got ${JSON.stringify(v.apiVersion)}`);
  }
  if (v.kind !== CONFIG_KIND) throw new ConfigError('kind', `must be ${CONFIG_KIND}`);
  if (!Array.isArray(v.subsystems) || v.subsystems.length === 0) throw new ConfigError('subsystems', 'must be a non-empty list');
  const cfg: TargetConfig = {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    subsystems: v.subsystems.map((s, i) => validateSubsystem(s, `subsystems[${i}]`)),
  };
  const nqns = new Set<string>();
  cfg.subsystems.forEach((s, i) => {
    if (nqns.has(s.nqn)) throw new ConfigError(`subsystems[${i}].nqn`, `duplicate NQN ${s.nqn}`);
    nqns.add(s.nqn);
  });
  if (v.discoveryListeners !== undefined) {
    if (!Array.isArray(v.discoveryListeners)) throw new ConfigError('discoveryListeners', 'must be a list');
    cfg.discoveryListeners = v.discoveryListeners.map((l, i) => validateListener(l, `discoveryListeners[${i}]`, true));
  }
  checkTlsModesAgree(cfg);
  if (v.metrics !== undefined) cfg.metrics = validateListener(v.metrics, 'metrics');
  if (v.shutdownGraceSeconds !== undefined) cfg.shutdownGraceSeconds = int(v.shutdownGraceSeconds, 'shutdownGraceSeconds', 0, 3600);
  if (v.logLevel !== undefined) {
    if (!['error', 'warn', 'info', 'debug'].includes(v.logLevel as string)) throw new ConfigError('logLevel', 'must be error, warn, info or debug');
    cfg.logLevel = v.logLevel as TargetConfig['logLevel'];
  }
  if (v.generation !== undefined) cfg.generation = int(v.generation, 'generation', 0, Number.MAX_SAFE_INTEGER);
  return cfg;
}
