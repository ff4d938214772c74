// Reads and checks the DH-HMAC-CHAP keys a configuration names (target/config/dhchap.ts), at load: a missing,
// unreadable or malformed key stops the start (or refuses the reload) with a message naming the subsystem,
// the host and the file, never the key's content (secret.ts says what is wrong with it without quoting it).
import { readFileSync } from 'node:fs';
import type { DhchapHostConfig, DhGroupConfigName } from '../config/dhchap.js';
import { DhGroupId } from '../protocol/auth.js';
import { FFDHE_GROUPS } from './ffdhe.js';
import { HASHES, hashById, hashByName } from './hashes.js';
import type { HostAuth } from './queue-auth.js';
import { parseDhchapSecret, type DhchapSecret } from './secret.js';

export class HostKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostKeyError';
  }
}

function groupId(name: DhGroupConfigName): number {
  return name === 'null' ? DhGroupId.Null : FFDHE_GROUPS.find((g) => g.name === name)!.id;
}

/** The default DH groups: null first (nvmet's dhchap_dhgroup default), then every ffdhe group. */
export const DEFAULT_DH_GROUPS: readonly number[] = [DhGroupId.Null, ...FFDHE_GROUPS.map((g) => g.id)];

function readSecret(subnqn: string, host: string, what: string, file: string): DhchapSecret {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new HostKeyError(`subsystem ${subnqn}, host ${host}: ${what} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseDhchapSecret(text);
  } catch (e) {
    throw new HostKeyError(`subsystem ${subnqn}, host ${host}: ${what} ${file} ${(e as Error).message}`);
  }
}

/** One host's keys and limits from its configuration. */
export function loadHostAuth(subnqn: string, c: DhchapHostConfig): HostAuth {
  const hostKey = readSecret(subnqn, c.host, 'keyFile', c.keyFile);
  const ctrlKey = c.ctrlKeyFile ? readSecret(subnqn, c.host, 'ctrlKeyFile', c.ctrlKeyFile) : undefined;
  const preferred = hashById(hostKey.hh);
  const hashes = c.hashes ? c.hashes.map((n) => hashByName(n)!) : [...(preferred ? [preferred] : []), ...HASHES.filter((h) => h !== preferred)];
  const dhGroups = c.dhGroups ? c.dhGroups.map(groupId) : DEFAULT_DH_GROUPS;
  return { hostKey, ...(ctrlKey ? { ctrlKey } : {}), hashes, dhGroups };
}

/** Every authenticating host of a subsystem, by host NQN. */
export function loadHostAuths(subnqn: string, hosts: readonly DhchapHostConfig[]): Map<string, HostAuth> {
  return new Map(hosts.map((c) => [c.host, loadHostAuth(subnqn, c)]));
}
