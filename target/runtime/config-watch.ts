// Watches a target's --config file for new content (issue 20, contract 2). The kubelet updates a ConfigMap
// volume by writing a new timestamped folder and atomically swapping the `..data` symlink in the file's
// folder (kubelet atomic_writer.go), so the file itself is never written in place: the folder is watched
// (fs.watch), and the file is also read every POLL_MS as a fallback (inotify misses events on some
// filesystems and across the symlink swap; reading a small file and comparing it is cheap). SIGHUP reads it
// at once too. Each new content is parsed and validated, then handed to `apply` (which applies it whole or
// refuses it whole); checks never overlap, and a change seen during one is checked right after it.
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, validateConfig, type TargetConfig } from '../config/config.js';
import type { Logger } from '../controller/observer.js';

export const POLL_MS = 2_000;
/** fs.watch reports several events for one swap: they are read once, this long after the first. */
const SETTLE_MS = 50;

export interface ConfigWatchOptions {
  path: string;
  log: Logger;
  /** The configuration served now (a content equal to it changes nothing and is not counted). */
  served(): TargetConfig;
  /**
   * A new valid configuration: applied whole, or refused whole (and logged, naming the field). `retry`: the
   * same content is read again at the next look (a key file it names may yet appear: reconfigure.ts).
   */
  apply(next: TargetConfig): Promise<{ retry?: boolean } | unknown>;
  /** A content that is no valid configuration (unreadable JSON, a bad field): refused whole. */
  invalid(generation: number, error: string): void;
}

export interface ConfigWatch {
  /** Reads the file now (SIGHUP, tests); resolves once that content was handled. */
  check(): Promise<void>;
  stop(): void;
}

/** The generation a refused content names, if any (0 otherwise: the contract's value for "none"). */
function generationOf(raw: unknown): number {
  const g = (raw as { generation?: unknown } | null)?.generation;
  return typeof g === 'number' && Number.isSafeInteger(g) && g >= 0 ? g : 0;
}

export function watchConfig(o: ConfigWatchOptions): ConfigWatch {
  let last: string | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const handle = async (text: string): Promise<void> => {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      const error = `${o.path}: not JSON: ${(e as Error).message}`;
      o.log.error('configuration refused', { error });
      return o.invalid(0, error);
    }
    let next: TargetConfig;
    try {
      next = validateConfig(raw);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      o.log.error('configuration refused', { field: e.field, error: e.message, generation: generationOf(raw) });
      return o.invalid(generationOf(raw), e.message);
    }
    if (isDeepStrictEqual(next, o.served())) return;
    const r = await o.apply(next);
    if ((r as { retry?: boolean } | undefined)?.retry) last = undefined;
  };

  const once = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(o.path, 'utf8');
    } catch (e) {
      // Between the kubelet's swap and its cleanup the path may be missing for a moment: the next look finds it.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') o.log.warn('cannot read the configuration file', { path: o.path, error: String(e) });
      return;
    }
    if (text === last) return;
    last = text;
    await handle(text);
  };

  const check = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await once();
        } while (again && !stopped);
      } catch (e) {
        o.log.error('configuration reload failed', { path: o.path, error: String(e) });
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  let settle: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(o.path), { persistent: false }, () => {
      settle ??= setTimeout(() => {
        settle = undefined;
        void check();
      }, SETTLE_MS);
    });
    watcher.on('error', (e) => o.log.warn('configuration folder watch failed; reading every 2 s only', { path: o.path, error: String(e) }));
  } catch (e) {
    o.log.warn('cannot watch the configuration folder; reading every 2 s only', { path: o.path, error: String(e) });
  }
  const poll = setInterval(() => void check(), POLL_MS);
  poll.unref();
  void check();
  return {
    check,
    stop() {
      stopped = true;
      clearInterval(poll);
      if (settle) clearTimeout(settle);
      watcher?.close();
    },
  };
}
