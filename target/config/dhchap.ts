// The target configuration's DH-HMAC-CHAP part: per subsystem, the hosts that must authenticate, where their
// keys are, and what they may negotiate (as nvmet's per-host dhchap_key, dhchap_ctrl_key, dhchap_hash and
// dhchap_dhgroup). Keys live in files (a mounted Secret), never in the configuration itself; target/auth/
// host-keys.ts reads and checks them at load. A host listed here must be in the subsystem's host list:
// authentication means nothing when any host may connect.
// (config.ts imports this file and this file config.ts: only functions cross, called after both loaded.)
import { HASH_NAMES, type HashName } from '../auth/hashes.js';
import { ConfigError, nqnProblem } from './config.js';

export const DH_GROUP_NAMES = ['null', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'] as const;
export type DhGroupConfigName = (typeof DH_GROUP_NAMES)[number];

export interface DhchapHostConfig {
  /** The host NQN; it must also be in the subsystem's `hosts`. */
  host: string;
  /** A file holding the host's secret, `DHHC-1:hh:<base64>:` (what `nvme gen-dhchap-key` prints). */
  keyFile: string;
  /** A file holding the controller's secret: the host may then ask the controller to authenticate too. */
  ctrlKeyFile?: string;
  /**
   * Hashes the host may negotiate, the target's preference first. Default: the host key's own hash (its hh,
   * when not 00) first, then sha256, sha384, sha512.
   */
  hashes?: HashName[];
  /** DH groups the host may negotiate, the target's preference first. Default: null, then ffdhe2048 ... ffdhe8192. */
  dhGroups?: DhGroupConfigName[];
}

function list<T extends string>(v: unknown, allowed: readonly T[], field: string): T[] {
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(field, `must be a non-empty list of ${allowed.join(', ')}`);
  const seen = new Set<string>();
  return v.map((x, i) => {
    if (!allowed.includes(x as T)) throw new ConfigError(`${field}[${i}]`, `must be one of ${allowed.join(', ')}`);
    if (seen.has(x as string)) throw new ConfigError(`${field}[${i}]`, `${x as string} is listed twice`);
    seen.add(x as string);
    return x as T;
  });
}

/** Validates `dhchap` of a subsystem whose host list is `hosts` (undefined: any host may connect). */
export function validateDhchapHosts(v: unknown, field: string, hosts: readonly string[] | undefined): DhchapHostConfig[] {
  if (!Array.isArray(v)) throw new ConfigError(field, 'must be a list of {host, keyFile, ctrlKeyFile?, hashes?, dhGroups?}');
  if (v.length > 0 && hosts === undefined) throw new ConfigError(field, 'authentication requires a host list: it cannot be used with allowAnyHost');
  const seen = new Set<string>();
  return v.map((e, i) => {
    const f = `${field}[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new ConfigError(f, 'must be an object with host and keyFile');
    const o = e as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!['host', 'keyFile', 'ctrlKeyFile', 'hashes', 'dhGroups'].includes(k)) throw new ConfigError(`${f}.${k}`, 'unknown field');
    }
    const bad = nqnProblem(o.host);
    if (bad) throw new ConfigError(`${f}.host`, bad);
    const host = o.host as string;
    if (!hosts!.includes(host)) throw new ConfigError(`${f}.host`, `${host} is not in the subsystem's hosts`);
    if (seen.has(host)) throw new ConfigError(`${f}.host`, `${host} is listed twice`);
    seen.add(host);
    if (typeof o.keyFile !== 'string' || o.keyFile === '') throw new ConfigError(`${f}.keyFile`, 'must be a non-empty string (a file holding DHHC-1:hh:<base64>:)');
    const out: DhchapHostConfig = { host, keyFile: o.keyFile };
    if (o.ctrlKeyFile !== undefined) {
      if (typeof o.ctrlKeyFile !== 'string' || o.ctrlKeyFile === '') throw new ConfigError(`${f}.ctrlKeyFile`, 'must be a non-empty string');
      out.ctrlKeyFile = o.ctrlKeyFile;
    }
    if (o.hashes !== undefined) out.hashes = list(o.hashes, HASH_NAMES, `${f}.hashes`);
    if (o.dhGroups !== undefined) out.dhGroups = list(o.dhGroups, DH_GROUP_NAMES, `${f}.dhGroups`);
    return out;
  });
}
