// A connection's R2T transfers: each command whose host data comes in H2CData PDUs after its one R2T, by
// transfer tag, and the checks every H2CData header must pass before its data is copied (NVMe/TCP 1.0,
// 3.6.2.8): a live tag, its command's CCCID, DATAL within MAXH2CDATA, the next offset in order, LAST_PDU on
// the last one. Tags are reused only after their transfer ended.
import { CH, DATA, PduFlag, TermFes, readDataHeader } from '../protocol/pdu.js';
import type { Request } from '../controller/request.js';
import type { PduInfo } from './receiver.js';
import { ProtocolError } from './protocol-error.js';
import { TagMap } from './tag-map.js';

export interface HostTransfer {
  req: Request;
  ttag: number;
  received: number;
  digestError: boolean;
}

export class HostTransfers {
  private readonly byTag = new TagMap<HostTransfer>();
  private nextTtag = 0;
  /** The transfer of the H2CData being received. */
  private pending: HostTransfer | undefined;

  constructor(private readonly maxH2CData: number) {}

  /** A tag no live transfer holds. */
  freeTag(): number {
    let ttag = this.nextTtag;
    while (this.byTag.has(ttag)) ttag = (ttag + 1) & 0xffff;
    this.nextTtag = (ttag + 1) & 0xffff;
    return ttag;
  }

  /** `req`'s host data (into req.data) comes under `ttag`. */
  add(req: Request, ttag: number): void {
    this.byTag.set(ttag, { req, ttag, received: 0, digestError: false });
  }

  /** An H2CData header: checked against its transfer; where its data goes. */
  header(header: Buffer, info: PduInfo): Buffer {
    const h = readDataHeader(header);
    const t = this.byTag.get(h.ttag);
    if (!t) throw ProtocolError.header(DATA.TTAG, 'h2c_ttag', `H2CData for unknown transfer tag ${h.ttag}`);
    if (h.cccid !== t.req.cid) throw ProtocolError.header(DATA.CCCID, 'h2c_cccid', `H2CData CCCID ${h.cccid} does not match transfer tag ${h.ttag} (cid ${t.req.cid})`);
    if (h.datal !== info.dataLen) throw ProtocolError.header(DATA.DATAL, 'h2c_datal', `DATAL ${h.datal} does not match PDU data length ${info.dataLen}`);
    if (h.datal > this.maxH2CData) throw new ProtocolError(TermFes.DataTransferLimitExceeded, DATA.DATAL, 'h2c_datal', `DATAL ${h.datal} exceeds MAXH2CDATA ${this.maxH2CData}`);
    if (h.datao !== t.received || h.datao + h.datal > t.req.transferLen) {
      throw new ProtocolError(TermFes.DataTransferOutOfRange, DATA.DATAO, 'h2c_range', `H2CData [${h.datao}, +${h.datal}) outside the expected [${t.received}, ${t.req.transferLen})`);
    }
    const last = (info.flags & PduFlag.DATA_LAST) !== 0;
    if (last !== (h.datao + h.datal === t.req.transferLen)) {
      throw ProtocolError.header(CH.FLAGS, 'h2c_last', `LAST_PDU ${last ? 'set' : 'clear'} at offset ${h.datao + h.datal} of ${t.req.transferLen}`);
    }
    this.pending = t;
    return t.req.data!.subarray(h.datao, h.datao + h.datal);
  }

  /** That H2CData's data arrived: its transfer if that was the last (the transfer has ended), else undefined. */
  data(info: PduInfo): HostTransfer | undefined {
    const t = this.pending!;
    this.pending = undefined;
    t.received += info.dataLen;
    if (info.dataDigestError) t.digestError = true;
    if (t.received < t.req.transferLen) return undefined;
    this.byTag.delete(t.ttag);
    return t;
  }

  /** Every live transfer's command, forgotten (the connection closed). */
  clear(): Request[] {
    const reqs = [...this.byTag.values()].map((t) => t.req);
    this.byTag.clear();
    return reqs;
  }
}
