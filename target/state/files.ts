// File operations around the state file, all done while holding its lock: setting a bad file aside
// (keeping the newest few), replacing the file atomically, reading the node's boot id.
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Corrupt files kept beside the state file, newest first; older ones are deleted. */
export const CORRUPT_FILES_KEPT = 3;

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

/** Renames `path` to "<path>.corrupt-<UTC timestamp>" and deletes all but the newest CORRUPT_FILES_KEPT. */
export function setAside(path: string, nowMs: number): { asidePath: string; deleted: string[] } {
  let asidePath = `${path}.corrupt-${stamp(nowMs)}`;
  for (let n = 1; existsSync(asidePath); n++) asidePath = `${path}.corrupt-${stamp(nowMs)}-${n}`;
  renameSync(path, asidePath);
  fsyncDir(dirname(path));
  return { asidePath, deleted: pruneAside(path, CORRUPT_FILES_KEPT) };
}

/** The set-aside files of `path`, newest first (their names sort by time). */
export function listAside(path: string): string[] {
  const prefix = `${basename(path)}.corrupt-`;
  return readdirSync(dirname(path))
    .filter((n) => n.startsWith(prefix))
    .sort()
    .reverse()
    .map((n) => join(dirname(path), n));
}

export function pruneAside(path: string, keep: number): string[] {
  const old = listAside(path).slice(keep);
  for (const p of old) unlinkSync(p);
  return old;
}

/**
 * Replaces `path` with `data` so that a kill at any instant leaves either the old file or the new one:
 * written to "<path>.new", fsynced, renamed over `path`, directory fsynced. Trailing zeros are not
 * written but left to ftruncate, so the (large, mostly unused) in-flight section stays sparse.
 */
export function replaceFile(path: string, data: Buffer): void {
  const tmp = `${path}.new`;
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    for (let off = 0; off < end;) off += writeSync(fd, data, off, end - off, off);
    ftruncateSync(fd, data.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The node's boot id (changes at every boot of the node), or "unknown" where /proc does not have it. */
export function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
