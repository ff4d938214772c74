// PDUs as a host sends them, for tests and benches that drive a Connection (or a target) byte by byte.
import { encodeICReq, writeCommonHeader, writeDataHeader, PduType, PduFlag, HLEN } from '../../protocol/pdu.js';
import { buildSqe, SglId } from '../../protocol/sqe.js';
import { ConnectSqe, encodeConnectData } from '../../protocol/connect.js';
import { AdminOpc, FabricsType } from '../../protocol/opcodes.js';
import { crc32c } from '../../protocol/crc32c.js';

/** What ICReq negotiated: digests and the host's PDU data alignment. */
export interface HostLink {
  hdgst?: boolean;
  ddgst?: boolean;
  hpda?: number;
}

export function icReqPdu(l: HostLink = {}): Buffer {
  return encodeICReq({ pfv: 0, hpda: l.hpda ?? 0, hdgst: l.hdgst ?? false, ddgst: l.ddgst ?? false, maxr2t: 0 });
}

/** A CapsuleCmd carrying `sqe` and, if given, in-capsule `data` (with a wrong data digest if `corruptDataDigest`). */
export function capsulePdu(sqe: Buffer, data?: Buffer, l: HostLink = {}, corruptDataDigest = false): Buffer {
  const hd = l.hdgst ? 4 : 0;
  const dd = l.ddgst && data ? 4 : 0;
  const pdo = data ? HLEN.CapsuleCmd + hd : 0;
  const plen = HLEN.CapsuleCmd + hd + (data?.length ?? 0) + dd;
  const b = Buffer.alloc(plen);
  writeCommonHeader(b, PduType.CapsuleCmd, (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0), HLEN.CapsuleCmd, pdo, plen);
  sqe.copy(b, 8);
  if (hd) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.CapsuleCmd)), HLEN.CapsuleCmd);
  if (data) data.copy(b, pdo);
  if (dd) b.writeUInt32LE((crc32c(data!) ^ (corruptDataDigest ? 1 : 0)) >>> 0, pdo + data!.length);
  return b;
}

/** An H2CData PDU with `data` at offset `datao` of transfer `ttag` (command `cid`). */
export function h2cDataPdu(cid: number, ttag: number, datao: number, data: Buffer, last: boolean, l: HostLink = {}): Buffer {
  const hd = l.hdgst ? 4 : 0;
  const dd = l.ddgst ? 4 : 0;
  const pdo = HLEN.Data + hd;
  const plen = pdo + data.length + dd;
  const b = Buffer.alloc(plen);
  writeDataHeader(b, PduType.H2CData, (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0) | (last ? PduFlag.DATA_LAST : 0), pdo, plen, cid, ttag, datao, data.length);
  if (hd) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.Data)), HLEN.Data);
  data.copy(b, pdo);
  if (dd) b.writeUInt32LE(crc32c(data), pdo + data.length);
  return b;
}

/** A Fabrics Connect SQE for queue `qid` (its cid is the qid), SQ size `sqsize` (0-based). */
export function connectSqe(qid: number, o: { sqsize?: number; kato?: number; cattr?: number } = {}): Buffer {
  const sqe = buildSqe({ opc: AdminOpc.Fabrics, cid: qid, fctype: FabricsType.Connect, sglId: SglId.InCapsule, sglLen: 1024 });
  sqe.writeUInt16LE(qid, ConnectSqe.QID);
  sqe.writeUInt16LE(o.sqsize ?? 31, ConnectSqe.SQSIZE);
  sqe[ConnectSqe.CATTR] = o.cattr ?? 0;
  sqe.writeUInt32LE(o.kato ?? 0, ConnectSqe.KATO);
  return sqe;
}

/** A Connect capsule for queue `qid` of controller `cntlid` (0xFFFF: a new one) of `subnqn`, from `hostnqn`. */
export function connectPdu(
  qid: number, cntlid: number, subnqn: string, hostnqn: string,
  o: { sqsize?: number; kato?: number; cattr?: number; hostid?: Buffer; link?: HostLink } = {},
): Buffer {
  return capsulePdu(connectSqe(qid, o), encodeConnectData({ hostid: o.hostid ?? Buffer.alloc(16, 7), cntlid, subnqn, hostnqn }), o.link);
}

/** Property Set of CC: enable, with IOSQES 6 and IOCQES 4. */
export function enablePdu(cid = 2): Buffer {
  const set = buildSqe({ opc: AdminOpc.Fabrics, cid, fctype: FabricsType.PropertySet, cdw11: 0x14 });
  set.writeUInt32LE(1 | (6 << 16) | (4 << 20), 48);
  return capsulePdu(set);
}
