// The reservation record of a namespace added live to a subsystem with a state file. The state file's
// RESERVATION section is sized by the namespace set at start, so such a namespace has no record there
// until the next start; until then its record lives in a sidecar file beside the state file,
// "<state file>.reservations-nsid-<n>.bin", memory-mapped as the state file is. The next start
// (prepare.ts), which sizes the state file for the new namespace set, imports the record and removes
// the sidecar.
//
// Layout (one page; the state file's record formats and two-slot protocol, defined once in layout.ts,
// records.ts and slots.ts):
//   offset 0     NAMESPACE record, two slots: the identity of the namespace it belongs to (written at creation)
//   offset 256   RESERVATION record, two slots
//
// Invariants:
//  - a record is stored (and msync'd when asked) before the command that changed it completes, as in the
//    state file; a kill leaves the previous or the new version (slots.ts);
//  - the sidecar is created whole (files.ts replaceFile) before its namespace is served, so a sidecar that
//    does not parse was damaged by something else than a kill: it is set aside, never a reason to stop;
//  - at start the state file's record wins: a sidecar is imported only for a namespace the state file did
//    not hold (changes.added) whose identity is the one served; otherwise it is discarded. The state file is
//    stored and synced before any sidecar is unlinked, so a crash between the two leaves a sidecar whose
//    namespace the file now holds: discarded at the following start.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { NS_SIZE, PAGE_SIZE, RecordKind, RESV_SIZE, type SectionPlacement } from './layout.js';
import { decodeNamespace, decodeReservation, encodeNamespace, encodeReservation } from './records.js';
import { readTwoSlot, TwoSlotSection } from './slots.js';
import { fsyncDir, replaceFile, setAside } from './files.js';
import { mapShared, msyncRange } from './mmap.js';
import { diffNamespaces } from './namespace-changes.js';
import type { NamespaceIdentity, ReservationRecord } from './types.js';

export const SIDECAR_SIZE = PAGE_SIZE;
const NS_SEC: SectionPlacement = { kind: RecordKind.NAMESPACE, slots: 2, recordSize: NS_SIZE, count: 1, offset: 0 };
const RESV_SEC: SectionPlacement = { kind: RecordKind.RESERVATION, slots: 2, recordSize: RESV_SIZE, count: 1, offset: 256 };

const SUFFIX = /\.reservations-nsid-(\d+)\.bin$/;

export function sidecarPath(stateFile: string, nsid: number): string {
  return `${stateFile}.reservations-nsid-${nsid}.bin`;
}

/** The sidecars beside `stateFile` (set-aside ones excluded), by nsid. */
export function listSidecars(stateFile: string): Array<{ nsid: number; path: string }> {
  const dir = dirname(stateFile);
  if (!existsSync(dir)) return [];
  const prefix = basename(stateFile);
  const out: Array<{ nsid: number; path: string }> = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const m = SUFFIX.exec(name.slice(prefix.length));
    if (m && name.slice(prefix.length) === m[0]) out.push({ nsid: Number(m[1]), path: join(dir, name) });
  }
  return out.sort((a, b) => a.nsid - b.nsid);
}

/** A new sidecar's bytes: the namespace's identity, no reservation record yet. */
export function formatSidecar(ns: NamespaceIdentity): Buffer {
  const buf = Buffer.alloc(SIDECAR_SIZE);
  new TwoSlotSection(NS_SEC).write(buf, 0, 0, (b, off) => encodeNamespace(b, off, ns));
  return buf;
}

export type SidecarContents = { ok: true; ns: NamespaceIdentity; record?: ReservationRecord } | { ok: false; problem: string };

/** Reads a sidecar's bytes (pure). */
export function parseSidecar(buf: Buffer): SidecarContents {
  if (buf.length !== SIDECAR_SIZE) return { ok: false, problem: `size ${buf.length}, not ${SIDECAR_SIZE}` };
  const n = readTwoSlot(buf, NS_SEC, 0);
  if (n.newest < 0) return { ok: false, problem: 'no valid namespace record (CRC)' };
  const ns = decodeNamespace(buf, NS_SEC.offset + n.newest * NS_SEC.recordSize);
  const r = readTwoSlot(buf, RESV_SEC, 0);
  if (r.damaged) return { ok: false, problem: 'both reservation slots damaged (CRC)' };
  if (r.newest < 0) return { ok: true, ns };
  const record = decodeReservation(buf, RESV_SEC.offset + r.newest * RESV_SEC.recordSize);
  if (record.nsid !== ns.nsid) return { ok: false, problem: `reservation record of nsid ${record.nsid} in the sidecar of nsid ${ns.nsid}` };
  return { ok: true, ns, record };
}

export type SidecarDecision =
  | { action: 'import'; record: ReservationRecord }
  | { action: 'discard'; reason: string }
  | { action: 'set-aside'; reason: string };

/**
 * What a start does with the sidecar named for `nsid` (pure). `added`: the state file being prepared did
 * not hold the namespace (a record in the file wins); `served`: the namespace configured under that nsid.
 */
export function decideSidecar(nsid: number, c: SidecarContents, added: boolean, served: NamespaceIdentity | undefined): SidecarDecision {
  if (!c.ok) return { action: 'set-aside', reason: c.problem };
  if (c.ns.nsid !== nsid) return { action: 'set-aside', reason: `holds nsid ${c.ns.nsid}, named for ${nsid}` };
  if (!served) return { action: 'discard', reason: 'the namespace is not configured' };
  if (!added) return { action: 'discard', reason: 'the state file holds the namespace (its record wins)' };
  const d = diffNamespaces([c.ns], [served]);
  if (d.replaced.length) return { action: 'discard', reason: `another device under nsid ${nsid} (${d.replaced[0].fields.join(', ')} differ)` };
  if (!c.record) return { action: 'discard', reason: 'no reservation stored' };
  return { action: 'import', record: c.record };
}

export interface SidecarLog {
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
}

/**
 * The decisions for every sidecar of `stateFile` (reading them), and `settle`, to call once the state
 * file holding the imported records is stored and synced: removes imported and discarded sidecars, sets
 * corrupt ones aside, logging each.
 */
export function sidecarsAtStart(stateFile: string, added: readonly number[], served: readonly NamespaceIdentity[], nowMs: number, log: SidecarLog): { imports: ReservationRecord[]; settle(): void } {
  const decided = listSidecars(stateFile).map((s) => {
    let c: SidecarContents;
    try {
      c = parseSidecar(readFileSync(s.path));
    } catch (e) {
      c = { ok: false, problem: String(e) };
    }
    return { ...s, d: decideSidecar(s.nsid, c, added.includes(s.nsid), served.find((n) => n.nsid === s.nsid)) };
  });
  const imports = decided.flatMap((s) => (s.d.action === 'import' ? [s.d.record] : []));
  return {
    imports,
    settle: () => {
      for (const s of decided) {
        if (s.d.action === 'set-aside') {
          const { asidePath } = setAside(s.path, nowMs);
          log.warn('reservation sidecar is corrupt: set aside, its reservations lost', { path: s.path, reason: s.d.reason, asidePath });
          continue;
        }
        unlinkSync(s.path);
        if (s.d.action === 'import') log.info('reservations of a namespace added live imported into the state file', { path: s.path, nsid: s.nsid, registrants: s.d.record.registrants.length });
        else log.info('reservation sidecar removed', { path: s.path, nsid: s.nsid, reason: s.d.reason });
      }
      if (decided.length) fsyncDir(dirname(stateFile));
    },
  };
}

/** An open sidecar: the reservation record of one namespace added live, mapped. */
export class ReservationSidecar {
  private readonly resv = new TwoSlotSection(RESV_SEC);
  private record: ReservationRecord | undefined;
  private buf: Buffer;
  private closed = false;

  private constructor(readonly path: string, private readonly fd: number, readonly nsid: number) {
    this.buf = mapShared(fd, SIDECAR_SIZE);
    this.resv.load(this.buf);
    const off = this.resv.current(0);
    this.record = off < 0 ? undefined : decodeReservation(this.buf, off);
  }

  /** Creates the sidecar of namespace `ns` (replacing any left over: the namespace is new to this process). */
  static create(stateFile: string, ns: NamespaceIdentity): ReservationSidecar {
    const path = sidecarPath(stateFile, ns.nsid);
    replaceFile(path, formatSidecar(ns));
    return new ReservationSidecar(path, openSync(path, 'r+'), ns.nsid);
  }

  read(): ReservationRecord | undefined {
    return this.record;
  }

  /** Stores the record; `sync` msyncs it before returning. */
  write(r: ReservationRecord, sync: boolean): void {
    if (this.closed) throw new Error(`reservation sidecar ${this.path} is closed`);
    if (r.nsid !== this.nsid) throw new RangeError(`nsid ${r.nsid} in the sidecar of nsid ${this.nsid}`);
    const off = this.resv.write(this.buf, 0, 0, (b, o) => encodeReservation(b, o, r));
    this.record = r;
    if (sync) msyncRange(this.buf, off, RESV_SEC.recordSize);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.buf = Buffer.alloc(0);
    closeSync(this.fd);
  }

  /** The namespace is gone: its reservations go with the file. */
  remove(): void {
    this.close();
    unlinkSync(this.path);
    fsyncDir(dirname(this.path));
  }
}
