// Reads and checks the DH-HMAC-CHAP keys a configuration names (target/config/dhchap.ts), at load: a missing,
// unreadable or malformed key stops the start (or refuses the reload) with a message naming the subsystem,
// the host and the file, never the key's content (secret.ts says what is wrong with it without quoting it).
// Afterwards a key file that changes (a rotated Kubernetes Secret: the kubelet swaps the volume's ..data
// symlink) is read again at the next authentication of its host (HostKeyFiles), and a configuration change of
// the host's entry (other files, hashes, groups) replaces what the same object holds (prepareReplace), so the
// queues authenticated before re-authenticate with the new entry.
import { readFileSync, statSync } from 'node:fs';
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

/** What identifies a version of a file: its inode (a swapped symlink or a renamed file), size and mtime. */
function fileVersion(file: string | undefined): string {
  if (!file) return '';
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (e) {
    return `error:${(e as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

/**
 * One host's keys, read again when a key file changed: each authentication takes the keys of its moment
 * (nvmet re-reads its host's keys at each admin-queue Negotiate too); queues authenticated before go on. A
 * changed file that holds no valid key leaves the previous keys in use. Each reload or refusal is a notice
 * (host and file, never a key) the target logs with the authentication that found it (takeNotices).
 */
export class HostKeyFiles implements HostAuth {
  private auth: HostAuth;
  private version: string;
  private readonly notices: string[] = [];

  constructor(private readonly subnqn: string, private c: DhchapHostConfig) {
    this.version = this.versionNow();
    this.auth = loadHostAuth(subnqn, c);
  }

  /**
   * A configuration change of this host's entry (runtime/reconfigure.ts): its files are read and checked now
   * (throws HostKeyError, naming host and field); the function returned makes the entry this object's, so a
   * queue authenticated before re-authenticates with it (nvmet too reads its host's keys at each Negotiate).
   */
  prepareReplace(c: DhchapHostConfig): () => void {
    const version = `${fileVersion(c.keyFile)}|${fileVersion(c.ctrlKeyFile)}`;
    const auth = loadHostAuth(this.subnqn, c);
    return () => {
      this.c = c;
      this.auth = auth;
      this.version = version;
    };
  }

  get hostKey(): DhchapSecret {
    return this.current().hostKey;
  }

  get ctrlKey(): DhchapSecret | undefined {
    return this.current().ctrlKey;
  }

  get hashes(): HostAuth['hashes'] {
    return this.current().hashes;
  }

  get dhGroups(): HostAuth['dhGroups'] {
    return this.current().dhGroups;
  }

  takeNotices(): string[] {
    return this.notices.splice(0);
  }

  private versionNow(): string {
    return `${fileVersion(this.c.keyFile)}|${fileVersion(this.c.ctrlKeyFile)}`;
  }

  private current(): HostAuth {
    const now = this.versionNow();
    if (now === this.version) return this.auth;
    this.version = now;
    try {
      this.auth = loadHostAuth(this.subnqn, this.c);
      this.notices.push(`subsystem ${this.subnqn}, host ${this.c.host}: keys read again from ${[this.c.keyFile, this.c.ctrlKeyFile].filter(Boolean).join(' and ')}`);
    } catch (e) {
      if (!(e instanceof HostKeyError)) throw e;
      this.notices.push(`${e.message}; the previous keys stay in use`);
    }
    return this.auth;
  }
}

/** Every authenticating host of a subsystem, by host NQN. */
export function loadHostAuths(subnqn: string, hosts: readonly DhchapHostConfig[]): Map<string, HostAuth> {
  return new Map(hosts.map((c) => [c.host, new HostKeyFiles(subnqn, c)]));
}
