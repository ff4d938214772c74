// Encoding and decoding of record bodies (layout 2). Offsets come from layout.ts; the record header
// (kind, flags, index, seq, CRC) is written by slots.ts or by the hot path, never here.
import {
  ALLOC, CNT, CTRL, IF, MAX_REGISTRANTS, MAX_SAVED_FEATURES, NQN_FIELD, NQN_MAX_BYTES, NS, QP, QP_DDGST, QP_HDGST,
  REC, REGISTRANT_SIZE, RESV,
} from './layout.js';
import type {
  ControllerRecord, CounterRecord, InflightRecord, InflightStage, NamespaceIdentity, QpairRecord, ReservationRecord,
} from './types.js';

export function writeString(buf: Buffer, off: number, lengthOff: number, s: string, what: string): void {
  const n = Buffer.byteLength(s, 'utf8');
  if (n > NQN_MAX_BYTES) throw new RangeError(`${what} is ${n} bytes, at most ${NQN_MAX_BYTES} fit`);
  buf.writeUInt16LE(n, lengthOff);
  buf.write(s, off, n, 'utf8');
}

export function readString(buf: Buffer, off: number, lengthOff: number): string {
  const n = Math.min(buf.readUInt16LE(lengthOff), NQN_FIELD);
  return buf.toString('utf8', off, off + n);
}

function putBytes(buf: Buffer, off: number, b: Buffer, size: number, what: string): void {
  if (b.length !== size) throw new RangeError(`${what} must be ${size} bytes, got ${b.length}`);
  b.copy(buf, off);
}

function getBytes(buf: Buffer, off: number, size: number): Buffer {
  return Buffer.from(buf.subarray(off, off + size));
}

export function encodeNamespace(buf: Buffer, off: number, ns: NamespaceIdentity): void {
  buf.writeUInt32LE(ns.nsid, off + NS.NSID);
  buf.writeUInt32LE(ns.blockSize, off + NS.BLOCK_SIZE);
  buf.writeDoubleLE(ns.size, off + NS.SIZE);
  putBytes(buf, off + NS.UUID, ns.uuid, 16, 'uuid');
  putBytes(buf, off + NS.NGUID, ns.nguid, 16, 'nguid');
  putBytes(buf, off + NS.EUI64, ns.eui64, 8, 'eui64');
}

export function decodeNamespace(buf: Buffer, off: number): NamespaceIdentity {
  return {
    nsid: buf.readUInt32LE(off + NS.NSID),
    blockSize: buf.readUInt32LE(off + NS.BLOCK_SIZE),
    size: buf.readDoubleLE(off + NS.SIZE),
    uuid: getBytes(buf, off + NS.UUID, 16),
    nguid: getBytes(buf, off + NS.NGUID, 16),
    eui64: getBytes(buf, off + NS.EUI64, 8),
  };
}

export function encodeAllocator(buf: Buffer, off: number, next: number): void {
  buf.writeUInt32LE(next, off + ALLOC.NEXT_CNTLID);
}

export function decodeAllocator(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + ALLOC.NEXT_CNTLID);
}

export function encodeCounters(buf: Buffer, off: number, c: CounterRecord): void {
  buf.writeDoubleLE(c.dataUnitsRead, off + CNT.DATA_UNITS_READ);
  buf.writeDoubleLE(c.dataUnitsWritten, off + CNT.DATA_UNITS_WRITTEN);
  buf.writeDoubleLE(c.hostReadCommands, off + CNT.HOST_READ_COMMANDS);
  buf.writeDoubleLE(c.hostWriteCommands, off + CNT.HOST_WRITE_COMMANDS);
}

export function decodeCounters(buf: Buffer, off: number): CounterRecord {
  return {
    dataUnitsRead: buf.readDoubleLE(off + CNT.DATA_UNITS_READ),
    dataUnitsWritten: buf.readDoubleLE(off + CNT.DATA_UNITS_WRITTEN),
    hostReadCommands: buf.readDoubleLE(off + CNT.HOST_READ_COMMANDS),
    hostWriteCommands: buf.readDoubleLE(off + CNT.HOST_WRITE_COMMANDS),
  };
}

export function encodeController(buf: Buffer, off: number, c: ControllerRecord): void {
  if (c.savedFeatures.length > MAX_SAVED_FEATURES) {
    throw new RangeError(`at most ${MAX_SAVED_FEATURES} saved features fit, got ${c.savedFeatures.length}`);
  }
  buf.writeUInt16LE(c.cntlid, off + CTRL.CNTLID);
  buf.writeUInt32LE(c.katoMs >>> 0, off + CTRL.KATO_MS);
  buf.writeUInt32LE(c.aenConfig >>> 0, off + CTRL.AEN_CONFIG);
  buf.writeUInt32LE(c.cc >>> 0, off + CTRL.CC);
  buf.writeUInt32LE(c.csts >>> 0, off + CTRL.CSTS);
  buf.writeUInt32LE(c.savedFeatures.length, off + CTRL.SAVED_FEATURE_COUNT);
  buf.writeDoubleLE(c.lastSeenMs, off + CTRL.LAST_SEEN_MS);
  buf.writeDoubleLE(c.createdMs, off + CTRL.CREATED_MS);
  putBytes(buf, off + CTRL.HOST_ID, c.hostId, 16, 'hostId');
  writeString(buf, off + CTRL.HOST_NQN, off + CTRL.HOST_NQN_LENGTH, c.hostNqn, 'host NQN');
  writeString(buf, off + CTRL.SUBNQN, off + CTRL.SUBNQN_LENGTH, c.subnqn, 'subsystem NQN');
  c.savedFeatures.forEach((f, i) => {
    buf.writeUInt32LE(f.fid >>> 0, off + CTRL.SAVED_FEATURES + i * 8);
    buf.writeUInt32LE(f.dword >>> 0, off + CTRL.SAVED_FEATURES + i * 8 + 4);
  });
}

export function decodeController(buf: Buffer, off: number): ControllerRecord {
  const n = Math.min(buf.readUInt32LE(off + CTRL.SAVED_FEATURE_COUNT), MAX_SAVED_FEATURES);
  const savedFeatures = [];
  for (let i = 0; i < n; i++) {
    savedFeatures.push({
      fid: buf.readUInt32LE(off + CTRL.SAVED_FEATURES + i * 8),
      dword: buf.readUInt32LE(off + CTRL.SAVED_FEATURES + i * 8 + 4),
    });
  }
  return {
    cntlid: buf.readUInt16LE(off + CTRL.CNTLID),
    hostNqn: readString(buf, off + CTRL.HOST_NQN, off + CTRL.HOST_NQN_LENGTH),
    hostId: getBytes(buf, off + CTRL.HOST_ID, 16),
    subnqn: readString(buf, off + CTRL.SUBNQN, off + CTRL.SUBNQN_LENGTH),
    katoMs: buf.readUInt32LE(off + CTRL.KATO_MS),
    aenConfig: buf.readUInt32LE(off + CTRL.AEN_CONFIG),
    cc: buf.readUInt32LE(off + CTRL.CC),
    csts: buf.readUInt32LE(off + CTRL.CSTS),
    savedFeatures,
    lastSeenMs: buf.readDoubleLE(off + CTRL.LAST_SEEN_MS),
    createdMs: buf.readDoubleLE(off + CTRL.CREATED_MS),
  };
}

export function encodeReservation(buf: Buffer, off: number, r: ReservationRecord): void {
  if (r.registrants.length > MAX_REGISTRANTS) {
    throw new RangeError(`at most ${MAX_REGISTRANTS} registrants fit, got ${r.registrants.length}`);
  }
  buf.writeUInt32LE(r.nsid, off + RESV.NSID);
  buf.writeUInt32LE(r.generation >>> 0, off + RESV.GENERATION);
  buf.writeUInt8(r.rtype, off + RESV.TYPE);
  buf.writeUInt8(r.ptpl ? 1 : 0, off + RESV.PTPL);
  buf.writeUInt8(r.registrants.length, off + RESV.REGISTRANT_COUNT);
  putBytes(buf, off + RESV.HOLDER_HOST_ID, r.holderHostId, 16, 'holderHostId');
  r.registrants.forEach((g, i) => {
    const at = off + RESV.REGISTRANTS + i * REGISTRANT_SIZE;
    putBytes(buf, at, g.hostId, 16, 'registrant hostId');
    buf.writeBigUInt64LE(g.key, at + 16);
  });
}

export function decodeReservation(buf: Buffer, off: number): ReservationRecord {
  const n = Math.min(buf.readUInt8(off + RESV.REGISTRANT_COUNT), MAX_REGISTRANTS);
  const registrants = [];
  for (let i = 0; i < n; i++) {
    const at = off + RESV.REGISTRANTS + i * REGISTRANT_SIZE;
    registrants.push({ hostId: getBytes(buf, at, 16), key: buf.readBigUInt64LE(at + 16) });
  }
  return {
    nsid: buf.readUInt32LE(off + RESV.NSID),
    generation: buf.readUInt32LE(off + RESV.GENERATION),
    rtype: buf.readUInt8(off + RESV.TYPE),
    ptpl: buf.readUInt8(off + RESV.PTPL) === 1,
    holderHostId: getBytes(buf, off + RESV.HOLDER_HOST_ID, 16),
    registrants,
  };
}

export function qpairFlags(q: QpairRecord): number {
  return (q.hdgst ? QP_HDGST : 0) | (q.ddgst ? QP_DDGST : 0);
}

export function encodeQpair(buf: Buffer, off: number, q: QpairRecord): void {
  buf.writeUInt16LE(q.cntlid, off + QP.CNTLID);
  buf.writeUInt16LE(q.qid, off + QP.QID);
  buf.writeUInt16LE(q.sqsize, off + QP.SQSIZE);
  buf.writeUInt16LE(q.sqhd, off + QP.SQHD);
  buf.writeUInt32LE(q.epoch >>> 0, off + QP.EPOCH);
}

export function decodeQpair(buf: Buffer, off: number): QpairRecord {
  const flags = buf.readUInt16LE(off + REC.FLAGS);
  return {
    cntlid: buf.readUInt16LE(off + QP.CNTLID),
    qid: buf.readUInt16LE(off + QP.QID),
    sqsize: buf.readUInt16LE(off + QP.SQSIZE),
    sqhd: buf.readUInt16LE(off + QP.SQHD),
    hdgst: (flags & QP_HDGST) !== 0,
    ddgst: (flags & QP_DDGST) !== 0,
    epoch: buf.readUInt32LE(off + QP.EPOCH),
  };
}

const STAGE_NAMES: Array<InflightStage | undefined> = [undefined, 'received', 'data-in', 'executing', 'done-but-unsent'];

/** Stage of an in-flight slot, or undefined when the slot is free or its stage byte is unknown. */
function stageName(code: number): InflightStage | undefined {
  return STAGE_NAMES[code];
}

export function decodeInflight(buf: Buffer, off: number, qpairSlot: number): InflightRecord | undefined {
  const stage = stageName(buf.readUInt8(off + IF.STAGE));
  if (!stage) return undefined;
  return {
    qpairSlot,
    cid: buf.readUInt16LE(off + IF.CID),
    opcode: buf.readUInt8(off + IF.OPCODE),
    nsid: buf.readUInt32LE(off + IF.NSID),
    slba: buf.readUInt32LE(off + IF.SLBA_LO) + buf.readUInt16LE(off + IF.SLBA_HI) * 2 ** 32,
    nlb: buf.readUInt16LE(off + IF.NLB),
    stage,
  };
}
