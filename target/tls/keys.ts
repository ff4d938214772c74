// The TLS PSKs a target serves: from each subsystem's configured keys (config.ts `tlsPsks`, one key file per
// host), every identity a host may offer (version 0 and 1, psk.ts) mapped to its TLS PSK.
// Invariants: a key file is read and checked when the keys are loaded, never during a handshake; an error
// names the subsystem, the host and the file, never the key; identities of two subsystems never collide
// (each names its subsystem).
import { readFileSync } from 'node:fs';
import type { SubsystemConfig } from '../config/config.js';
import { hostIdentities, parseIdentity, parseInterchangePsk } from './psk.js';

/** What the keys are read from: each subsystem's NQN and configured PSKs, in the configuration's order (fields name its index). */
export type PskSubsystems = ReadonlyArray<Pick<SubsystemConfig, 'nqn' | 'tlsPsks'> & Partial<SubsystemConfig>>;

export class TlsKeyError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'TlsKeyError';
  }
}

export class TlsKeys {
  private constructor(private readonly byIdentity: Map<string, Buffer>, private readonly pairs: Set<string>) {}

  /** Reads every subsystem's key files; throws TlsKeyError for the first missing or malformed one. */
  static load(subsystems: PskSubsystems, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): TlsKeys {
    const map = new Map<string, Buffer>();
    const pairs = new Set<string>();
    subsystems.forEach((s, i) => (s.tlsPsks ?? []).forEach((k, j) => {
      const field = `subsystems[${i}].tlsPsks[${j}] (host ${k.host})`;
      let text: string;
      try {
        text = read(k.pskFile);
      } catch (e) {
        throw new TlsKeyError(field, `cannot read the key file ${k.pskFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      let psk;
      try {
        psk = parseInterchangePsk(text);
      } catch (e) {
        throw new TlsKeyError(field, `the key file ${k.pskFile}: ${(e as Error).message}`);
      }
      for (const { identity, key } of hostIdentities(k.derivation ?? 'compat', psk, k.host, s.nqn)) map.set(identity, key);
      pairs.add(`${k.host} ${s.nqn}`);
    }));
    return new TlsKeys(map, pairs);
  }

  get size(): number {
    return this.byIdentity.size;
  }

  /** The TLS PSK for an identity a host offered, or why there is none (for the log: names no key). */
  lookup(identity: string): { key: Buffer } | { reason: string } {
    const key = this.byIdentity.get(identity);
    if (key) return { key };
    const id = parseIdentity(identity);
    if (!id) return { reason: 'the PSK identity is no NVMe retained-PSK identity (NVMe0R01/NVMe1R01 <hostnqn> <subnqn>)' };
    if (this.pairs.has(`${id.hostNqn} ${id.subNqn}`)) return { reason: `the identity's PSK digest is not that of the key configured for host ${id.hostNqn} (another key)` };
    return { reason: `no TLS PSK is configured for host ${id.hostNqn} on subsystem ${id.subNqn}` };
  }
}
