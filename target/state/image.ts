// A whole layout-2 file image: building a new one from contents, and reading one into contents.
// Pure functions over a Buffer: the same code reads a copy of a file or its live mapping.
import {
  LAYOUT_2, ALLOC_SIZE, CNT_SIZE, CTRL_LIVE, CTRL_SIZE, HEADER_REGION_SIZE, HEADER_SECTION, IF, IF_ORDERED, IF_SIZE, LAYOUT_VERSION, NS_SIZE, QP, QP_LIVE, QP_SIZE, QP_SQHD_UNSEALED,
  RecordKind, REC, RESV_SIZE, Stage, fileSizeFor, inflightCheck, planSections, type SectionPlacement,
} from './layout.js';
import { encodeHeader, decodeHeader, probeHeader } from './header.js';
import {
  decodeAllocator, decodeController, decodeCounters, decodeInflight, decodeNamespace, decodeQpair, decodeReservation,
  encodeAllocator, encodeController, encodeCounters, encodeNamespace, encodeReservation,
} from './records.js';
import { slotState, TwoSlotSection, type SlotState } from './slots.js';
import { identityDigest, sortedNamespaces } from './identity-digest.js';
import type { Capacity, HeaderRecord, StateContents, SubsystemIdentity } from './types.js';

/** The sections of a layout-2 file, found through its header's section table. */
export interface FileSections {
  namespaces: TwoSlotSection;
  allocator: TwoSlotSection;
  counters: TwoSlotSection;
  controllers: TwoSlotSection;
  reservations: TwoSlotSection;
  qpairs: SectionPlacement;
  inflight: SectionPlacement;
}

const EXPECTED: Array<{ key: keyof FileSections; kind: number; slots: 1 | 2; recordSize: number }> = [
  { key: 'namespaces', kind: RecordKind.NAMESPACE, slots: 2, recordSize: NS_SIZE },
  { key: 'allocator', kind: RecordKind.ALLOCATOR, slots: 2, recordSize: ALLOC_SIZE },
  { key: 'counters', kind: RecordKind.COUNTERS, slots: 2, recordSize: CNT_SIZE },
  { key: 'controllers', kind: RecordKind.CONTROLLER, slots: 2, recordSize: CTRL_SIZE },
  { key: 'reservations', kind: RecordKind.RESERVATION, slots: 2, recordSize: RESV_SIZE },
  { key: 'qpairs', kind: RecordKind.QPAIR, slots: 1, recordSize: QP_SIZE },
  { key: 'inflight', kind: RecordKind.INFLIGHT, slots: 1, recordSize: IF_SIZE },
];

/** Checks the section table against layout 2 and the file size; unknown kinds are skipped. */
export function resolveSections(h: HeaderRecord, fileLength: number): { sections?: FileSections; problem?: string } {
  const found: Partial<Record<keyof FileSections, SectionPlacement>> = {};
  for (const e of EXPECTED) {
    const matches = h.sections.filter((s) => s.kind === e.kind);
    if (matches.length !== 1) return { problem: `section table: ${matches.length} sections of kind ${e.kind}` };
    const s = matches[0];
    if (s.slots !== e.slots || s.recordSize !== e.recordSize) return { problem: `section table: kind ${e.kind} has an unexpected shape` };
    if (!Number.isInteger(s.offset) || s.offset < HEADER_REGION_SIZE || s.offset + s.slots * s.recordSize * s.count > fileLength) {
      return { problem: `section table: kind ${e.kind} lies outside the file` };
    }
    found[e.key] = { kind: e.kind as SectionPlacement['kind'], slots: e.slots, recordSize: e.recordSize, count: s.count, offset: s.offset };
  }
  const cap = h.capacity;
  if (found.namespaces!.count !== cap.namespaces || found.reservations!.count !== cap.namespaces
    || found.controllers!.count !== cap.controllers || found.qpairs!.count !== cap.qpairs
    || found.inflight!.count !== cap.qpairs * cap.inflightPerQpair) {
    return { problem: 'section table: record counts disagree with the capacities in the header' };
  }
  return {
    sections: {
      namespaces: new TwoSlotSection(found.namespaces!),
      allocator: new TwoSlotSection(found.allocator!),
      counters: new TwoSlotSection(found.counters!),
      controllers: new TwoSlotSection(found.controllers!),
      reservations: new TwoSlotSection(found.reservations!),
      qpairs: found.qpairs!,
      inflight: found.inflight!,
    },
  };
}

export interface ParsedImage {
  header: HeaderRecord;
  sections: FileSections;
  contents: StateContents;
  /** Two-slot records whose other slot holds a write cut short (expected after a kill). */
  tornSlots: number;
  /** One-slot records that are neither empty nor valid: cut short mid-store, counted as unknown. */
  unknownQpairs: number;
  unknownInflight: number;
}

export type ParseResult = { ok: true; image: ParsedImage } | { ok: false; problem: string };

/** Reads a layout-2 image. Any damage a kill cannot cause, in a record recovery depends on, is a problem. */
export function parseImage(buf: Buffer): ParseResult {
  const probe = probeHeader(buf);
  if (!probe.ok) return { ok: false, problem: probe.problem };
  if (probe.layoutVersion !== LAYOUT_VERSION && probe.layoutVersion !== LAYOUT_2) return { ok: false, problem: `layout version ${probe.layoutVersion}, expected ${LAYOUT_VERSION} or ${LAYOUT_2}` };
  const header = decodeHeader(buf, probe.off);
  if (buf.length < header.fileSize) return { ok: false, problem: `truncated: ${buf.length} bytes, the header says ${header.fileSize}` };
  const r = resolveSections(header, buf.length);
  if (!r.sections) return { ok: false, problem: r.problem! };
  const s = r.sections;
  let tornSlots = probe.torn ? 1 : 0;
  for (const [name, sec] of [['namespace', s.namespaces], ['allocator', s.allocator], ['counters', s.counters], ['controller', s.controllers], ['reservation', s.reservations]] as const) {
    const l = sec.load(buf);
    if (l.damaged.length) return { ok: false, problem: `${name} record ${l.damaged[0]}: both slots damaged` };
    tornSlots += l.torn;
  }
  const must = (sec: TwoSlotSection, i: number, what: string) => {
    const off = sec.current(i);
    if (off < 0) throw new MissingRecord(`${what} record ${i} missing`);
    return off;
  };
  try {
    const namespaces = [];
    for (let i = 0; i < s.namespaces.sec.count; i++) namespaces.push(decodeNamespace(buf, must(s.namespaces, i, 'namespace')));
    const cntlidNext = decodeAllocator(buf, must(s.allocator, 0, 'allocator'));
    const counters = decodeCounters(buf, must(s.counters, 0, 'counters'));
    const contents: StateContents = { namespaces, cntlidNext, counters, controllers: [], reservations: [], qpairs: [], inflight: [] };
    for (let i = 0; i < s.controllers.sec.count; i++) {
      const off = s.controllers.current(i);
      if (off >= 0 && (buf.readUInt16LE(off + REC.FLAGS) & CTRL_LIVE)) contents.controllers.push({ slot: i, record: decodeController(buf, off) });
    }
    for (let i = 0; i < s.reservations.sec.count; i++) {
      const off = s.reservations.current(i);
      if (off >= 0) contents.reservations.push(decodeReservation(buf, off));
    }
    let unknownQpairs = 0;
    for (let i = 0; i < s.qpairs.count; i++) {
      const off = s.qpairs.offset + i * QP_SIZE;
      const st = qpairState(buf, off, i);
      if (st === 'invalid') unknownQpairs++;
      else if (st === 'valid' && (buf.readUInt16LE(off + REC.FLAGS) & QP_LIVE)) contents.qpairs.push({ slot: i, record: decodeQpair(buf, off) });
    }
    let unknownInflight = 0;
    const perQpair = header.capacity.inflightPerQpair;
    for (let i = 0; i < s.inflight.count; i++) {
      const off = s.inflight.offset + i * IF_SIZE;
      // Stage free: a free record, whatever its CRC (end() frees a record with one store: connection-records.ts).
      if (buf[off + IF.STAGE] === Stage.free) continue;
      const st = inflightState(buf, off, i);
      if (st === 'invalid') unknownInflight++;
      else if (st === 'valid') {
        const rec = decodeInflight(buf, off, Math.floor(i / perQpair));
        if (rec) contents.inflight.push(rec);
      }
    }
    return { ok: true, image: { header, sections: s, contents, tornSlots, unknownQpairs, unknownInflight } };
  } catch (e) {
    if (e instanceof MissingRecord) return { ok: false, problem: e.message };
    throw e;
  }
}

class MissingRecord extends Error {}

/** A qpair record: its CRC covers its SQ head unless QP_SQHD_UNSEALED (then it was computed with SQHD zero). */
function qpairState(buf: Buffer, off: number, index: number): SlotState {
  if ((buf.readUInt16LE(off + REC.FLAGS) & QP_SQHD_UNSEALED) === 0) return slotState(buf, off, QP_SIZE, RecordKind.QPAIR, index);
  const copy = Buffer.from(buf.subarray(off, off + QP_SIZE));
  copy.writeUInt16LE(0, QP.SQHD);
  return slotState(copy, 0, QP_SIZE, RecordKind.QPAIR, index);
}

/**
 * An in-flight record whose stage is not free: an IF_ORDERED one (connection-records.ts) is valid when its
 * kind, index and check word match; an unflagged one (an older binary's) when its CRC does.
 */
function inflightState(buf: Buffer, off: number, index: number): SlotState {
  if ((buf.readUInt16LE(off + REC.FLAGS) & IF_ORDERED) === 0) return slotState(buf, off, IF_SIZE, RecordKind.INFLIGHT, index);
  if (buf.readUInt16LE(off + REC.KIND) !== RecordKind.INFLIGHT || buf.readUInt32LE(off + REC.INDEX) !== index) return 'invalid';
  const check = inflightCheck(buf.readUInt32LE(off + 16), buf.readUInt32LE(off + 20), buf.readUInt32LE(off + 24), buf.readUInt32LE(off + 28));
  return buf.readUInt32LE(off + REC.CRC) === check ? 'valid' : 'invalid';
}

/** Header fields carried from one file to the next (the rest is derived). */
export type HeaderSeed = Pick<HeaderRecord, 'bootCount' | 'bootId' | 'cleanShutdown' | 'outcomes' | 'last' | 'inflightAbandonedTotal'>;

export const NEW_HEADER_SEED: HeaderSeed = {
  bootCount: 0, bootId: '', cleanShutdown: false, outcomes: { fresh: 0, clean: 0, restored: 0, corrupt: 0 }, last: null, inflightAbandonedTotal: 0,
};

/**
 * Builds a new layout-2 image holding `contents` for `identity`: namespace records from the identity,
 * controllers packed into slots 0.. (at most capacity.controllers of them), reservations matched to
 * namespaces by nsid. Qpair and in-flight sections start empty: they describe connections of a
 * process that is gone. Every two-slot record is written in slot A with seq 1.
 */
export function formatImage(identity: SubsystemIdentity, capacity: Capacity, seed: HeaderSeed, contents: StateContents): Buffer {
  const namespaces = sortedNamespaces(identity);
  if (contents.controllers.length > capacity.controllers) {
    throw new RangeError(`${contents.controllers.length} controllers do not fit in ${capacity.controllers} slots`);
  }
  const plan = planSections(capacity, namespaces.length);
  const size = fileSizeFor(plan);
  const buf = Buffer.alloc(size);
  const header: HeaderRecord = {
    ...seed,
    layoutVersion: LAYOUT_VERSION,
    fileSize: size,
    identityDigest: identityDigest(identity),
    nqn: identity.nqn,
    capacity: { ...capacity, namespaces: namespaces.length },
    sections: plan,
  };
  new TwoSlotSection(HEADER_SECTION).write(buf, 0, 0, (b, off) => encodeHeader(b, off, header));
  const [nsSec, allocSec, cntSec, ctrlSec, resvSec] = plan.map((p) => new TwoSlotSection(p));
  namespaces.forEach((ns, i) => nsSec.write(buf, i, 0, (b, off) => encodeNamespace(b, off, ns)));
  allocSec.write(buf, 0, 0, (b, off) => encodeAllocator(b, off, contents.cntlidNext));
  cntSec.write(buf, 0, 0, (b, off) => encodeCounters(b, off, contents.counters));
  contents.controllers.forEach((c, i) => ctrlSec.write(buf, i, CTRL_LIVE, (b, off) => encodeController(b, off, c.record)));
  for (const r of contents.reservations) {
    const i = namespaces.findIndex((ns) => ns.nsid === r.nsid);
    if (i >= 0) resvSec.write(buf, i, 0, (b, off) => encodeReservation(b, off, r));
  }
  return buf;
}
