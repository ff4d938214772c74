// The byte layout of the state file, layout version 3: every offset, size and code is named here and
// nowhere else. target/README.md ("State file") documents the same layout for people. Layout 3 has layout
// 2's bytes; only the header's identity digest means less (identity-digest.ts v2: the NQN alone, so a live
// change of the namespace set or of a size leaves the file this subsystem's). Layout 2 files are migrated.
//
// All integers are little-endian. `f64` fields are IEEE-754 doubles holding integers (exact below 2^53).
//
// File shape:
//   [0, 4096)        header, two slots of HEADER_SLOT_SIZE bytes (slot A at 0, slot B at 2048)
//   sections         each starts on a page boundary; the header's section table gives kind, slots
//                    per record, record size, record count and offset of each, so a later layout can
//                    add sections (per-connection rings, ...) without moving these.
//
// Every record slot, of every kind, starts with the same 16-byte record header (REC):
//   crc u32 | kind u16 | flags u16 | index u32 | seq u32
// `crc` is the CRC32C of bytes [4, recordSize) of the slot. A slot is valid only if its CRC matches,
// its kind is the section's kind and its index is its position in the section. A slot of all zero
// bytes was never written (it is "empty", not damaged). Two flags bend this for the I/O path's one-slot
// records: QP_SQHD_UNSEALED (the CRC leaves a qpair's SQ head out) and IF_ORDERED (an in-flight record is
// committed by its stage word and its `crc` word holds a check word instead).
// The bytes are unchanged by them: a file with such records is layout 3 still (an older layout-3 binary
// counts them as unknown, and recovery abandons known and unknown in-flight records alike).
//
// Two-slot records (header, namespace identity, cntlid allocator, counters, controllers,
// reservations) keep slot A and slot B of record i adjacent: offset + (2i + s) * recordSize.
// The valid slot with the newer `seq` (serial-number arithmetic, RFC 1982, 32 bits) is the record.
// One-slot records (qpairs, in-flight commands) live at offset + i * recordSize.

import type { Capacity } from './types.js';

/** Layout written by this binary. A file with a larger version is refused, a smaller one migrated. */
export const LAYOUT_VERSION = 3;
/** Layout 3's bytes with identity digest v1 (identity-digest.ts): read as layout 3 is, then migrated. */
export const LAYOUT_2 = 2;
/** The oldest layout this binary can migrate (see layout-v1.ts). */
export const OLDEST_MIGRATABLE_LAYOUT = 1;

export const PAGE_SIZE = 4096;
export const MAGIC = Buffer.from('NVMEOFST', 'latin1');
export const MAGIC_SIZE = 8;

// ---- Frozen across every layout version: how any binary finds and checks the header. ----
// Never change these: they are how a binary recognises a file written by a newer one.
export const HEADER_SLOT_SIZE = 2048;
export const HEADER_SLOT_OFFSETS = [0, HEADER_SLOT_SIZE] as const;
export const HEADER_REGION_SIZE = 2 * HEADER_SLOT_SIZE;

/** Record header, common to every slot of every record kind (and to every layout version). */
export const REC = {
  CRC: 0, // u32, CRC32C of [4, recordSize)
  KIND: 4, // u16, RecordKind
  FLAGS: 6, // u16, per kind
  INDEX: 8, // u32, record index within its section
  SEQ: 12, // u32, bumped at every store of the record
  BODY: 16,
} as const;
export const REC_HEADER_SIZE = 16;

export const RecordKind = {
  HEADER: 1,
  NAMESPACE: 2,
  ALLOCATOR: 3,
  COUNTERS: 4,
  CONTROLLER: 5,
  RESERVATION: 6,
  QPAIR: 7,
  INFLIGHT: 8,
} as const;
export type RecordKindCode = (typeof RecordKind)[keyof typeof RecordKind];

/** Header fields (offsets inside one header slot). MAGIC and VERSION are frozen; the rest is layout 2. */
export const HDR = {
  MAGIC: 16, // 8 bytes "NVMEOFST"            (frozen)
  VERSION: 24, // u32 layout version          (frozen)
  FILE_SIZE: 32, // f64 bytes the file must have
  IDENTITY_DIGEST: 40, // 32 bytes, identity-digest.ts
  BOOT_COUNT: 72, // u32 opens of this file
  CLEAN_SHUTDOWN: 76, // u32 1 if the last process marked a clean shutdown
  BOOT_ID: 80, // 48 bytes ASCII, NUL padded: the node's boot id at the last open
  OUTCOME_FRESH: 128, // u32 cumulative counts by outcome
  OUTCOME_CLEAN: 132,
  OUTCOME_RESTORED: 136,
  OUTCOME_CORRUPT: 140,
  LAST_OUTCOME: 144, // u32 OutcomeCode of the last recorded recovery (0 = none yet)
  LAST_RESTORED_CONTROLLERS: 148, // u32
  LAST_STARTED_AT_MS: 152, // f64 Unix ms
  LAST_DURATION_MS: 160, // f64
  LAST_INFLIGHT_ABANDONED: 168, // u32
  LAST_INFLIGHT_FOUND: 172, // u32 in-flight records found at the last open
  INFLIGHT_ABANDONED_TOTAL: 176, // f64 cumulative
  CAP_CONTROLLERS: 184, // u32 capacities the sections were sized for
  CAP_QPAIRS: 188,
  CAP_INFLIGHT_PER_QPAIR: 192,
  CAP_NAMESPACES: 196,
  NQN_LENGTH: 200, // u16, then 2 reserved bytes
  NQN: 204, // NQN_FIELD bytes UTF-8, the subsystem NQN (for diagnostics)
  SECTION_COUNT: 448, // u32
  SECTION_TABLE: 456, // MAX_SECTIONS entries of SECTION_ENTRY_SIZE
} as const;
export const BOOT_ID_FIELD = 48;
export const NQN_MAX_BYTES = 223;
export const NQN_FIELD = 224;
export const MAX_SECTIONS = 16;

/** One entry of the section table. */
export const SECTION_ENTRY = { KIND: 0, SLOTS: 4, RECORD_SIZE: 8, COUNT: 12, OFFSET: 16 } as const; // OFFSET f64
export const SECTION_ENTRY_SIZE = 24;

export const OutcomeCode = { none: 0, fresh: 1, clean: 2, restored: 3, corrupt: 4 } as const;

// ---- Record bodies (offsets inside a slot, after the 16-byte record header). ----

/** Namespace identity: two slots, one record per namespace, in nsid order. */
export const NS = {
  NSID: 16, // u32
  BLOCK_SIZE: 20, // u32
  SIZE: 24, // f64 bytes
  UUID: 32, // 16 bytes
  NGUID: 48, // 16 bytes
  EUI64: 64, // 8 bytes
} as const;
export const NS_SIZE = 80;

/** cntlid allocator: two slots, one record. */
export const ALLOC = { NEXT_CNTLID: 16 } as const; // u32, the next cntlid to try, 1..CNTLID_MAX
export const ALLOC_SIZE = 32;
/** cntlids 0xFFF0..0xFFFF are reserved (NVMe Base 2.0, Connect; Linux nvmet uses 1..0xFFEF). */
export const CNTLID_MIN = 1;
export const CNTLID_MAX = 0xffef;

/** SMART-like counters: two slots, one record; persisted periodically, never per I/O. */
export const CNT = {
  DATA_UNITS_READ: 16, // f64, units of 512 bytes (the log page reports thousands, rounded up)
  DATA_UNITS_WRITTEN: 24, // f64
  HOST_READ_COMMANDS: 32, // f64
  HOST_WRITE_COMMANDS: 40, // f64
} as const;
export const CNT_SIZE = 64;

/** Controller: two slots per controller slot. FLAGS bit CTRL_LIVE marks a slot in use. */
export const CTRL = {
  CNTLID: 16, // u16
  KATO_MS: 20, // u32
  AEN_CONFIG: 24, // u32, Set Features 0Bh (Asynchronous Event Configuration) dword 11
  CC: 28, // u32
  CSTS: 32, // u32
  SAVED_FEATURE_COUNT: 36, // u32, 0..MAX_SAVED_FEATURES
  LAST_SEEN_MS: 40, // f64 Unix ms the host was last heard from
  CREATED_MS: 48, // f64 Unix ms of the Connect that created the controller
  HOST_ID: 56, // 16 bytes
  HOST_NQN_LENGTH: 72, // u16
  SUBNQN_LENGTH: 74, // u16
  HOST_NQN: 80, // NQN_FIELD bytes
  SUBNQN: 304, // NQN_FIELD bytes
  SAVED_FEATURES: 528, // MAX_SAVED_FEATURES x (fid u32, dword u32)
} as const;
export const CTRL_SIZE = 656;
export const CTRL_LIVE = 1;
export const MAX_SAVED_FEATURES = 16;

/** Reservation state of one namespace: two slots, one record per namespace (same order as NS). */
export const RESV = {
  NSID: 16, // u32
  GENERATION: 20, // u32, PRGEN
  TYPE: 24, // u8, reservation type (0 = none)
  PTPL: 25, // u8, persist through power loss
  REGISTRANT_COUNT: 26, // u8, 0..MAX_REGISTRANTS
  HOLDER_HOST_ID: 32, // 16 bytes, all zero = no holder
  REGISTRANTS: 48, // MAX_REGISTRANTS x (host ID 16 bytes, key u64)
} as const;
export const RESV_SIZE = 432;
export const MAX_REGISTRANTS = 16;
export const REGISTRANT_SIZE = 24;

/** Qpair: one slot. FLAGS bits below. Informational until in-pod resume uses them. */
export const QP = {
  CNTLID: 16, // u16
  QID: 18, // u16
  SQSIZE: 20, // u16 (0's based, as in Connect)
  SQHD: 22, // u16
  EPOCH: 24, // u32 connection epoch
} as const;
export const QP_SIZE = 32;
export const QP_LIVE = 1;
export const QP_HDGST = 2;
export const QP_DDGST = 4;
/**
 * The record's CRC was computed with SQHD zero: the SQ head is then stored alone, one aligned word store
 * (SQSIZE kept) that cannot tear, with no CRC per store (every record this binary writes; an older
 * binary's CRC covers SQHD too).
 */
export const QP_SQHD_UNSEALED = 8;

/**
 * In-flight command: one slot. The slot of command j of qpair slot q is q * inflightPerQpair + j, so
 * the record's qpair slot is its index divided by inflightPerQpair.
 * Sized 32 bytes. A record flagged IF_ORDERED (every one this binary writes) is not CRC'd: its body is
 * stored before the word holding its stage, so the stage byte commits it, and its `crc` word holds
 * IF_CHECK_SALT ^ that word without the stage byte ^ the last three words (a stage change is one store).
 * An unflagged record (an older binary's) is CRC'd as every other slot.
 */
export const IF = {
  CID: 16, // u16
  OPCODE: 18, // u8
  STAGE: 19, // u8, Stage
  NSID: 20, // u32
  SLBA_LO: 24, // u32
  SLBA_HI: 28, // u16 (LBAs up to 2^48)
  NLB: 30, // u16, 0's based as in CDW12
} as const;
export const IF_SIZE = 32;
/** In-flight FLAGS: committed by its stage word, checked by IF_CHECK_SALT ^ words (not a CRC). */
export const IF_ORDERED = 1;
export const IF_CHECK_SALT = 0x5f1c_4e0d;

/** The `crc` word of an IF_ORDERED in-flight record whose words 4..7 are w4..w7. */
export function inflightCheck(w4: number, w5: number, w6: number, w7: number): number {
  return (IF_CHECK_SALT ^ (w4 & 0x00ffffff) ^ w5 ^ w6 ^ w7) >>> 0;
}

export const Stage = { free: 0, received: 1, 'data-in': 2, executing: 3, 'done-but-unsent': 4 } as const;

// ---- Sections. ----

export interface SectionPlacement {
  kind: RecordKindCode;
  slots: 1 | 2;
  recordSize: number;
  count: number;
  offset: number;
}

/** The sections of layout 2, in file order. */
export function planSections(cap: Capacity, namespaces: number): SectionPlacement[] {
  const specs: Array<Omit<SectionPlacement, 'offset'>> = [
    { kind: RecordKind.NAMESPACE, slots: 2, recordSize: NS_SIZE, count: namespaces },
    { kind: RecordKind.ALLOCATOR, slots: 2, recordSize: ALLOC_SIZE, count: 1 },
    { kind: RecordKind.COUNTERS, slots: 2, recordSize: CNT_SIZE, count: 1 },
    { kind: RecordKind.CONTROLLER, slots: 2, recordSize: CTRL_SIZE, count: cap.controllers },
    { kind: RecordKind.RESERVATION, slots: 2, recordSize: RESV_SIZE, count: namespaces },
    { kind: RecordKind.QPAIR, slots: 1, recordSize: QP_SIZE, count: cap.qpairs },
    { kind: RecordKind.INFLIGHT, slots: 1, recordSize: IF_SIZE, count: cap.qpairs * cap.inflightPerQpair },
  ];
  let offset = HEADER_REGION_SIZE;
  return specs.map((s) => {
    const placed = { ...s, offset };
    offset = pageAlign(offset + sectionBytes(placed));
    return placed;
  });
}

export function sectionBytes(s: Omit<SectionPlacement, 'offset'>): number {
  return s.slots * s.recordSize * s.count;
}

export function fileSizeFor(sections: SectionPlacement[]): number {
  let end = HEADER_REGION_SIZE;
  for (const s of sections) end = Math.max(end, pageAlign(s.offset + sectionBytes(s)));
  return end;
}

export function pageAlign(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

/** Offset of slot `slot` (0 = A, 1 = B) of record `index`. */
export function slotOffset(s: SectionPlacement, index: number, slot: 0 | 1): number {
  return s.offset + (index * s.slots + slot) * s.recordSize;
}

/** The header as a one-record, two-slot section. */
export const HEADER_SECTION: SectionPlacement = {
  kind: RecordKind.HEADER, slots: 2, recordSize: HEADER_SLOT_SIZE, count: 1, offset: 0,
};
