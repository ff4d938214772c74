// Random commands in well-formed capsules: every opcode, odd fields, wrong lengths, bad LBAs, unknown
// namespaces. None of them is a transport error, so the controller answers each with exactly one
// completion and keeps the connection. Two exceptions are kept out on purpose: Asynchronous Event Request
// (answered only when an event happens) and Disconnect (ends the queue); Set Features of the keep-alive
// timer keeps KATO 0 so an idle moment never expires the controller; nothing writes namespace 2, which
// belongs to the healthy connection.
import { AdminOpc, FabricsType, FeatureId, IoOpc, LogId } from '../../target/protocol/opcodes.js';
import { SQE } from '../../target/protocol/sqe.js';
import { Prop } from '../../target/protocol/properties.js';
import { buildSqe } from '../../target/protocol/sqe.js';
import { PropertySqe } from '../host/commands.js';
import type { Rng } from './rng.js';

export interface RandomCommand {
  sqe: Buffer;
  /** Data carried in the capsule (SGL type in-capsule). */
  inCapsule?: Buffer;
  /** Otherwise the transport SGL length (data moves by R2T/H2CData or C2HData). */
  transferLen: number;
}

const FUZZ_NSIDS = [0, 1, 1, 1, 1, 3, 0xffffffff, 0xfffffffe, 1024, 1025];

function nsid(rng: Rng): number {
  if (rng.chance(0.05)) {
    const n = rng.u32();
    return n === 2 ? 1 : n;
  }
  return rng.pick(FUZZ_NSIDS);
}

function oddLength(rng: Rng, usual: number): number {
  return rng.weighted([[85, usual], [5, 0], [5, rng.range(1, 64) * 4], [5, rng.range(1, 16384)]]);
}

function fabrics(rng: Rng): RandomCommand {
  const fctype = rng.weighted([[5, FabricsType.PropertyGet], [2, FabricsType.PropertySet], [1, FabricsType.Connect], [1, FabricsType.AuthSend], [1, FabricsType.AuthReceive], [1, rng.int(256)]]);
  if (fctype === FabricsType.Disconnect) return fabrics(rng);
  const sqe = buildSqe({ opc: AdminOpc.Fabrics, cid: 0, fctype });
  if (fctype === FabricsType.PropertyGet || fctype === FabricsType.PropertySet) {
    sqe[PropertySqe.ATTRIB] = rng.chance(0.8) ? rng.int(2) : rng.int(256);
    sqe.writeUInt32LE(rng.chance(0.9) ? rng.pick([Prop.CAP, Prop.VS, Prop.CC, Prop.CSTS, Prop.NSSR]) : rng.u32(), PropertySqe.OFFSET);
    // CC changes are rare: most of the time the controller should stay enabled to reach the commands behind it.
    sqe.writeUInt32LE(rng.chance(0.97) ? 0 : rng.u32(), PropertySqe.VALUE);
    if (fctype === FabricsType.PropertySet && sqe.readUInt32LE(PropertySqe.OFFSET) === Prop.CC && rng.chance(0.5)) {
      sqe.writeUInt32LE(0x00460001, PropertySqe.VALUE); // enabled, IOSQES 6, IOCQES 4: harmless
    }
  } else {
    for (let at = 40; at < 64; at += 4) sqe.writeUInt32LE(rng.u32(), at);
  }
  if (fctype === FabricsType.Connect && rng.chance(0.5)) return { sqe, inCapsule: rng.bytes(1024), transferLen: 1024 };
  return { sqe, transferLen: rng.chance(0.9) ? 0 : rng.range(1, 4096) };
}

export function randomAdminCommand(rng: Rng): RandomCommand {
  const kind = rng.weighted([
    [20, 'identify'], [15, 'log'], [10, 'getf'], [8, 'setf'], [5, 'ka'], [3, 'abort'], [10, 'fabrics'], [6, 'random'], [3, 'io-opcode'],
  ] as const);
  switch (kind) {
    case 'identify': {
      const cns = rng.chance(0.85) ? rng.pick([0, 1, 2, 3, 5, 6, 7]) : rng.int(256);
      return { sqe: buildSqe({ opc: AdminOpc.Identify, cid: 0, nsid: nsid(rng), cdw10: cns | (rng.chance(0.1) ? rng.u32() & 0xffff0000 : 0), cdw11: rng.chance(0.1) ? rng.u32() : 0 }), transferLen: oddLength(rng, 4096) };
    }
    case 'log': {
      const lid = rng.chance(0.85) ? rng.pick(Object.values(LogId)) : rng.int(256);
      const len = 4 * rng.range(1, 1024);
      const numd = len / 4 - 1;
      const lpo = rng.weighted([[80, 0], [15, 4 * rng.int(1024)], [5, rng.u32()]]);
      return {
        sqe: buildSqe({ opc: AdminOpc.GetLogPage, cid: 0, nsid: nsid(rng), cdw10: lid | (rng.int(0x100) << 8) | ((numd & 0xffff) << 16), cdw11: numd >>> 16, cdw12: lpo, cdw13: rng.chance(0.05) ? rng.u32() : 0 }),
        transferLen: oddLength(rng, len),
      };
    }
    case 'getf': {
      const fid = rng.chance(0.9) ? rng.pick(Object.values(FeatureId)) : rng.int(256);
      const sel = rng.chance(0.8) ? rng.int(4) : rng.int(8);
      return { sqe: buildSqe({ opc: AdminOpc.GetFeatures, cid: 0, nsid: nsid(rng), cdw10: fid | (sel << 8), cdw11: rng.u32() }), transferLen: fid === FeatureId.HostIdentifier ? oddLength(rng, 16) : oddLength(rng, 0) };
    }
    case 'setf': {
      const fid = rng.chance(0.9) ? rng.pick(Object.values(FeatureId)) : rng.int(256);
      const cdw11 = fid === FeatureId.KeepAliveTimer ? 0 : rng.u32();
      const sqe = buildSqe({ opc: AdminOpc.SetFeatures, cid: 0, nsid: nsid(rng), cdw10: fid | (rng.chance(0.2) ? 0x80000000 : 0), cdw11 });
      if (rng.chance(0.2)) return { sqe, inCapsule: rng.bytes(rng.range(1, 64) * 4), transferLen: 0 };
      return { sqe, transferLen: oddLength(rng, 0) };
    }
    case 'ka': return { sqe: buildSqe({ opc: AdminOpc.KeepAlive, cid: 0 }), transferLen: 0 };
    case 'abort': return { sqe: buildSqe({ opc: AdminOpc.Abort, cid: 0, cdw10: rng.u32() }), transferLen: 0 };
    case 'fabrics': return fabrics(rng);
    case 'io-opcode': return randomIoCommand(rng, 1 << 17);
    case 'random': return randomOpcode(rng);
  }
}

function randomOpcode(rng: Rng): RandomCommand {
  let opc: number;
  do opc = rng.int(256); while (opc === AdminOpc.AsyncEventRequest || opc === AdminOpc.Fabrics);
  const sqe = buildSqe({ opc, cid: 0, nsid: nsid(rng), cdw10: rng.u32(), cdw11: rng.u32(), cdw12: rng.u32(), cdw13: rng.u32(), cdw14: rng.u32(), cdw15: rng.u32() });
  if ((opc & 3) === 1 && rng.chance(0.5)) return { sqe, inCapsule: rng.bytes(rng.range(1, 1024) * 4), transferLen: 0 };
  return { sqe, transferLen: oddLength(rng, 0) };
}

/** An I/O command on namespace 1 of `blocks` 512-byte blocks, mostly valid, sometimes not. */
export function randomIoCommand(rng: Rng, blocks: number): RandomCommand {
  const kind = rng.weighted([[30, 'read'], [30, 'write'], [5, 'flush'], [8, 'wz'], [8, 'dsm'], [3, 'fabrics'], [5, 'random'], [3, 'admin-opcode']] as const);
  const nlb = rng.weighted([[70, rng.range(1, 16)], [20, rng.range(1, 256)], [8, rng.range(1, 2048)], [2, rng.range(1, 65536)]]);
  const slba = rng.weighted([[90, rng.int(Math.max(1, blocks - nlb))], [5, blocks - rng.int(nlb + 1)], [5, rng.u32() * (rng.chance(0.5) ? 1 : 0x1000)]]);
  const ns = rng.chance(0.9) ? 1 : nsid(rng);
  const flags = rng.chance(0.2) ? (1 << 30) : 0;
  const rw = (opc: number) => buildSqe({
    opc, cid: 0, nsid: ns, cdw10: slba % 0x1_0000_0000, cdw11: Math.floor(slba / 0x1_0000_0000) & 0xffffffff,
    cdw12: ((nlb - 1) & 0xffff) | flags | (rng.chance(0.05) ? rng.u32() & 0xfc000000 : 0),
  });
  switch (kind) {
    case 'read': return { sqe: rw(IoOpc.Read), transferLen: rng.chance(0.95) ? nlb * 512 : oddLength(rng, nlb * 512) };
    case 'write': {
      const len = rng.chance(0.95) ? nlb * 512 : oddLength(rng, nlb * 512);
      if (len > 0 && len <= 8192 && rng.chance(0.6)) return { sqe: rw(IoOpc.Write), inCapsule: rng.bytes(len), transferLen: 0 };
      return { sqe: rw(IoOpc.Write), transferLen: len };
    }
    case 'flush': return { sqe: buildSqe({ opc: IoOpc.Flush, cid: 0, nsid: rng.chance(0.8) ? 1 : nsid(rng) }), transferLen: 0 };
    case 'wz': {
      const sqe = rw(IoOpc.WriteZeroes);
      if (rng.chance(0.3)) sqe.writeUInt32LE((sqe.readUInt32LE(SQE.CDW12) | (1 << 25)) >>> 0, SQE.CDW12);
      return { sqe, transferLen: 0 };
    }
    case 'dsm': {
      const nr = rng.range(1, rng.chance(0.9) ? 4 : 256);
      const data = Buffer.alloc(nr * 16);
      for (let i = 0; i < nr; i++) {
        const n = rng.range(0, 64);
        data.writeUInt32LE(rng.chance(0.9) ? 0 : rng.u32(), i * 16);
        data.writeUInt32LE(rng.chance(0.95) ? n : rng.u32(), i * 16 + 4);
        data.writeBigUInt64LE(BigInt(rng.chance(0.95) ? rng.int(blocks - 64) : rng.u32()), i * 16 + 8);
      }
      const sqe = buildSqe({ opc: IoOpc.DatasetManagement, cid: 0, nsid: ns, cdw10: rng.chance(0.9) ? nr - 1 : rng.int(256), cdw11: rng.chance(0.8) ? 4 : rng.u32() });
      if (rng.chance(0.7) && data.length <= 8192) return { sqe, inCapsule: data, transferLen: 0 };
      return { sqe, transferLen: data.length };
    }
    case 'fabrics': return fabrics(rng);
    case 'admin-opcode': return randomAdminCommand(rng);
    case 'random': return randomOpcode(rng);
  }
}
