// Layout version 1, FROZEN: the previous shape of the state file, kept only so a file written by it
// can be migrated. Never edit these numbers; a new layout gets its own module.
//
// Layout 1 shares the frozen parts with every version: two 2048-byte header slots at 0 and 2048 with
// the record header (CRC32C of [4, 2048), kind 1, index 0, seq), magic "NVMEOFST" at 16 and the
// layout version at 24. It had no section table: sections sat at fixed offsets, controller records
// were smaller (no subsystem NQN, features, CC/CSTS, last-seen time), and there were no counters,
// reservations, qpairs or in-flight records.
import { NQN_FIELD, PAGE_SIZE, REC, type SectionPlacement } from './layout.js';
import { probeHeader } from './header.js';
import { TwoSlotSection } from './slots.js';
import { NEW_HEADER_SEED, type HeaderSeed } from './image.js';
import type { ControllerRecord, NamespaceIdentity, StateContents, SubsystemIdentity } from './types.js';
import { ZERO_COUNTERS } from './types.js';

export const V1_LAYOUT_VERSION = 1;

export const V1_HDR = {
  IDENTITY_DIGEST: 32, // 32 bytes
  BOOT_COUNT: 64, // u32
  CLEAN_SHUTDOWN: 68, // u32
  OUTCOME_FRESH: 72, // u32
  OUTCOME_CLEAN: 76, // u32
  OUTCOME_RESTORED: 80, // u32
  NAMESPACE_COUNT: 84, // u32
  CONTROLLER_COUNT: 88, // u32
} as const;

export const V1_KIND = { NAMESPACE: 2, ALLOCATOR: 3, CONTROLLER: 5 } as const;

export const V1_NS_OFFSET = 4096;
export const V1_NS_SIZE = 80;
export const V1_NS = { NSID: 16, BLOCK_SIZE: 20, SIZE: 24, UUID: 32, NGUID: 48, EUI64: 64 } as const; // SIZE f64

export const V1_ALLOC_OFFSET = 8192;
export const V1_ALLOC_SIZE = 32;
export const V1_ALLOC = { NEXT_CNTLID: 16 } as const;

export const V1_CTRL_OFFSET = 12288;
export const V1_CTRL_SIZE = 272;
export const V1_CTRL = { CNTLID: 16, KATO_MS: 20, HOST_ID: 24, HOST_NQN_LENGTH: 40, HOST_NQN: 48 } as const;
export const V1_CTRL_LIVE = 1; // REC.FLAGS bit

export function v1Sections(namespaces: number, controllers: number): { ns: SectionPlacement; alloc: SectionPlacement; ctrl: SectionPlacement } {
  return {
    ns: { kind: V1_KIND.NAMESPACE, slots: 2, recordSize: V1_NS_SIZE, count: namespaces, offset: V1_NS_OFFSET },
    alloc: { kind: V1_KIND.ALLOCATOR, slots: 2, recordSize: V1_ALLOC_SIZE, count: 1, offset: V1_ALLOC_OFFSET },
    ctrl: { kind: V1_KIND.CONTROLLER, slots: 2, recordSize: V1_CTRL_SIZE, count: controllers, offset: V1_CTRL_OFFSET },
  };
}

export function v1FileSize(controllers: number): number {
  return Math.ceil((V1_CTRL_OFFSET + controllers * 2 * V1_CTRL_SIZE) / PAGE_SIZE) * PAGE_SIZE;
}

export interface V1Image {
  identityDigest: Buffer;
  seed: HeaderSeed;
  contents: StateContents;
  /** Namespaces as layout 1 recorded them (contents.namespaces holds the same). */
  namespaces: NamespaceIdentity[];
}

/**
 * Reads a layout-1 image into the layout-independent contents. Controllers get the migration time as
 * their last-seen time, so each keeps its full controller-loss time to come back; fields layout 1
 * did not have take reset values.
 */
export function parseV1Image(buf: Buffer, identity: SubsystemIdentity, nowMs: number): { ok: true; image: V1Image } | { ok: false; problem: string } {
  const probe = probeHeader(buf);
  if (!probe.ok) return { ok: false, problem: probe.problem };
  if (probe.layoutVersion !== V1_LAYOUT_VERSION) return { ok: false, problem: `layout version ${probe.layoutVersion}, expected 1` };
  const h = probe.off;
  const nsCount = buf.readUInt32LE(h + V1_HDR.NAMESPACE_COUNT);
  const ctrlCount = buf.readUInt32LE(h + V1_HDR.CONTROLLER_COUNT);
  if (buf.length < v1FileSize(ctrlCount) || V1_NS_OFFSET + nsCount * 2 * V1_NS_SIZE > V1_ALLOC_OFFSET) {
    return { ok: false, problem: `truncated layout-1 file: ${buf.length} bytes` };
  }
  const secs = v1Sections(nsCount, ctrlCount);
  const ns = new TwoSlotSection(secs.ns);
  const alloc = new TwoSlotSection(secs.alloc);
  const ctrl = new TwoSlotSection(secs.ctrl);
  for (const [name, sec] of [['namespace', ns], ['allocator', alloc], ['controller', ctrl]] as const) {
    const l = sec.load(buf);
    if (l.damaged.length) return { ok: false, problem: `layout-1 ${name} record ${l.damaged[0]}: both slots damaged` };
  }
  const namespaces: NamespaceIdentity[] = [];
  for (let i = 0; i < nsCount; i++) {
    const off = ns.current(i);
    if (off < 0) return { ok: false, problem: `layout-1 namespace record ${i} missing` };
    namespaces.push({
      nsid: buf.readUInt32LE(off + V1_NS.NSID),
      blockSize: buf.readUInt32LE(off + V1_NS.BLOCK_SIZE),
      size: buf.readDoubleLE(off + V1_NS.SIZE),
      uuid: Buffer.from(buf.subarray(off + V1_NS.UUID, off + V1_NS.UUID + 16)),
      nguid: Buffer.from(buf.subarray(off + V1_NS.NGUID, off + V1_NS.NGUID + 16)),
      eui64: Buffer.from(buf.subarray(off + V1_NS.EUI64, off + V1_NS.EUI64 + 8)),
    });
  }
  const allocOff = alloc.current(0);
  if (allocOff < 0) return { ok: false, problem: 'layout-1 allocator record missing' };
  const controllers: StateContents['controllers'] = [];
  for (let i = 0; i < ctrlCount; i++) {
    const off = ctrl.current(i);
    if (off < 0 || !(buf.readUInt16LE(off + REC.FLAGS) & V1_CTRL_LIVE)) continue;
    const record: ControllerRecord = {
      cntlid: buf.readUInt16LE(off + V1_CTRL.CNTLID),
      hostNqn: buf.toString('utf8', off + V1_CTRL.HOST_NQN, off + V1_CTRL.HOST_NQN + Math.min(buf.readUInt16LE(off + V1_CTRL.HOST_NQN_LENGTH), NQN_FIELD)),
      hostId: Buffer.from(buf.subarray(off + V1_CTRL.HOST_ID, off + V1_CTRL.HOST_ID + 16)),
      subnqn: identity.nqn,
      katoMs: buf.readUInt32LE(off + V1_CTRL.KATO_MS),
      aenConfig: 0,
      cc: 0,
      csts: 0,
      savedFeatures: [],
      lastSeenMs: nowMs,
      createdMs: nowMs,
    };
    controllers.push({ slot: i, record });
  }
  const seed: HeaderSeed = {
    ...NEW_HEADER_SEED,
    bootCount: buf.readUInt32LE(h + V1_HDR.BOOT_COUNT),
    cleanShutdown: buf.readUInt32LE(h + V1_HDR.CLEAN_SHUTDOWN) === 1,
    outcomes: {
      fresh: buf.readUInt32LE(h + V1_HDR.OUTCOME_FRESH),
      clean: buf.readUInt32LE(h + V1_HDR.OUTCOME_CLEAN),
      restored: buf.readUInt32LE(h + V1_HDR.OUTCOME_RESTORED),
      corrupt: 0,
    },
  };
  return {
    ok: true,
    image: {
      identityDigest: Buffer.from(buf.subarray(h + V1_HDR.IDENTITY_DIGEST, h + V1_HDR.IDENTITY_DIGEST + 32)),
      seed,
      namespaces,
      contents: {
        namespaces,
        cntlidNext: buf.readUInt32LE(allocOff + V1_ALLOC.NEXT_CNTLID),
        counters: { ...ZERO_COUNTERS },
        controllers,
        reservations: [],
        qpairs: [],
        inflight: [],
      },
    },
  };
}
