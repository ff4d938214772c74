import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALLOC, ALLOC_SIZE, CNT, CNT_SIZE, CTRL, CTRL_SIZE, HDR, HEADER_REGION_SIZE, HEADER_SLOT_SIZE, IF, IF_SIZE,
  MAX_REGISTRANTS, MAX_SAVED_FEATURES, MAX_SECTIONS, NQN_FIELD, NS, NS_SIZE, PAGE_SIZE, QP, QP_SIZE, REC_HEADER_SIZE,
  REGISTRANT_SIZE, RESV, RESV_SIZE, SECTION_ENTRY_SIZE, fileSizeFor, planSections, sectionBytes, slotOffset,
} from './layout.js';
import { DEFAULT_CAPACITY } from './types.js';

// Field widths, to check that no two fields of a record overlap and that all fit the record.
function checkFields(name: string, fields: Record<string, number>, widths: Record<string, number>, size: number) {
  const spans = Object.entries(fields).map(([k, off]) => {
    const w = widths[k];
    assert.ok(w !== undefined, `${name}.${k} has no width in the test`);
    return [off, off + w, k] as const;
  }).sort((a, b) => a[0] - b[0]);
  assert.ok(spans[0][0] >= REC_HEADER_SIZE, `${name} overlaps the record header`);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], `${name}.${spans[i][2]} overlaps ${spans[i - 1][2]}`);
  assert.ok(spans[spans.length - 1][1] <= size, `${name} exceeds ${size} bytes`);
}

test('record fields do not overlap and fit their record sizes', () => {
  checkFields('NS', NS, { NSID: 4, BLOCK_SIZE: 4, SIZE: 8, UUID: 16, NGUID: 16, EUI64: 8 }, NS_SIZE);
  checkFields('ALLOC', ALLOC, { NEXT_CNTLID: 4 }, ALLOC_SIZE);
  checkFields('CNT', CNT, { DATA_UNITS_READ: 8, DATA_UNITS_WRITTEN: 8, HOST_READ_COMMANDS: 8, HOST_WRITE_COMMANDS: 8 }, CNT_SIZE);
  checkFields('CTRL', CTRL, {
    CNTLID: 2, KATO_MS: 4, AEN_CONFIG: 4, CC: 4, CSTS: 4, SAVED_FEATURE_COUNT: 4, LAST_SEEN_MS: 8, CREATED_MS: 8, HOST_ID: 16,
    HOST_NQN_LENGTH: 2, SUBNQN_LENGTH: 2, HOST_NQN: NQN_FIELD, SUBNQN: NQN_FIELD, SAVED_FEATURES: MAX_SAVED_FEATURES * 8,
  }, CTRL_SIZE);
  checkFields('RESV', RESV, {
    NSID: 4, GENERATION: 4, TYPE: 1, PTPL: 1, REGISTRANT_COUNT: 1, HOLDER_HOST_ID: 16, REGISTRANTS: MAX_REGISTRANTS * REGISTRANT_SIZE,
  }, RESV_SIZE);
  checkFields('QP', QP, { CNTLID: 2, QID: 2, SQSIZE: 2, SQHD: 2, EPOCH: 4 }, QP_SIZE);
  checkFields('IF', IF, { CID: 2, OPCODE: 1, STAGE: 1, NSID: 4, SLBA_LO: 4, SLBA_HI: 2, NLB: 2 }, IF_SIZE);
  checkFields('HDR', HDR, {
    MAGIC: 8, VERSION: 4, FILE_SIZE: 8, IDENTITY_DIGEST: 32, BOOT_COUNT: 4, CLEAN_SHUTDOWN: 4, BOOT_ID: 48, OUTCOME_FRESH: 4,
    OUTCOME_CLEAN: 4, OUTCOME_RESTORED: 4, OUTCOME_CORRUPT: 4, LAST_OUTCOME: 4, LAST_RESTORED_CONTROLLERS: 4,
    LAST_STARTED_AT_MS: 8, LAST_DURATION_MS: 8, LAST_INFLIGHT_ABANDONED: 4, LAST_INFLIGHT_FOUND: 4, INFLIGHT_ABANDONED_TOTAL: 8,
    CAP_CONTROLLERS: 4, CAP_QPAIRS: 4, CAP_INFLIGHT_PER_QPAIR: 4, CAP_NAMESPACES: 4, NQN_LENGTH: 4, NQN: NQN_FIELD,
    SECTION_COUNT: 8, SECTION_TABLE: MAX_SECTIONS * SECTION_ENTRY_SIZE,
  }, HEADER_SLOT_SIZE);
});

test('the hot-path records are 32 bytes and word aligned, so the word-wise CRC covers them', () => {
  assert.equal(IF_SIZE, 32);
  assert.equal(QP_SIZE, 32);
  for (const off of Object.values(IF)) assert.ok(off < IF_SIZE);
});

test('sections start on page boundaries after the header and do not overlap', () => {
  const plan = planSections(DEFAULT_CAPACITY, 3);
  let end = HEADER_REGION_SIZE;
  for (const s of plan) {
    assert.equal(s.offset % PAGE_SIZE, 0);
    assert.ok(s.offset >= end, `section ${s.kind} overlaps the previous one`);
    end = s.offset + sectionBytes(s);
  }
  assert.ok(fileSizeFor(plan) >= end);
  assert.equal(fileSizeFor(plan) % PAGE_SIZE, 0);
});

test('the two slots of a record are adjacent; one-slot records are packed', () => {
  const [ns] = planSections(DEFAULT_CAPACITY, 2);
  assert.equal(slotOffset(ns, 0, 1) - slotOffset(ns, 0, 0), NS_SIZE);
  assert.equal(slotOffset(ns, 1, 0) - slotOffset(ns, 0, 0), 2 * NS_SIZE);
  const inflight = planSections(DEFAULT_CAPACITY, 2)[6];
  assert.equal(inflight.slots, 1);
  assert.equal(slotOffset(inflight, 5, 0) - slotOffset(inflight, 4, 0), IF_SIZE);
});

test('file size for the default capacities and one namespace', () => {
  const size = fileSizeFor(planSections(DEFAULT_CAPACITY, 1));
  // header 4 KiB + namespace, allocator, counters 4 KiB each + 64 controllers x 2 x 656 B (84 KiB)
  // + reservation 4 KiB + 256 qpairs x 32 B (8 KiB) + 256 x 128 in-flight x 32 B (1 MiB)
  assert.equal(size, 4096 * 4 + 86016 + 4096 + 8192 + 1048576); // 1163264 bytes, 1.11 MiB
});
