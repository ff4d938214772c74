// Controller-to-host PDU framing for the host library: turns the byte stream from a controller into whole
// PDUs, and checks everything the NVMe/TCP Transport Specification 1.0 (3.6) requires of a controller's
// PDUs, so a target bug surfaces as a ControllerProtocolError naming the field.
// Invariants:
//  - C2HData is copied once, from the socket chunk straight into the buffer the sink chose (or discarded);
//  - a header view passed to the sink is valid only during that call;
//  - ICResp and C2HTermReq never carry digests; every other PDU carries exactly the digests negotiated.
import { CH, DIGEST_LEN, DATA, HLEN, PduFlag, PduType, expectedHlen } from '../../target/protocol/pdu.js';
import { crc32c } from '../../target/protocol/crc32c.js';
import { ControllerProtocolError } from './errors.js';

export interface C2HInfo {
  type: number;
  flags: number;
  hlen: number;
  pdo: number;
  plen: number;
  /** C2HData payload length (without padding and digest); TermReq: bytes of the offending header. */
  dataLen: number;
}

export interface C2HSink {
  /** A header arrived (digest checked). For C2HData the sink calls reader.dataInto() or the data is discarded. */
  onHeader(header: Buffer, info: C2HInfo): void;
  /** The whole PDU arrived (data digest checked). For a TermReq `header` includes its data. */
  onPdu(header: Buffer, info: C2HInfo): void;
}

const enum Phase { Ch, Header, Pad, Data, Ddgst }

/**
 * Longest C2HTermReq: its 24-byte header and at most 128 bytes of the offending PDU's header (the longest
 * header, ICReq's). Linux drivers/nvme/host/tcp.c rejects a longer one (NVME_TCP_MAX_C2HTERM_PLEN 152).
 */
export const MAX_TERMREQ_PLEN = 152;

export class C2HReader {
  /** Digests in force (set from ICResp). */
  hdgst = false;
  ddgst = false;
  /** The HPDA this host sent in ICReq: C2HData must start at a multiple of (hpda+1) dwords. */
  hpda = 0;
  private phase = Phase.Ch;
  private have = 0;
  private need: number = CH.SIZE;
  private readonly hdr = Buffer.alloc(HLEN.ICResp + MAX_TERMREQ_PLEN);
  private readonly info: C2HInfo = { type: 0, flags: 0, hlen: 0, pdo: 0, plen: 0, dataLen: 0 };
  private dst: Buffer | undefined;
  private dstOff = 0;
  private crc = 0;
  private readonly ddgstBuf = Buffer.alloc(DIGEST_LEN);

  constructor(private readonly sink: C2HSink) {}

  /** Where the data of the current C2HData goes (call from onHeader); unset, it is discarded. */
  dataInto(buf: Buffer, offset: number): void {
    this.dst = buf;
    this.dstOff = offset;
  }

  /** Bytes of the PDU being assembled (for diagnostics). */
  get pending(): number {
    return this.phase === Phase.Ch ? this.have : this.info.plen;
  }

  feed(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      const take = Math.min(this.need - this.have, len - off);
      switch (this.phase) {
        case Phase.Ch:
        case Phase.Header:
          chunk.copy(this.hdr, this.have, off, off + take);
          break;
        case Phase.Pad:
          break;
        case Phase.Data:
          if (this.dst) chunk.copy(this.dst, this.dstOff + this.have, off, off + take);
          if (this.ddgst) this.crc = crc32c(chunk.subarray(off, off + take), this.crc);
          break;
        case Phase.Ddgst:
          chunk.copy(this.ddgstBuf, this.have, off, off + take);
          break;
      }
      off += take;
      this.have += take;
      if (this.have === this.need) this.advance();
    }
  }

  private hd(): number {
    const t = this.info.type;
    return this.hdgst && t !== PduType.ICResp && t !== PduType.C2HTermReq ? DIGEST_LEN : 0;
  }

  private advance(): void {
    switch (this.phase) {
      case Phase.Ch:
        this.checkCommonHeader();
        this.phase = Phase.Header;
        this.need = this.info.type === PduType.C2HTermReq ? this.info.plen : this.info.hlen + this.hd();
        if (this.have === this.need) this.advance();
        return;
      case Phase.Header: {
        const info = this.info;
        const hd = this.hd();
        if (hd) {
          const want = this.hdr.readUInt32LE(info.hlen);
          const got = crc32c(this.hdr.subarray(0, info.hlen));
          if (want !== got) throw new ControllerProtocolError(`header digest of PDU type 0x${info.type.toString(16)} is 0x${want.toString(16)}, computed 0x${got.toString(16)}`);
        }
        if (info.type === PduType.C2HData) {
          const datal = this.hdr.readUInt32LE(DATA.DATAL);
          if (datal !== info.dataLen) throw new ControllerProtocolError(`C2HData DATAL ${datal} but PLEN ${info.plen} and PDO ${info.pdo} leave ${info.dataLen} bytes`);
        }
        this.dst = undefined;
        this.crc = 0;
        if (info.type === PduType.C2HTermReq) return this.finish();
        this.sink.onHeader(this.hdr.subarray(0, info.hlen), info);
        if (info.dataLen === 0) return this.finish();
        const pad = info.pdo - info.hlen - hd;
        if (pad > 0) return this.enter(Phase.Pad, pad);
        return this.enter(Phase.Data, info.dataLen);
      }
      case Phase.Pad:
        return this.enter(Phase.Data, this.info.dataLen);
      case Phase.Data:
        if (this.ddgst) return this.enter(Phase.Ddgst, DIGEST_LEN);
        return this.finish();
      case Phase.Ddgst: {
        const want = this.ddgstBuf.readUInt32LE(0);
        if (want !== this.crc) throw new ControllerProtocolError(`C2HData data digest is 0x${want.toString(16)}, computed 0x${this.crc.toString(16)}`);
        return this.finish();
      }
    }
  }

  private enter(phase: Phase, need: number): void {
    this.phase = phase;
    this.have = 0;
    this.need = need;
  }

  private finish(): void {
    const info = this.info;
    const header = this.hdr.subarray(0, info.type === PduType.C2HTermReq ? info.plen : info.hlen);
    this.dst = undefined;
    this.enter(Phase.Ch, CH.SIZE);
    this.sink.onPdu(header, info);
  }

  /** What NVMe/TCP 1.0, 3.6.2 allows a controller to send, field by field. */
  private checkCommonHeader(): void {
    const b = this.hdr;
    const info = this.info;
    info.type = b[CH.TYPE];
    info.flags = b[CH.FLAGS];
    info.hlen = b[CH.HLEN];
    info.pdo = b[CH.PDO];
    info.plen = b.readUInt32LE(CH.PLEN);
    info.dataLen = 0;
    const { type, flags, hlen, pdo, plen } = info;
    const name = `PDU type 0x${type.toString(16)}`;
    const bad = (what: string) => new ControllerProtocolError(`${name}: ${what}`);
    if (type !== PduType.ICResp && type !== PduType.C2HTermReq && type !== PduType.CapsuleResp && type !== PduType.C2HData && type !== PduType.R2T) {
      throw bad('not a PDU a controller sends');
    }
    if (hlen !== expectedHlen(type)) throw bad(`HLEN ${hlen}, expected ${expectedHlen(type)}`);
    if (type === PduType.ICResp || type === PduType.C2HTermReq) {
      if (flags & (PduFlag.HDGSTF | PduFlag.DDGSTF)) throw bad(`flags 0x${flags.toString(16)}: digests are never used on this PDU`);
      if (pdo !== 0) throw bad(`PDO ${pdo}, expected 0`);
      if (type === PduType.ICResp && plen !== HLEN.ICResp) throw bad(`PLEN ${plen}, expected ${HLEN.ICResp}`);
      if (type === PduType.C2HTermReq) {
        if (plen < hlen || plen > MAX_TERMREQ_PLEN) throw bad(`PLEN ${plen} outside [${hlen}, ${MAX_TERMREQ_PLEN}]`);
        info.dataLen = plen - hlen;
      }
      return;
    }
    const hd = this.hd();
    if (((flags & PduFlag.HDGSTF) !== 0) !== (hd !== 0)) throw bad(`HDGSTF ${flags & PduFlag.HDGSTF ? 'set' : 'clear'} but header digests ${hd ? 'negotiated' : 'not negotiated'}`);
    if (type !== PduType.C2HData) {
      if (flags & PduFlag.DDGSTF) throw bad('DDGSTF set on a PDU without data');
      if (plen !== hlen + hd) throw bad(`PLEN ${plen}, expected ${hlen + hd}`);
      if (pdo !== 0) throw bad(`PDO ${pdo} on a PDU without data`);
      return;
    }
    const dd = this.ddgst ? DIGEST_LEN : 0;
    if (((flags & PduFlag.DDGSTF) !== 0) !== (dd !== 0)) throw bad(`DDGSTF ${flags & PduFlag.DDGSTF ? 'set' : 'clear'} but data digests ${dd ? 'negotiated' : 'not negotiated'}`);
    const unit = (this.hpda + 1) * 4;
    if (pdo < hlen + hd || pdo % unit !== 0) throw bad(`PDO ${pdo}: below the header end ${hlen + hd} or not a multiple of ${unit}`);
    if (plen <= pdo + dd) throw bad(`PLEN ${plen} leaves no data after PDO ${pdo}`);
    info.dataLen = plen - pdo - dd;
  }
}
