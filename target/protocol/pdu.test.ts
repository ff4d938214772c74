// PDU codec tests from real traffic: every PDU the Linux 6.1 nvme-tcp host sent to the Linux nvmet-tcp target
// is decoded with target/protocol, and every PDU the Linux target answered with is re-encoded byte for byte
// with the encoders our target uses (vectors in testdata/, see testdata/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  CAPSULE_CQE, CAPSULE_SQE, CH, DIGEST_LEN, HLEN, PduFlag, PduType, TERM_MAX_DATA, TermFes,
  dataOffset, decodeICReq, decodeICResp, decodeTermReq, encodeICReq, encodeICResp, encodeTermReq, expectedHlen,
  readCommonHeader, readDataHeader, readR2T, writeCommonHeader, writeDataHeader, writeR2T,
} from './pdu.js';
import { SQE, SglId, buildSqe } from './sqe.js';
import { CQE, readCqe, writeCqe } from './cqe.js';
import { AdminOpc, DISCOVERY_NQN, FabricsType, IoOpc } from './opcodes.js';
import { CONNECT_DATA_SIZE, DYNAMIC_CNTLID, decodeConnect, encodeConnectData } from './connect.js';
import { DNR, Status } from './status.js';
import { crc32c } from './crc32c.js';

interface Vector {
  file: string;
  stream: number;
  dir: 'h2c' | 'c2h';
  index: number;
  type: string;
  flags: number;
  hlen: number;
  pdo: number;
  plen: number;
  opcode?: number;
  bytes: Buffer;
  /** The PDU was longer than 16 KiB: `bytes` holds only its first cut_at bytes. */
  cut: boolean;
}

// Compiled to dist/target/protocol/: the vectors stay in the source tree.
const TESTDATA = new URL('../../../target/protocol/testdata/', import.meta.url);
const FILES = ['linux-host-vs-linux-target.jsonl', 'linux-host-vs-linux-target-digests.jsonl'];

function load(file: string): Vector[] {
  return readFileSync(new URL(file, TESTDATA), 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
    const o = JSON.parse(l) as Omit<Vector, 'bytes' | 'cut' | 'file'> & { hex: string; cut_at?: number };
    return { ...o, file, bytes: Buffer.from(o.hex, 'hex'), cut: o.cut_at !== undefined };
  });
}

const vectors = FILES.flatMap(load);
const h2c = vectors.filter((v) => v.dir === 'h2c');
const c2h = vectors.filter((v) => v.dir === 'c2h');
const TYPE_BY_NAME: Record<string, number> = PduType;
const of = (type: string, dir: 'h2c' | 'c2h') => vectors.filter((v) => v.type === type && v.dir === dir);
const label = (v: Vector) => `${v.file} stream ${v.stream} ${v.dir} #${v.index} ${v.type}`;
const hd = (v: Vector) => ((v.flags & PduFlag.HDGSTF) !== 0 ? DIGEST_LEN : 0);
const dd = (v: Vector) => ((v.flags & PduFlag.DDGSTF) !== 0 ? DIGEST_LEN : 0);
/** The queue a stream carries, from its Connect (0: admin queue, where opcode 0x02 is Get Log Page, not Read). */
function qidOf(v: Vector): number {
  const c = vectors.find((x) => x.file === v.file && x.stream === v.stream && x.dir === 'h2c' && x.type === 'CapsuleCmd' && x.opcode === AdminOpc.Fabrics
    && x.bytes[CAPSULE_SQE + SQE.FCTYPE] === FabricsType.Connect)!;
  return decodeConnect(c.bytes.subarray(CAPSULE_SQE, CAPSULE_SQE + 64), c.bytes.subarray(c.pdo)).qid;
}
/** The digest state of a stream, from the ICReq the host sent on it. */
function digestsOf(v: Vector): { hdgst: boolean; ddgst: boolean } {
  const ic = vectors.find((x) => x.file === v.file && x.stream === v.stream && x.dir === 'h2c' && x.type === 'ICReq')!;
  return decodeICReq(ic.bytes);
}

test('the vectors hold every PDU type both sides exchange', () => {
  for (const t of ['ICReq', 'CapsuleCmd', 'H2CData']) assert.ok(of(t, 'h2c').length > 0, t);
  for (const t of ['ICResp', 'CapsuleResp', 'C2HData', 'R2T']) assert.ok(of(t, 'c2h').length > 0, t);
  assert.ok(vectors.length > 250);
});

test('common header of every PDU decodes to the fields recorded beside it', () => {
  for (const v of vectors) {
    const ch = readCommonHeader(v.bytes);
    assert.deepEqual(ch, { type: TYPE_BY_NAME[v.type], flags: v.flags, hlen: v.hlen, pdo: v.pdo, plen: v.plen }, label(v));
    assert.equal(expectedHlen(ch.type), ch.hlen, label(v));
    if (!v.cut) assert.equal(v.bytes.length, v.plen, label(v));
  }
});

test('header digests of every digested PDU verify with crc32c', () => {
  const digested = vectors.filter((v) => v.flags & PduFlag.HDGSTF);
  assert.ok(digested.length > 50);
  for (const v of digested) {
    assert.equal(v.bytes.readUInt32LE(v.hlen), crc32c(v.bytes.subarray(0, v.hlen)), label(v));
  }
  // ICReq and ICResp never carry digests, even on a stream that negotiated them.
  for (const v of [...of('ICReq', 'h2c'), ...of('ICResp', 'c2h')]) assert.equal(v.flags, 0, label(v));
});

test('data digests of every whole digested PDU verify with crc32c', () => {
  const digested = vectors.filter((v) => (v.flags & PduFlag.DDGSTF) && !v.cut);
  assert.ok(digested.length > 10);
  for (const v of digested) {
    const data = v.bytes.subarray(v.pdo, v.plen - DIGEST_LEN);
    assert.equal(v.bytes.readUInt32LE(v.plen - DIGEST_LEN), crc32c(data), label(v));
  }
});

test('PDO of every PDU with data is where dataOffset() puts it (CPDA/HPDA 0)', () => {
  for (const v of vectors.filter((x) => x.pdo !== 0)) {
    assert.equal(v.pdo, dataOffset(v.hlen, hd(v) !== 0, 0), label(v));
  }
});

test('ICReq: fields decode and re-encode to the same 128 bytes', () => {
  for (const v of of('ICReq', 'h2c')) {
    const ic = decodeICReq(v.bytes);
    const digests = v.file.includes('digests');
    assert.deepEqual(ic, { pfv: 0, hpda: 0, hdgst: digests, ddgst: digests, maxr2t: 0 }, label(v));
    assert.deepEqual(encodeICReq(ic), v.bytes, label(v));
  }
});

test('ICResp: the Linux target answers are what encodeICResp() writes', () => {
  for (const v of of('ICResp', 'c2h')) {
    const r = decodeICResp(v.bytes);
    const asked = digestsOf(v);
    assert.equal(r.pfv, 0);
    assert.equal(r.cpda, 0);
    assert.equal(r.hdgst, asked.hdgst, label(v));
    assert.equal(r.ddgst, asked.ddgst, label(v));
    assert.equal(r.maxh2cdata, 0x400000, 'nvmet offers 4 MiB per H2CData');
    assert.deepEqual(encodeICResp(r), v.bytes, label(v));
  }
});

test('CapsuleCmd: SQE fields, SGL descriptors and in-capsule data lengths', () => {
  for (const v of of('CapsuleCmd', 'h2c')) {
    const sqe = v.bytes.subarray(CAPSULE_SQE, CAPSULE_SQE + 64);
    assert.equal(sqe[SQE.OPC], v.opcode, label(v));
    assert.equal(sqe[SQE.FLAGS] & 0xc0, 0x40, `${label(v)}: PSDT must be 01b (SGL)`);
    const dataLen = v.pdo ? v.plen - v.pdo - dd(v) : 0;
    const sglLen = sqe.readUInt32LE(SQE.SGL_LEN);
    if (dataLen > 0) {
      assert.equal(sqe[SQE.SGL_TYPE], SglId.InCapsule, label(v));
      assert.equal(sglLen, dataLen, label(v));
      assert.equal(sqe.readBigUInt64LE(SQE.SGL_ADDR), 0n, `${label(v)}: in-capsule data starts at offset 0`);
    } else {
      assert.equal(sqe[SQE.SGL_TYPE], SglId.Transport, label(v));
    }
  }
});

test('CapsuleCmd: every Connect decodes (admin queue with cntlid 0xFFFF, I/O queues with the cntlid granted)', () => {
  const connects = of('CapsuleCmd', 'h2c').filter((v) => v.opcode === AdminOpc.Fabrics && v.bytes[CAPSULE_SQE + SQE.FCTYPE] === FabricsType.Connect);
  assert.ok(connects.length >= 6);
  for (const v of connects) {
    const sqe = v.bytes.subarray(CAPSULE_SQE, CAPSULE_SQE + 64);
    const data = v.bytes.subarray(v.pdo, v.pdo + CONNECT_DATA_SIZE);
    const c = decodeConnect(sqe, data);
    assert.equal(c.recfmt, 0, label(v));
    assert.match(c.hostnqn, /^nqn\.2014-08\.org\.nvmexpress:uuid:/, label(v));
    assert.ok(c.sqsize > 0, label(v));
    if (c.qid === 0) {
      assert.equal(c.cntlid, DYNAMIC_CNTLID, label(v));
      if (c.subnqn !== DISCOVERY_NQN) assert.equal(c.kato, 5000, `${label(v)}: nvme connect default KATO`);
    } else {
      // The cntlid the admin Connect of the same association returned (CQE DW0).
      assert.notEqual(c.cntlid, DYNAMIC_CNTLID, label(v));
    }
    assert.deepEqual(encodeConnectData(c), data, `${label(v)}: Connect data re-encodes`);
  }
});

test('CapsuleCmd: Read and Write SQEs are what buildSqe() makes of their fields', () => {
  const rw = of('CapsuleCmd', 'h2c').filter((v) => qidOf(v) > 0 && (v.opcode === IoOpc.Read || v.opcode === IoOpc.Write));
  assert.ok(rw.length >= 10);
  for (const v of rw) {
    const sqe = v.bytes.subarray(CAPSULE_SQE, CAPSULE_SQE + 64);
    const built = buildSqe({
      opc: sqe[SQE.OPC], cid: sqe.readUInt16LE(SQE.CID), nsid: sqe.readUInt32LE(SQE.NSID),
      sglId: sqe[SQE.SGL_TYPE], sglLen: sqe.readUInt32LE(SQE.SGL_LEN),
      cdw10: sqe.readUInt32LE(SQE.CDW10), cdw11: sqe.readUInt32LE(SQE.CDW11), cdw12: sqe.readUInt32LE(SQE.CDW12),
      cdw13: sqe.readUInt32LE(SQE.CDW13), cdw14: sqe.readUInt32LE(SQE.CDW14), cdw15: sqe.readUInt32LE(SQE.CDW15),
    });
    assert.deepEqual(built, Buffer.from(sqe), label(v));
    // NLB (0-based) times 512-byte blocks is the SGL length.
    assert.equal(((sqe.readUInt32LE(SQE.CDW12) & 0xffff) + 1) * 512, sqe.readUInt32LE(SQE.SGL_LEN), label(v));
  }
});

test('H2CData: header fields answer the R2T of the same command', () => {
  for (const v of of('H2CData', 'h2c')) {
    const h = readDataHeader(v.bytes);
    const cmd = vectors.find((x) => x.file === v.file && x.stream === v.stream && x.dir === 'h2c' && x.type === 'CapsuleCmd'
      && x.bytes.readUInt16LE(CAPSULE_SQE + SQE.CID) === h.cccid)!;
    assert.ok(cmd, `${label(v)}: a Write with CID ${h.cccid}`);
    const r2t = vectors.find((x) => x.file === v.file && x.stream === v.stream && x.type === 'R2T' && readR2T(x.bytes).cccid === h.cccid)!;
    assert.ok(r2t, `${label(v)}: an R2T for CID ${h.cccid}`);
    const r = readR2T(r2t.bytes);
    assert.equal(h.ttag, r.ttag, label(v));
    assert.equal(h.datao, r.r2to, label(v));
    assert.equal(h.datal, r.r2tl, label(v));
    assert.equal(h.datal, v.plen - v.pdo - dd(v), label(v));
    assert.equal(h.datal, cmd.bytes.readUInt32LE(CAPSULE_SQE + SQE.SGL_LEN), label(v));
    assert.ok(v.flags & PduFlag.DATA_LAST, `${label(v)}: the only H2CData of the transfer is the last`);
    assert.equal(v.bytes.readUInt32LE(20), 0, `${label(v)}: reserved bytes`);
  }
});

test('CapsuleResp: writeCqe() re-encodes every response of the Linux target', () => {
  for (const v of of('CapsuleResp', 'c2h')) {
    const cqe = readCqe(v.bytes, CAPSULE_CQE);
    const b = Buffer.alloc(v.plen);
    writeCommonHeader(b, PduType.CapsuleResp, v.flags, HLEN.CapsuleResp, 0, v.plen);
    writeCqe(b, CAPSULE_CQE, cqe.dw0, cqe.dw1, cqe.sqhd, cqe.sqid, cqe.cid, cqe.status);
    if (hd(v)) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.CapsuleResp)), HLEN.CapsuleResp);
    assert.deepEqual(b, v.bytes, label(v));
  }
});

test('CapsuleResp: status encoding (an AER cancelled at disconnect is Internal Error with DNR)', () => {
  const aer = of('CapsuleResp', 'c2h').filter((v) => readCqe(v.bytes, CAPSULE_CQE).status !== 0);
  assert.ok(aer.length > 0);
  for (const v of aer) {
    const status = readCqe(v.bytes, CAPSULE_CQE).status;
    assert.equal(status, Status.InternalError | DNR, label(v));
    assert.equal(v.bytes.readUInt16LE(CAPSULE_CQE + CQE.STATUS), 0x800c, 'DNR is bit 15 on the wire, SC starts at bit 1');
  }
  // The first response of an association is Connect's: DW0 carries the cntlid, SQHD has advanced to 1.
  const first = c2h.filter((v) => v.type === 'CapsuleResp' && v.index === 1);
  for (const v of first) {
    const c = readCqe(v.bytes, CAPSULE_CQE);
    assert.equal(c.status, 0, label(v));
    assert.equal(c.sqhd, 1, label(v));
    assert.equal(c.cid, 0, label(v));
  }
});

test('C2HData: writeDataHeader() re-encodes every header (and its digest)', () => {
  for (const v of of('C2HData', 'c2h')) {
    const h = readDataHeader(v.bytes);
    assert.equal(h.ttag, 0, label(v));
    assert.equal(h.datal, v.plen - v.pdo - dd(v), label(v));
    assert.equal(v.flags & PduFlag.DATA_SUCCESS, 0, `${label(v)}: SQ flow control is on, so no SUCCESS flag`);
    const b = Buffer.alloc(v.pdo);
    writeDataHeader(b, PduType.C2HData, v.flags, v.pdo, v.plen, h.cccid, h.ttag, h.datao, h.datal);
    if (hd(v)) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.Data)), HLEN.Data);
    assert.deepEqual(b, v.bytes.subarray(0, v.pdo), label(v));
  }
});

test('R2T: writeR2T() re-encodes every R2T (and its digest)', () => {
  for (const v of of('R2T', 'c2h')) {
    const r = readR2T(v.bytes);
    const b = Buffer.alloc(v.plen);
    writeR2T(b, v.flags, v.plen, r.cccid, r.ttag, r.r2to, r.r2tl);
    if (hd(v)) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.R2T)), HLEN.R2T);
    assert.deepEqual(b, v.bytes, label(v));
    assert.equal(r.r2to, 0, label(v));
  }
});

test('TermReq: encodeTermReq() carries the offending header and decodes back', () => {
  const offending = of('CapsuleCmd', 'h2c')[0].bytes.subarray(0, HLEN.CapsuleCmd);
  const t = encodeTermReq(PduType.C2HTermReq, TermFes.InvalidHeaderField, CH.HLEN, offending);
  assert.deepEqual(readCommonHeader(t), { type: PduType.C2HTermReq, flags: 0, hlen: HLEN.TermReq, pdo: 0, plen: HLEN.TermReq + offending.length });
  assert.deepEqual(decodeTermReq(t), { fes: TermFes.InvalidHeaderField, fei: CH.HLEN, data: offending });
  // The longest header (ICReq, 128 bytes) makes the longest TermReq the Linux host accepts: PLEN 152.
  const ic = encodeTermReq(PduType.C2HTermReq, TermFes.UnsupportedParameter, 8, of('ICReq', 'h2c')[0].bytes);
  assert.equal(ic.readUInt32LE(CH.PLEN), 152);
});

// NVMe/TCP 1.0 bounds a TermReq's PLEN at 152 (24-byte header, then at most 128 bytes of the PDU header
// in error); Linux drivers/nvme/host/tcp.c drops a C2HTermReq with PLEN > NVME_TCP_MAX_C2HTERM_PLEN (152).
// encodeTermReq() keeps at most TERM_MAX_DATA (128) bytes of whatever header it is given.
test('TermReq: encodeTermReq() never makes a PDU longer than 152 bytes', () => {
  const long = encodeTermReq(PduType.H2CTermReq, TermFes.HeaderDigestError, 0, Buffer.alloc(400, 0xaa));
  assert.ok(long.length <= 152, `PLEN ${long.length}`);
  assert.equal(TERM_MAX_DATA + HLEN.TermReq, 152);
});

test('every C2H stream answers each command exactly once, by command identifier', () => {
  const streams = new Map<string, Vector[]>();
  for (const v of vectors) {
    const k = `${v.file}#${v.stream}`;
    if (!streams.has(k)) streams.set(k, []);
    streams.get(k)!.push(v);
  }
  for (const [k, vs] of streams) {
    const cids = vs.filter((v) => v.type === 'CapsuleCmd').map((v) => v.bytes.readUInt16LE(CAPSULE_SQE + SQE.CID)).sort((a, b) => a - b);
    const answered = vs.filter((v) => v.type === 'CapsuleResp').map((v) => readCqe(v.bytes, CAPSULE_CQE).cid).sort((a, b) => a - b);
    // The AER (CID 0x1f) of a connect is answered at disconnect; the last Disconnect is answered before the close.
    assert.deepEqual(answered, cids, k);
  }
});
