// The state store of one subsystem: openStateFile() waits for the lock, validates, migrates or sets
// aside, maps the file and returns a StateFile with what the previous process left and the update API.
//
// Durability:
//   process  two-slot writes are plain stores into the MAP_SHARED mapping: the page cache keeps them
//            through a kill of the process or pod (not through a node crash).
//   node     every two-slot write (header, allocator, controllers and their saved features,
//            reservations, counters) is followed by msync(MS_SYNC) of the pages it touched before the
//            call returns, so what a command changed is on disk before it completes. Never per I/O:
//            qpair and in-flight stores are not synced in either mode.
// A clean shutdown (markCleanShutdown) syncs the whole file in both modes.
import { closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { HEADER_SECTION, CTRL_LIVE } from './layout.js';
import { encodeHeader } from './header.js';
import { parseImage, type FileSections, type ParsedImage } from './image.js';
import { encodeAllocator, encodeController, encodeCounters, encodeReservation } from './records.js';
import { TwoSlotSection } from './slots.js';
import { acquireLock, type LockWaitInfo, type StateLock } from './lock.js';
import { mapShared, msyncRange } from './mmap.js';
import { readBootId } from './files.js';
import { prepareFile, StateFileError, type Prepared } from './prepare.js';
import { nextCntlid } from './recovery-policy.js';
import type { NamespaceChanges } from './namespace-changes.js';
import { ConnectionRecords } from './connection-records.js';
import {
  DEFAULT_CAPACITY, type Capacity, type ControllerRecord, type CounterRecord, type HeaderRecord, type InflightRecord,
  type NamespaceIdentity, type QpairRecord, type RecoveryOutcome, type ReservationRecord, type StateDurability,
  type StateLog, type SubsystemIdentity,
} from './types.js';

export { StateFileError };

export interface OpenStateFileOptions {
  /** e.g. <hostPath>/<namespace>/<name>/state.bin; the directory is created when missing. */
  path: string;
  identity: SubsystemIdentity;
  durability: StateDurability;
  capacity?: Partial<Capacity>;
  /** The node's boot id; read from /proc/sys/kernel/random/boot_id when absent. */
  bootId?: string;
  log: StateLog;
  /** Called once when the lock is held by another process and open() starts waiting for it. */
  onWaitingForLock?: (info: LockWaitInfo) => void;
  lockPollMs?: number;
  /** Aborts waiting for the lock. */
  signal?: AbortSignal;
  /** Clock in Unix ms (tests). */
  now?: () => number;
}

/** What the previous process left, as found at open. */
export interface RestoredState {
  outcome: RecoveryOutcome;
  /** Why the previous file was set aside (outcome corrupt), and where it went. */
  corruptReason?: string;
  asidePath?: string;
  /** Layout version the file was migrated from. */
  migratedFrom?: number;
  /** The file was this NQN's with another namespace set: what changed (the state was kept). */
  namespaceChanges?: NamespaceChanges;
  namespaces: NamespaceIdentity[];
  /** Live controllers, by their slot in the file now open. */
  controllers: Array<{ slot: number; record: ControllerRecord }>;
  droppedForCapacity: ControllerRecord[];
  cntlidNext: number;
  counters: CounterRecord;
  reservations: ReservationRecord[];
  /** Qpairs and in-flight commands of the previous process (their records are cleared at open). */
  qpairs: Array<{ slot: number; record: QpairRecord }>;
  inflight: InflightRecord[];
  /** Records damaged or cut short (a qpair record mid-write, a page of in-flight records half written back before a node crash): detected by CRC or check word, contents unknown. */
  unknownQpairs: number;
  unknownInflight: number;
  /** Two-slot records whose newer write was cut short (their previous version was used). */
  tornSlots: number;
  previousBootId?: string;
  /** The node rebooted since the previous open (boot ids differ). */
  nodeRebooted: boolean;
  /** Boot count after this open. */
  bootCount: number;
}

/** Bounds the in-flight section at 32 MiB. */
export const MAX_INFLIGHT_RECORDS = 1 << 20;

export function normalizeCapacity(c: Partial<Capacity> | undefined): Capacity {
  const cap = { ...DEFAULT_CAPACITY, ...c };
  for (const [k, v] of Object.entries(cap)) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) throw new RangeError(`capacity.${k} must be an integer in [1, 65535], got ${v}`);
  }
  if (cap.qpairs * cap.inflightPerQpair > MAX_INFLIGHT_RECORDS) {
    throw new RangeError(`capacity.qpairs x capacity.inflightPerQpair must be at most ${MAX_INFLIGHT_RECORDS}`);
  }
  return cap;
}

export async function openStateFile(o: OpenStateFileOptions): Promise<StateFile> {
  const now = o.now ?? Date.now;
  const capacity = normalizeCapacity(o.capacity);
  const bootId = o.bootId ?? readBootId();
  mkdirSync(dirname(o.path), { recursive: true });
  const lock = await acquireLock(`${o.path}.lock`, { log: o.log, onWaiting: o.onWaitingForLock, pollMs: o.lockPollMs, signal: o.signal });
  let fd = -1;
  try {
    const openedAtMs = now();
    const prepared = prepareFile(o.path, o.identity, capacity, openedAtMs, o.log);
    fd = openSync(o.path, 'r+');
    const buf = mapShared(fd, fstatSync(fd).size);
    const parsed = parseImage(buf);
    if (!parsed.ok) throw new StateFileError('unreadable-after-write', `${o.path}: ${parsed.problem} right after writing it`);
    return new StateFile(o, buf, fd, lock, parsed.image, prepared, bootId, openedAtMs, now);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    lock.release();
    throw e;
  }
}

const SLOT_FREE = 0;
const SLOT_ALLOCATED = 1; // handed out by allocateControllerSlot, not yet written
const SLOT_LIVE = 2;

export class StateFile {
  readonly path: string;
  readonly durability: StateDurability;
  readonly restored: RestoredState;
  readonly capacity: Capacity;
  /** Qpair and in-flight records: the I/O path (plain stores, no system call). */
  readonly connections: ConnectionRecords;
  /** In-memory counters; countIo() adds, flushCounters() persists. */
  readonly counters: CounterRecord;
  readonly openedAtMs: number;

  private buf: Buffer;
  private readonly hdr = new TwoSlotSection(HEADER_SECTION);
  private readonly sections: FileSections;
  private readonly head: HeaderRecord;
  private readonly ctrls: Array<ControllerRecord | undefined>;
  private readonly slotUse: Uint8Array;
  private cntlidNext: number;
  private readonly resv = new Map<number, ReservationRecord>();
  private readonly nsIndex = new Map<number, number>();
  private countersDirty = false;
  private flushTimer?: NodeJS.Timeout;
  private closed = false;

  /** @internal use openStateFile */
  constructor(
    o: OpenStateFileOptions, buf: Buffer, private readonly fd: number, private readonly lock: StateLock,
    image: ParsedImage, prepared: Prepared, bootId: string, openedAtMs: number, private readonly now: () => number,
  ) {
    this.path = o.path;
    this.durability = o.durability;
    this.buf = buf;
    this.openedAtMs = openedAtMs;
    this.sections = image.sections;
    this.hdr.load(buf);
    this.head = image.header;
    const c = image.header.capacity;
    this.capacity = { controllers: c.controllers, qpairs: c.qpairs, inflightPerQpair: c.inflightPerQpair };
    this.ctrls = new Array(c.controllers).fill(undefined);
    this.slotUse = new Uint8Array(c.controllers);
    for (const { slot, record } of image.contents.controllers) {
      this.ctrls[slot] = record;
      this.slotUse[slot] = SLOT_LIVE;
    }
    this.cntlidNext = image.contents.cntlidNext;
    this.counters = { ...image.contents.counters };
    image.contents.namespaces.forEach((ns, i) => this.nsIndex.set(ns.nsid, i));
    for (const r of image.contents.reservations) this.resv.set(r.nsid, r);
    this.connections = new ConnectionRecords(buf, image.sections.qpairs, image.sections.inflight, c.inflightPerQpair);

    // Count this start before clearing what the previous process left: a kill in between then
    // leaves that to be reported again, never an uncounted start.
    const d = prepared.decision;
    const outcome = d.outcome;
    this.head.bootCount = (this.head.bootCount + 1) >>> 0;
    this.head.bootId = bootId;
    this.head.cleanShutdown = false;
    this.head.outcomes[outcome] += 1;
    this.writeHeader();
    this.connections.clearAll();
    if (this.durability === 'node') msyncRange(buf, 0, buf.length);

    this.restored = {
      outcome,
      corruptReason: d.action === 'set-aside' ? d.reason : undefined,
      asidePath: prepared.asidePath,
      migratedFrom: prepared.migratedFrom,
      namespaceChanges: d.action === 'set-aside' || d.action === 'create' ? undefined : d.namespaceChanges,
      namespaces: image.contents.namespaces,
      controllers: image.contents.controllers.map((x) => ({ slot: x.slot, record: x.record })),
      droppedForCapacity: prepared.droppedForCapacity,
      cntlidNext: image.contents.cntlidNext,
      counters: { ...image.contents.counters },
      reservations: [...image.contents.reservations],
      qpairs: prepared.contents.qpairs,
      inflight: prepared.contents.inflight,
      unknownQpairs: prepared.unknownQpairs,
      unknownInflight: prepared.unknownInflight,
      tornSlots: prepared.tornSlots,
      previousBootId: prepared.previousBootId,
      nodeRebooted: prepared.previousBootId !== undefined && prepared.previousBootId !== bootId,
      bootCount: this.head.bootCount,
    };
    o.log.info('state file opened', {
      path: this.path, outcome, bootCount: this.head.bootCount, controllers: this.restored.controllers.length,
      inflight: this.restored.inflight.length, unknownInflight: this.restored.unknownInflight,
      tornSlots: this.restored.tornSlots, nodeRebooted: this.restored.nodeRebooted, durability: this.durability,
    });
  }

  get outcome(): RecoveryOutcome {
    return this.restored.outcome;
  }

  /** A copy of the current header. */
  get header(): HeaderRecord {
    const h = this.head;
    return { ...h, outcomes: { ...h.outcomes }, last: h.last ? { ...h.last } : null, capacity: { ...h.capacity }, sections: h.sections.map((s) => ({ ...s })) };
  }

  // ---- header ----

  /**
   * Records the recovery that just finished (process start to serving) in the header, for /recovery
   * and the metrics. `startedAtMs` defaults to when open() ran.
   */
  recordRecovery(outcome: RecoveryOutcome, durationMs: number, restoredControllers: number, inflightAbandoned: number, startedAtMs = this.openedAtMs): void {
    this.assertOpen();
    this.head.last = {
      outcome, startedAtMs, durationMs, restoredControllers, inflightAbandoned,
      inflightFound: this.restored.inflight.length + this.restored.unknownInflight,
    };
    this.head.inflightAbandonedTotal += inflightAbandoned;
    this.writeHeader();
  }

  /** The last call before close() on SIGTERM: flushes counters, sets the clean flag, syncs the file. */
  markCleanShutdown(): void {
    this.assertOpen();
    this.flushCounters();
    this.head.cleanShutdown = true;
    this.writeHeader();
    msyncRange(this.buf, 0, this.buf.length);
  }

  // ---- controllers ----

  /** A free controller slot, reserved until written or freed; -1 when all are taken. */
  allocateControllerSlot(): number {
    this.assertOpen();
    const slot = this.slotUse.indexOf(SLOT_FREE);
    if (slot >= 0) this.slotUse[slot] = SLOT_ALLOCATED;
    return slot;
  }

  /** Stores a controller (a new one, or new CC/CSTS, features, ...). Synced in durability node. */
  writeController(slot: number, record: ControllerRecord): void {
    this.assertOpen();
    this.checkSlot(slot);
    const off = this.sections.controllers.write(this.buf, slot, CTRL_LIVE, (b, o) => encodeController(b, o, record));
    this.ctrls[slot] = { ...record, hostId: Buffer.from(record.hostId), savedFeatures: record.savedFeatures.map((f) => ({ ...f })) };
    this.slotUse[slot] = SLOT_LIVE;
    this.persist(off, this.sections.controllers.sec.recordSize);
  }

  /** The host was heard from (Connect, Keep Alive): call at most every few seconds, not per command. */
  touchController(slot: number, lastSeenMs = this.now()): void {
    const c = this.liveRecord(slot);
    this.writeController(slot, { ...c, lastSeenMs });
  }

  /** Set Features with SV = 1: the saved value persists with the controller. */
  saveFeature(slot: number, fid: number, dword: number): void {
    const c = this.liveRecord(slot);
    const savedFeatures = c.savedFeatures.filter((f) => f.fid !== fid).concat([{ fid, dword }]);
    this.writeController(slot, { ...c, savedFeatures });
  }

  /** Frees a slot (controller deleted, or dropped after the controller-loss time). */
  freeControllerSlot(slot: number): void {
    this.assertOpen();
    this.checkSlot(slot);
    if (this.slotUse[slot] === SLOT_LIVE) {
      const off = this.sections.controllers.write(this.buf, slot, 0, () => {});
      this.persist(off, this.sections.controllers.sec.recordSize);
    }
    this.ctrls[slot] = undefined;
    this.slotUse[slot] = SLOT_FREE;
  }

  controller(slot: number): ControllerRecord | undefined {
    return this.ctrls[slot];
  }

  liveControllers(): Array<{ slot: number; record: ControllerRecord }> {
    const out = [];
    for (let i = 0; i < this.ctrls.length; i++) {
      const r = this.ctrls[i];
      if (r) out.push({ slot: i, record: r });
    }
    return out;
  }

  /**
   * The next cntlid (recovery-policy.ts nextCntlid): the allocator record is stored (and synced in
   * durability node) before the cntlid is returned, so no cntlid a host was given is handed out again
   * after a restart.
   */
  allocateCntlid(): number {
    this.assertOpen();
    const live = new Set<number>();
    for (const r of this.ctrls) if (r) live.add(r.cntlid);
    const n = nextCntlid(this.cntlidNext, live);
    if (!n) throw new RangeError('no free cntlid: every cntlid is held by a live controller');
    this.cntlidNext = n.next;
    const off = this.sections.allocator.write(this.buf, 0, 0, (b, o) => encodeAllocator(b, o, n.next));
    this.persist(off, this.sections.allocator.sec.recordSize);
    return n.cntlid;
  }

  // ---- counters ----

  /** In memory only (no store into the file): a completed read or write of `bytes`. */
  countIo(write: boolean, bytes: number): void {
    if (write) {
      this.counters.dataUnitsWritten += bytes / 512;
      this.counters.hostWriteCommands++;
    } else {
      this.counters.dataUnitsRead += bytes / 512;
      this.counters.hostReadCommands++;
    }
    this.countersDirty = true;
  }

  /** Replaces the in-memory counters (e.g. values computed elsewhere); persisted at the next flush. */
  setCounters(c: CounterRecord): void {
    Object.assign(this.counters, c);
    this.countersDirty = true;
  }

  /** Persists the counters if they changed since the last flush. */
  flushCounters(): void {
    this.assertOpen();
    if (!this.countersDirty) return;
    this.countersDirty = false;
    const c = this.counters;
    const off = this.sections.counters.write(this.buf, 0, 0, (b, o) => encodeCounters(b, o, c));
    this.persist(off, this.sections.counters.sec.recordSize);
  }

  /** Flushes counters every `intervalMs` until close(). */
  startCounterFlush(intervalMs = 60_000): void {
    this.assertOpen();
    clearInterval(this.flushTimer);
    this.flushTimer = setInterval(() => this.flushCounters(), intervalMs);
    this.flushTimer.unref();
  }

  // ---- reservations ----

  reservation(nsid: number): ReservationRecord | undefined {
    return this.resv.get(nsid);
  }

  /**
   * Stores a namespace's reservation state, synced in durability node and whenever `sync` asks (a
   * namespace with Persist Through Power Loss on keeps its reservations through a crash of the node).
   */
  writeReservation(r: ReservationRecord, o: { sync?: boolean } = {}): void {
    this.assertOpen();
    const i = this.nsIndex.get(r.nsid);
    if (i === undefined) throw new RangeError(`no namespace ${r.nsid} in this state file`);
    const off = this.sections.reservations.write(this.buf, i, 0, (b, o) => encodeReservation(b, o, r));
    this.resv.set(r.nsid, { ...r, holderHostId: Buffer.from(r.holderHostId), registrants: r.registrants.map((g) => ({ ...g })) });
    this.persist(off, this.sections.reservations.sec.recordSize, o.sync);
  }

  // ---- lifecycle ----

  /** Flushes counters, stops hot-path stores, releases the lock. The mapping goes when collected. */
  close(): void {
    if (this.closed) return;
    this.flushCounters();
    clearInterval(this.flushTimer);
    this.closed = true;
    this.connections.detach();
    this.buf = Buffer.alloc(0);
    closeSync(this.fd);
    this.lock.release();
  }

  private writeHeader(): void {
    const off = this.hdr.write(this.buf, 0, 0, (b, o) => encodeHeader(b, o, this.head));
    this.persist(off, HEADER_SECTION.recordSize);
  }

  private persist(off: number, len: number, sync = false): void {
    if (sync || this.durability === 'node') msyncRange(this.buf, off, len);
  }

  private liveRecord(slot: number): ControllerRecord {
    this.checkSlot(slot);
    const c = this.ctrls[slot];
    if (!c) throw new RangeError(`controller slot ${slot} holds no controller`);
    return c;
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.ctrls.length) throw new RangeError(`controller slot ${slot} out of range`);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`state file ${this.path} is closed`);
  }
}
