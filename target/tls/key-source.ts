// The TLS keys a running target uses, kept current with their files: a Kubernetes Secret mounted as a volume
// is updated in place (the kubelet swaps a symlink), and a rotated key must reach the next handshake without a
// restart. Each handshake asks for the keys; at most once per CHECK_INTERVAL_MS that looks at every key file's
// identity (device, inode, size, mtime, through symlinks) and reloads all of them when one changed.
// A configuration change (runtime/reconfigure.ts) replaces the whole set: prepare reads and checks the new files
// (the change is refused if one is missing or malformed), its commit puts them in use.
// Invariants: a reload that fails (a file missing or malformed mid-rotation) keeps the keys in use and is
// logged once per state of the files, naming the host and never the key; live TLS sessions are never touched
// (their keys were used at their handshake).
import { statSync } from 'node:fs';
import type { Logger } from '../controller/observer.js';
import { TlsKeys, type PskSubsystems } from './keys.js';

export const CHECK_INTERVAL_MS = 1000;

export class TlsKeySource {
  private keys: TlsKeys;
  private signature: string;
  private checkedAt: number;
  private failedSignature: string | undefined;
  /** Why the last reload failed (undefined once a reload succeeds), for /recovery and the log. */
  lastError: string | undefined;

  /** Loads the keys now; throws TlsKeyError as TlsKeys.load does (a start with a bad key does not serve). */
  constructor(private subsystems: PskSubsystems, private readonly log: Logger, private readonly now: () => number = Date.now) {
    this.signature = this.files(subsystems);
    this.keys = TlsKeys.load(subsystems);
    this.checkedAt = now();
  }

  current(): TlsKeys {
    const t = this.now();
    if (t - this.checkedAt < CHECK_INTERVAL_MS) return this.keys;
    this.checkedAt = t;
    const sig = this.files(this.subsystems);
    if (sig === this.signature || sig === this.failedSignature) return this.keys;
    try {
      this.keys = TlsKeys.load(this.subsystems);
      this.signature = sig;
      this.failedSignature = undefined;
      this.lastError = undefined;
      this.log.info('TLS: key files changed, new keys in use for new handshakes', { keys: this.keys.size });
    } catch (e) {
      this.failedSignature = sig;
      this.lastError = (e as Error).message;
      this.log.error('TLS: key files changed but cannot be loaded; the previous keys stay in use', { error: this.lastError });
    }
    return this.keys;
  }

  /**
   * A configuration change: the keys of `subsystems` read and checked now (throws TlsKeyError, naming the field
   * and host); the function returned puts them in use for new handshakes. Live sessions are never touched.
   */
  prepare(subsystems: PskSubsystems): () => void {
    // The same set (a worker restated its configuration's: RingFrontEnd.start): nothing to read or swap.
    if (pskConfig(subsystems) === pskConfig(this.subsystems)) return () => {};
    const signature = this.files(subsystems);
    const keys = TlsKeys.load(subsystems);
    return () => {
      this.subsystems = subsystems;
      this.keys = keys;
      this.signature = signature;
      this.failedSignature = undefined;
      this.lastError = undefined;
      this.checkedAt = this.now();
      this.log.info('TLS: the configuration\'s PSKs changed, new keys in use for new handshakes', { keys: keys.size });
    };
  }

  /** Every key file's identity, through symlinks ('-' for one that cannot be read). */
  private files(subsystems: PskSubsystems): string {
    return subsystems.flatMap((s) => (s.tlsPsks ?? []).map((k) => {
      try {
        const st = statSync(k.pskFile, { bigint: true });
        return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch {
        return '-';
      }
    })).join(',');
  }
}

/** The configured PSKs of a set of subsystems, as one string: equal sets give equal strings. */
function pskConfig(subsystems: PskSubsystems): string {
  return JSON.stringify(subsystems.map((s) => [s.nqn, (s.tlsPsks ?? []).map((k) => [k.host, k.pskFile, k.derivation ?? 'compat'])]));
}
