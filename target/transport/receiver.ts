// PDU framing: turns a byte stream into whole PDUs without knowing what they mean.
// Invariants:
//  - the header (hlen bytes) and its digest are assembled in one preallocated buffer; a header view
//    passed to a callback is valid only during that call (views are made once per length and reused, so
//    receiving a PDU allocates nothing);
//  - PDU data is copied exactly once, from the socket chunk straight into the destination the
//    `onHeader` callback returns (for H2CData that is the command's own buffer at its data offset);
//  - every check that needs no negotiated value (type, hlen, pdo, plen bounds, digests) is done here,
//    and a failure raises a ProtocolError naming the offending field, so malformed bytes never reach a handler.
import { CH, DIGEST_LEN, PduFlag, PduType, expectedHlen } from '../protocol/pdu.js';
import { crc32c } from '../protocol/crc32c.js';
import { ProtocolError } from './protocol-error.js';
import { TermFes, TERM_MAX_DATA } from '../protocol/pdu.js';

export interface PduInfo {
  type: number;
  flags: number;
  hlen: number;
  pdo: number;
  plen: number;
  /** Length of the PDU data (without padding and digests); 0 when there is none. */
  dataLen: number;
  /** The data digest did not match (only with data digests negotiated). */
  dataDigestError: boolean;
}

export interface ReceiverSink {
  /**
   * A PDU header arrived and its digest (if any) is good. Return the buffer that receives the PDU
   * data (exactly info.dataLen bytes), or undefined when the PDU has no data. May throw ProtocolError.
   */
  onHeader(header: Buffer, info: PduInfo): Buffer | undefined;
  /** The whole PDU arrived; `data` is the buffer onHeader returned, now filled and digest-checked. */
  onPdu(header: Buffer, info: PduInfo, data: Buffer | undefined): void;
}

const enum Phase { Ch, Header, Pad, Data, Ddgst }

export interface DigestState {
  hdgst: boolean;
  ddgst: boolean;
}

/** Largest PDU accepted before negotiation limits apply: bounds memory whatever a peer claims. */
export const MAX_PLEN = 16 * 1024 * 1024;

export class Receiver {
  private phase = Phase.Ch;
  private readonly hdr = Buffer.alloc(128 + DIGEST_LEN);
  /** views[n]: hdr's first n bytes, made on first use. */
  private readonly views: Array<Buffer | undefined> = [];
  private have = 0; // bytes of the current phase already received
  private need: number = CH.SIZE;
  private info: PduInfo = { type: 0, flags: 0, hlen: 0, pdo: 0, plen: 0, dataLen: 0, dataDigestError: false };
  private data: Buffer | undefined;
  private readonly ddgstBuf = Buffer.alloc(DIGEST_LEN);
  private failed = false;
  /** HLEN of the PDU whose header is still in `hdr` (the last one finished, until new bytes arrive). */
  private lastHlen = 0;
  /** Stream position (u32, modulo 2^32) of the next byte, and of the first byte of the current PDU. */
  private pos = 0;
  private start = 0;

  constructor(private readonly sink: ReceiverSink, private readonly digests: DigestState) {}

  /** True once a ProtocolError was raised or stop() called: later bytes are ignored. */
  get broken(): boolean {
    return this.failed;
  }

  /** Ignores every byte from now on, even the rest of the chunk being parsed (the connection closed). */
  stop(): void {
    this.failed = true;
  }

  /**
   * Feeds chunk[0, len) (len defaults to the whole chunk, so a reused read buffer needs no view); throws
   * ProtocolError on the first malformed PDU (and ignores everything after it).
   */
  feed(chunk: Buffer, len = chunk.length): void {
    if (this.failed) return;
    try {
      this.consume(chunk, len);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  /**
   * Numbers the stream from `pos` (a connection resumed mid-stream starts at its rx head); only before the
   * first byte is fed.
   */
  setPosition(pos: number): void {
    this.pos = pos >>> 0;
    this.start = this.pos;
  }

  /** Stream position of the current PDU's first byte (during onHeader and onPdu: the PDU being delivered). */
  get pduStart(): number {
    return this.start;
  }

  /** Stream position of the next byte to come (during onPdu: the end of the PDU being delivered). */
  get position(): number {
    return this.pos;
  }

  /** Where a PDU is cut: part of its header, or of its data, is in; undefined at a PDU boundary. */
  get partial(): 'header' | 'data' | undefined {
    if (this.phase === Phase.Ch) return this.have > 0 ? 'header' : undefined;
    return this.phase === Phase.Header ? 'header' : 'data';
  }

  /** The header bytes received so far (for a C2HTermReq about the current PDU). */
  currentHeader(): Buffer {
    let n: number;
    if (this.phase !== Phase.Ch) n = Math.max(this.info.hlen, CH.SIZE);
    else n = this.have > 0 ? this.have : this.lastHlen; // an error found once the whole PDU was in
    return Buffer.from(this.hdr.subarray(0, Math.min(n, TERM_MAX_DATA)));
  }

  private header(n: number): Buffer {
    return this.views[n] ?? (this.views[n] = this.hdr.subarray(0, n));
  }

  private consume(chunk: Buffer, len: number): void {
    let off = 0;
    while (off < len && !this.failed) {
      const take = Math.min(this.need - this.have, len - off);
      switch (this.phase) {
        case Phase.Ch:
        case Phase.Header:
          chunk.copy(this.hdr, this.have, off, off + take);
          break;
        case Phase.Pad:
          break;
        case Phase.Data:
          chunk.copy(this.data!, this.have, off, off + take);
          break;
        case Phase.Ddgst:
          chunk.copy(this.ddgstBuf, this.have, off, off + take);
          break;
      }
      off += take;
      this.have += take;
      this.pos = (this.pos + take) >>> 0;
      if (this.have === this.need) this.advance();
    }
  }

  private hdgstLen(): number {
    return this.info.type !== PduType.ICReq && this.info.type !== PduType.H2CTermReq && this.digests.hdgst ? DIGEST_LEN : 0;
  }

  private ddgstLen(): number {
    return this.info.dataLen > 0 && this.info.type !== PduType.H2CTermReq && this.digests.ddgst ? DIGEST_LEN : 0;
  }

  private advance(): void {
    switch (this.phase) {
      case Phase.Ch: {
        this.checkCommonHeader();
        this.phase = Phase.Header;
        this.need = this.info.hlen + this.hdgstLen();
        // have stays CH.SIZE: the header buffer already holds the first 8 bytes
        if (this.have === this.need) this.advance();
        return;
      }
      case Phase.Header: {
        const hd = this.hdgstLen();
        if (hd) {
          const want = this.hdr.readUInt32LE(this.info.hlen);
          const got = crc32c(this.header(this.info.hlen));
          if (want !== got) {
            throw new ProtocolError(TermFes.HeaderDigestError, 0, 'header_digest', `header digest mismatch: got ${want.toString(16)}, computed ${got.toString(16)}`);
          }
        }
        this.data = this.sink.onHeader(this.header(this.info.hlen), this.info);
        if (this.info.dataLen > 0 && (!this.data || this.data.length !== this.info.dataLen)) {
          throw new Error('receiver sink returned a data buffer of the wrong size');
        }
        const pad = this.info.dataLen > 0 ? this.info.pdo - this.info.hlen - hd : 0;
        if (pad > 0) return this.enter(Phase.Pad, pad);
        return this.enterData();
      }
      case Phase.Pad:
        return this.enterData();
      case Phase.Data:
        if (this.ddgstLen()) return this.enter(Phase.Ddgst, DIGEST_LEN);
        return this.finish();
      case Phase.Ddgst: {
        // A data digest error is not fatal to the connection (NVMe/TCP 7.4.6.1): the command that owns the
        // data completes with Transient Transport Error, and the handler decides that from dataDigestError.
        this.info.dataDigestError = this.ddgstBuf.readUInt32LE(0) !== crc32c(this.data!);
        return this.finish();
      }
    }
  }

  private enter(phase: Phase, need: number): void {
    this.phase = phase;
    this.have = 0;
    this.need = need;
  }

  private enterData(): void {
    if (this.info.dataLen > 0) return this.enter(Phase.Data, this.info.dataLen);
    return this.finish();
  }

  private finish(): void {
    const header = this.header(this.info.hlen);
    const data = this.data;
    this.data = undefined;
    this.lastHlen = this.info.hlen;
    this.enter(Phase.Ch, CH.SIZE);
    this.sink.onPdu(header, this.info, data);
    this.start = this.pos;
  }

  private checkCommonHeader(): void {
    const b = this.hdr;
    const type = b[CH.TYPE];
    const flags = b[CH.FLAGS];
    const hlen = b[CH.HLEN];
    const pdo = b[CH.PDO];
    const plen = b.readUInt32LE(CH.PLEN);
    const info = this.info;
    info.type = type; info.flags = flags; info.hlen = hlen; info.pdo = pdo; info.plen = plen; info.dataLen = 0; info.dataDigestError = false;
    const want = expectedHlen(type);
    if (want === undefined || type === PduType.ICResp || type === PduType.C2HTermReq || type === PduType.CapsuleResp || type === PduType.C2HData || type === PduType.R2T) {
      throw ProtocolError.header(CH.TYPE, 'pdu_type', `PDU type 0x${type.toString(16)} is not one a host sends`);
    }
    if (hlen !== want) throw ProtocolError.header(CH.HLEN, 'hlen', `HLEN ${hlen} for PDU type 0x${type.toString(16)}, expected ${want}`);
    const hd = this.hdgstLen();
    if (hd && !(flags & PduFlag.HDGSTF)) throw ProtocolError.header(CH.FLAGS, 'hdgst_flag', 'header digest negotiated but HDGSTF not set');
    if (!hd && (flags & PduFlag.HDGSTF) && type !== PduType.ICReq && type !== PduType.H2CTermReq) {
      throw ProtocolError.header(CH.FLAGS, 'hdgst_flag', 'HDGSTF set but header digest not negotiated');
    }
    if (plen > MAX_PLEN) throw ProtocolError.header(CH.PLEN, 'plen', `PLEN ${plen} exceeds ${MAX_PLEN}`);
    if (type === PduType.H2CTermReq) {
      // TermReq data: the offending header, at most 152 bytes, never digested.
      if (plen < hlen || plen > hlen + TERM_MAX_DATA) throw ProtocolError.header(CH.PLEN, 'plen', `H2CTermReq PLEN ${plen}`);
      info.dataLen = plen - hlen;
      info.pdo = hlen;
      return;
    }
    if (type === PduType.ICReq) {
      if (plen !== hlen) throw ProtocolError.header(CH.PLEN, 'plen', `ICReq PLEN ${plen}, expected ${hlen}`);
      return;
    }
    const headerEnd = hlen + hd;
    if (plen < headerEnd) throw ProtocolError.header(CH.PLEN, 'plen', `PLEN ${plen} shorter than header ${headerEnd}`);
    if (plen === headerEnd) {
      if (pdo !== 0 && pdo !== headerEnd && pdo !== hlen) throw ProtocolError.header(CH.PDO, 'pdo', `PDO ${pdo} without data`);
      if (type === PduType.H2CData) throw ProtocolError.header(CH.PLEN, 'plen', 'H2CData without data');
      info.pdo = 0;
      return;
    }
    // The PDU carries data.
    if (pdo < headerEnd || pdo > plen) throw ProtocolError.header(CH.PDO, 'pdo', `PDO ${pdo} outside [${headerEnd}, ${plen}]`);
    const dd = this.digests.ddgst ? DIGEST_LEN : 0;
    if (dd && !(flags & PduFlag.DDGSTF)) throw ProtocolError.header(CH.FLAGS, 'ddgst_flag', 'data digest negotiated but DDGSTF not set');
    if (!dd && (flags & PduFlag.DDGSTF)) throw ProtocolError.header(CH.FLAGS, 'ddgst_flag', 'DDGSTF set but data digest not negotiated');
    const dataLen = plen - pdo - dd;
    if (dataLen <= 0) throw ProtocolError.header(CH.PLEN, 'plen', `PLEN ${plen} leaves no room for data after PDO ${pdo}`);
    info.dataLen = dataLen;
  }
}
