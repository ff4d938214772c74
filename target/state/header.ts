// The file header (layout 2): encoding, decoding, and finding the newest valid header slot of a file
// of any layout version through the frozen prefix (slot positions, CRC, magic, version).
import {
  BOOT_ID_FIELD, HDR, HEADER_REGION_SIZE, HEADER_SECTION, HEADER_SLOT_SIZE, MAGIC, MAGIC_SIZE, MAX_SECTIONS,
  OutcomeCode, SECTION_ENTRY, SECTION_ENTRY_SIZE,
} from './layout.js';
import { readTwoSlot, slotState } from './slots.js';
import { readString, writeString } from './records.js';
import { RECOVERY_OUTCOMES, type HeaderRecord, type RecoveryOutcome, type SectionInfo } from './types.js';

const OUTCOME_FIELDS: Record<RecoveryOutcome, number> = {
  fresh: HDR.OUTCOME_FRESH, clean: HDR.OUTCOME_CLEAN, restored: HDR.OUTCOME_RESTORED, corrupt: HDR.OUTCOME_CORRUPT,
};

function outcomeFromCode(code: number): RecoveryOutcome | undefined {
  return RECOVERY_OUTCOMES.find((o) => OutcomeCode[o] === code);
}

export type HeaderProbe =
  | { ok: true; slot: 0 | 1; off: number; seq: number; layoutVersion: number; torn: boolean }
  | { ok: false; problem: string };

/**
 * Finds the header slot a file of any layout version is described by: the valid slot (CRC, kind,
 * index, magic) with the newest sequence number. Uses only the frozen part of the layout.
 */
export function probeHeader(buf: Buffer): HeaderProbe {
  if (buf.length < HEADER_REGION_SIZE) {
    return { ok: false, problem: `truncated: ${buf.length} bytes, shorter than the ${HEADER_REGION_SIZE}-byte header` };
  }
  const s = readTwoSlot(buf, HEADER_SECTION, 0);
  const magicAt = (slot: 0 | 1) => buf.subarray(slot * HEADER_SLOT_SIZE + HDR.MAGIC, slot * HEADER_SLOT_SIZE + HDR.MAGIC + MAGIC_SIZE).equals(MAGIC);
  if (s.newest >= 0 && magicAt(s.newest as 0 | 1)) {
    const off = s.newest * HEADER_SLOT_SIZE;
    return { ok: true, slot: s.newest as 0 | 1, off, seq: s.seq, layoutVersion: buf.readUInt32LE(off + HDR.VERSION), torn: s.torn };
  }
  if (s.newest >= 0) return { ok: false, problem: 'wrong magic: not a state file' };
  if (magicAt(0) || magicAt(1)) return { ok: false, problem: 'torn header: no header slot passes its CRC' };
  const empty = [0, 1].every((slot) => slotState(buf, slot * HEADER_SLOT_SIZE, HEADER_SLOT_SIZE, HEADER_SECTION.kind, 0) === 'empty');
  return { ok: false, problem: empty ? 'no header: both header slots are zero' : 'garbage: no state-file magic in either header slot' };
}

export function encodeHeader(buf: Buffer, off: number, h: HeaderRecord): void {
  if (h.sections.length > MAX_SECTIONS) throw new RangeError(`at most ${MAX_SECTIONS} sections fit`);
  MAGIC.copy(buf, off + HDR.MAGIC);
  buf.writeUInt32LE(h.layoutVersion, off + HDR.VERSION);
  buf.writeDoubleLE(h.fileSize, off + HDR.FILE_SIZE);
  if (h.identityDigest.length !== 32) throw new RangeError('identity digest must be 32 bytes');
  h.identityDigest.copy(buf, off + HDR.IDENTITY_DIGEST);
  buf.writeUInt32LE(h.bootCount >>> 0, off + HDR.BOOT_COUNT);
  buf.writeUInt32LE(h.cleanShutdown ? 1 : 0, off + HDR.CLEAN_SHUTDOWN);
  buf.write(h.bootId.slice(0, BOOT_ID_FIELD - 1), off + HDR.BOOT_ID, BOOT_ID_FIELD - 1, 'latin1');
  for (const o of RECOVERY_OUTCOMES) buf.writeUInt32LE(h.outcomes[o] >>> 0, off + OUTCOME_FIELDS[o]);
  const last = h.last;
  buf.writeUInt32LE(last ? OutcomeCode[last.outcome] : OutcomeCode.none, off + HDR.LAST_OUTCOME);
  buf.writeUInt32LE(last ? last.restoredControllers >>> 0 : 0, off + HDR.LAST_RESTORED_CONTROLLERS);
  buf.writeDoubleLE(last ? last.startedAtMs : 0, off + HDR.LAST_STARTED_AT_MS);
  buf.writeDoubleLE(last ? last.durationMs : 0, off + HDR.LAST_DURATION_MS);
  buf.writeUInt32LE(last ? last.inflightAbandoned >>> 0 : 0, off + HDR.LAST_INFLIGHT_ABANDONED);
  buf.writeUInt32LE(last ? last.inflightFound >>> 0 : 0, off + HDR.LAST_INFLIGHT_FOUND);
  buf.writeDoubleLE(h.inflightAbandonedTotal, off + HDR.INFLIGHT_ABANDONED_TOTAL);
  buf.writeUInt32LE(h.capacity.controllers, off + HDR.CAP_CONTROLLERS);
  buf.writeUInt32LE(h.capacity.qpairs, off + HDR.CAP_QPAIRS);
  buf.writeUInt32LE(h.capacity.inflightPerQpair, off + HDR.CAP_INFLIGHT_PER_QPAIR);
  buf.writeUInt32LE(h.capacity.namespaces, off + HDR.CAP_NAMESPACES);
  writeString(buf, off + HDR.NQN, off + HDR.NQN_LENGTH, h.nqn, 'subsystem NQN');
  buf.writeUInt32LE(h.sections.length, off + HDR.SECTION_COUNT);
  h.sections.forEach((s, i) => {
    const e = off + HDR.SECTION_TABLE + i * SECTION_ENTRY_SIZE;
    buf.writeUInt32LE(s.kind, e + SECTION_ENTRY.KIND);
    buf.writeUInt32LE(s.slots, e + SECTION_ENTRY.SLOTS);
    buf.writeUInt32LE(s.recordSize, e + SECTION_ENTRY.RECORD_SIZE);
    buf.writeUInt32LE(s.count, e + SECTION_ENTRY.COUNT);
    buf.writeDoubleLE(s.offset, e + SECTION_ENTRY.OFFSET);
  });
}

export function decodeHeader(buf: Buffer, off: number): HeaderRecord {
  const outcomes = {} as Record<RecoveryOutcome, number>;
  for (const o of RECOVERY_OUTCOMES) outcomes[o] = buf.readUInt32LE(off + OUTCOME_FIELDS[o]);
  const lastOutcome = outcomeFromCode(buf.readUInt32LE(off + HDR.LAST_OUTCOME));
  const bootIdRaw = buf.toString('latin1', off + HDR.BOOT_ID, off + HDR.BOOT_ID + BOOT_ID_FIELD);
  const sectionCount = Math.min(buf.readUInt32LE(off + HDR.SECTION_COUNT), MAX_SECTIONS);
  const sections: SectionInfo[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const e = off + HDR.SECTION_TABLE + i * SECTION_ENTRY_SIZE;
    sections.push({
      kind: buf.readUInt32LE(e + SECTION_ENTRY.KIND),
      slots: buf.readUInt32LE(e + SECTION_ENTRY.SLOTS) === 2 ? 2 : 1,
      recordSize: buf.readUInt32LE(e + SECTION_ENTRY.RECORD_SIZE),
      count: buf.readUInt32LE(e + SECTION_ENTRY.COUNT),
      offset: buf.readDoubleLE(e + SECTION_ENTRY.OFFSET),
    });
  }
  return {
    layoutVersion: buf.readUInt32LE(off + HDR.VERSION),
    fileSize: buf.readDoubleLE(off + HDR.FILE_SIZE),
    identityDigest: Buffer.from(buf.subarray(off + HDR.IDENTITY_DIGEST, off + HDR.IDENTITY_DIGEST + 32)),
    nqn: readString(buf, off + HDR.NQN, off + HDR.NQN_LENGTH),
    bootCount: buf.readUInt32LE(off + HDR.BOOT_COUNT),
    bootId: bootIdRaw.replace(/\0+$/, ''),
    cleanShutdown: buf.readUInt32LE(off + HDR.CLEAN_SHUTDOWN) === 1,
    outcomes,
    last: lastOutcome
      ? {
          outcome: lastOutcome,
          startedAtMs: buf.readDoubleLE(off + HDR.LAST_STARTED_AT_MS),
          durationMs: buf.readDoubleLE(off + HDR.LAST_DURATION_MS),
          restoredControllers: buf.readUInt32LE(off + HDR.LAST_RESTORED_CONTROLLERS),
          inflightAbandoned: buf.readUInt32LE(off + HDR.LAST_INFLIGHT_ABANDONED),
          inflightFound: buf.readUInt32LE(off + HDR.LAST_INFLIGHT_FOUND),
        }
      : null,
    inflightAbandonedTotal: buf.readDoubleLE(off + HDR.INFLIGHT_ABANDONED_TOTAL),
    capacity: {
      controllers: buf.readUInt32LE(off + HDR.CAP_CONTROLLERS),
      qpairs: buf.readUInt32LE(off + HDR.CAP_QPAIRS),
      inflightPerQpair: buf.readUInt32LE(off + HDR.CAP_INFLIGHT_PER_QPAIR),
      namespaces: buf.readUInt32LE(off + HDR.CAP_NAMESPACES),
    },
    sections,
  };
}
