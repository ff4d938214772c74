// Command-line flags → a TargetConfig, validated by the same validator as config files.
// Flags: --listen ADDR:PORT (repeatable) --nqn NQN --namespace FILE[:SIZE] | --memory SIZE | --block DEVICE
// (repeatable, nsids 1, 2, ... in order) --block-size 512|4096 --host HOSTNQN (repeatable; default any host)
// --state FILE --durability process|node --metrics ADDR:PORT --discovery-listen ADDR:PORT
// --shutdown-grace SECONDS --log-level LEVEL --tls required|allowed (every --listen) --tls-psk HOSTNQN=FILE
// (repeatable), or --config FILE alone. `--flag value` or `--flag=value`.
import { readFileSync } from 'node:fs';
import { parseArgs as tokenize, type ParseArgsOptionsConfig } from 'node:util';
import { CONFIG_API_VERSION, CONFIG_KIND, ConfigError, DEFAULT_PORT, validateConfig, type ListenerConfig, type NamespaceConfig, type TargetConfig } from './config.js';

export const DEFAULT_NQN = 'nqn.2026-01.io.nvmeof:default';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, ti: 1024 ** 4 };

/** Parses "4096", "64M", "1G", "1Gi" (powers of 1024). */
export function parseSize(s: string, field: string): number {
  const m = /^(\d+)([kKmMgGtT]i?)?[bB]?$/.exec(s.trim());
  if (!m) throw new ConfigError(field, `size ${JSON.stringify(s)} is not a number with an optional K, M, G or T suffix`);
  const n = Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()];
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(field, `size ${s} is out of range`);
  return n;
}

export function parseListener(s: string, field: string): ListenerConfig {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  if (!m) throw new ConfigError(field, `${JSON.stringify(s)} is not ADDRESS:PORT`);
  return { address: m[1] || '0.0.0.0', port: Number(m[2]) };
}

/** Every flag takes a value; the repeatable ones (listeners, hosts, namespaces) are kept in order. */
const FLAGS: ParseArgsOptionsConfig = Object.fromEntries([
  'config', 'listen', 'discovery-listen', 'nqn', 'host', 'namespace', 'memory', 'block', 'block-size', 'state', 'durability',
  'metrics', 'shutdown-grace', 'log-level', 'tls', 'tls-psk',
].map((name) => [name, { type: 'string', multiple: true }]));

/**
 * The file of `--config FILE` (parseArgs has checked it is the only flag), which a running target watches for
 * new content (runtime/config-watch.ts); undefined when the configuration came from flags.
 */
export function configFileArg(argv: string[]): string | undefined {
  const { values } = tokenize({ args: argv, options: FLAGS, strict: false, allowPositionals: true });
  const v = values.config;
  return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
}

export function parseArgs(argv: string[]): TargetConfig {
  // Not strict: node's own errors would not name the flag; each token is checked below instead, in order
  // (namespaces get nsids in the order their flags come).
  const { tokens } = tokenize({ args: argv, options: FLAGS, strict: false, allowPositionals: true, tokens: true });
  const listeners: ListenerConfig[] = [];
  const discovery: ListenerConfig[] = [];
  const hosts: string[] = [];
  const nss: Array<Omit<NamespaceConfig, 'nsid' | 'blockSize'>> = [];
  let nqn = DEFAULT_NQN;
  let blockSize = 512;
  let stateFile: string | undefined;
  let durability: string | undefined;
  let metrics: ListenerConfig | undefined;
  let grace: number | undefined;
  let logLevel: string | undefined;
  let configFile: string | undefined;
  let tls: string | undefined;
  const tlsPsks: Array<{ host: string; pskFile: string }> = [];
  for (const t of tokens) {
    const arg = argv[t.index];
    if (t.kind !== 'option' || !arg.startsWith('--') || !Object.hasOwn(FLAGS, t.name)) throw new ConfigError(arg, 'unknown flag (see target/README.md)');
    const flag = t.rawName;
    const v = t.value;
    // `--listen --nqn x`: the next flag is no value (`--flag=--x` is).
    if (v === undefined || (!t.inlineValue && v.startsWith('--'))) throw new ConfigError(flag, 'needs a value');
    switch (t.name) {
      case 'config': configFile = v; break;
      case 'listen': listeners.push(parseListener(v, flag)); break;
      case 'discovery-listen': discovery.push(parseListener(v, flag)); break;
      case 'nqn': nqn = v; break;
      case 'host': hosts.push(v); break;
      case 'namespace': {
        const m = /^(.*?)(?::(\d+[kKmMgGtT]?i?[bB]?))?$/.exec(v)!;
        nss.push({ backing: { kind: 'file', path: m[1], ...(m[2] ? { size: parseSize(m[2], flag) } : {}) } });
        break;
      }
      case 'memory': nss.push({ backing: { kind: 'memory', size: parseSize(v, flag) } }); break;
      case 'block': nss.push({ backing: { kind: 'block', path: v } }); break;
      case 'block-size': blockSize = Number(v); break;
      case 'state': stateFile = v; break;
      case 'durability': durability = v; break;
      case 'metrics': metrics = parseListener(v, flag); break;
      case 'shutdown-grace': grace = Number(v); break;
      case 'log-level': logLevel = v; break;
      case 'tls': tls = v; break;
      case 'tls-psk': {
        const eq = v.indexOf('=');
        if (eq <= 0) throw new ConfigError(flag, `${JSON.stringify(v)} is not HOSTNQN=FILE`);
        tlsPsks.push({ host: v.slice(0, eq), pskFile: v.slice(eq + 1) });
        break;
      }
    }
  }
  if (configFile) {
    if (tokens.length !== 1) throw new ConfigError('--config', 'takes no other flags: put everything in the file');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw new ConfigError('--config', `cannot read ${configFile}: ${(e as Error).message}`);
    }
    return validateConfig(raw);
  }
  return validateConfig({
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    subsystems: [{
      nqn,
      listeners: (listeners.length ? listeners : [{ address: '127.0.0.1', port: DEFAULT_PORT }]).map((l) => (tls ? { ...l, tls } : l)),
      ...(tlsPsks.length ? { tlsPsks } : {}),
      ...(hosts.length ? { hosts } : { allowAnyHost: true }),
      namespaces: nss.map((n, i) => ({ nsid: i + 1, blockSize, ...n })),
      ...(stateFile ? { stateFile } : {}),
      ...(durability ? { durability } : {}),
    }],
    ...(discovery.length ? { discoveryListeners: discovery } : {}),
    ...(metrics ? { metrics } : {}),
    ...(grace !== undefined ? { shutdownGraceSeconds: grace } : {}),
    ...(logLevel ? { logLevel } : {}),
  });
}
