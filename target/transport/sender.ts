// What a connection sends, encoded (protocol/pdu.ts) and written to its wire: one write per PDU, or, when its
// recorder asks for units (the in-pod-resume journal), one unit per PDU or completion, whose publication
// the recorder records (wire.ts UnitWire; recorder.ts).
import { PduType, encodeC2HData, encodeICResp, encodeR2T, encodeTermReq } from '../protocol/pdu.js';
import type { Qpair } from '../controller/qpair.js';
import type { Request } from '../controller/request.js';
import type { DigestState } from './receiver.js';
import type { ConnectionRecorder } from './recorder.js';
import type { UnitWire, Wire } from './wire.js';

export class Sender {
  /** The host's PDU data alignment (ICReq HPDA): C2HData data starts at a multiple of (hpda + 1) * 4 bytes. */
  hpda = 0;
  /** The wire when the recorder asks for units. */
  private readonly uwire: UnitWire | undefined;
  /** The PDUs of the C2HData being sent (reused: completion() empties it before it returns). */
  private readonly c2hOut: Buffer[] = [];

  constructor(
    private readonly wire: Wire,
    /** Negotiated by ICReq; shared with the receiver. */
    private readonly digests: DigestState,
    private readonly rec: ConnectionRecorder,
    /** Gives a command's data buffer (and its budget) back once its data left. */
    private readonly release: (req: Request) => void,
  ) {
    if (rec.units) {
      if (typeof (wire as UnitWire).writeUnit !== 'function') throw new Error('a recorder of units needs a UnitWire');
      this.uwire = wire as UnitWire;
    }
  }

  icResp(hdgst: boolean, ddgst: boolean, maxh2cdata: number): void {
    const rec = this.rec;
    this.pdu(encodeICResp({ pfv: 0, cpda: 0, hdgst, ddgst, maxh2cdata }), this.uwire ? (end) => rec.icPublishing(end) : undefined);
  }

  r2t(req: Request, ttag: number): void {
    const rec = this.rec;
    this.pdu(encodeR2T(this.digests.hdgst, req.cid, ttag, 0, req.transferLen), this.uwire ? (end) => rec.r2tPublishing(ttag, end) : undefined);
  }

  termReq(fes: number, fei: number, offendingHeader: Buffer): void {
    this.pdu(encodeTermReq(PduType.C2HTermReq, fes, fei, offendingHeader));
  }

  /**
   * A command's completion: the C2HData of its data if `sendsData` (SUCCESS, and no CapsuleResp, when `resp`
   * is undefined), then its CapsuleResp `resp`. Its data buffer is released once the data left, any other
   * buffer at once.
   */
  completion(req: Request, q: Qpair | undefined, sendsData: boolean, resp: Buffer | undefined): void {
    if (this.uwire) return this.completionUnit(this.uwire, req, q, sendsData, resp);
    if (sendsData) {
      const out = this.c2hOut;
      const data = req.data!;
      encodeC2HData(out, req.cid, data, resp === undefined, this.digests.hdgst, this.digests.ddgst, this.hpda);
      const release = req.budgetBytes > 0 || req.pooled !== undefined;
      for (let i = 0; i < out.length; i++) {
        if (out[i] === data && release) this.wire.write(data, () => this.release(req));
        else this.wire.write(out[i]);
      }
      out.length = 0;
    } else {
      this.release(req);
    }
    if (resp) this.wire.write(resp);
  }

  /** One PDU: a unit of its own with units (`publishing` runs as it is published), else a write. */
  private pdu(b: Buffer, publishing?: (end: number) => void): void {
    if (this.uwire) this.uwire.writeUnit([b], publishing);
    else this.wire.write(b);
  }

  /** The C2HData and the CapsuleResp as one unit, its publication recorded before it is out. */
  private completionUnit(uwire: UnitWire, req: Request, q: Qpair | undefined, sendsData: boolean, resp: Buffer | undefined): void {
    const bufs: Buffer[] = [];
    if (sendsData) encodeC2HData(bufs, req.cid, req.data!, resp === undefined, this.digests.hdgst, this.digests.ddgst, this.hpda);
    if (resp) bufs.push(resp);
    const rec = this.rec;
    const h = rec.completing(req, q);
    const { status, dw0, dw1 } = req;
    uwire.writeUnit(
      bufs,
      h >= 0 ? (end) => rec.completionPublishing(h, status, dw0, dw1, sendsData, end) : undefined,
      () => {
        if (sendsData) this.release(req);
        if (h >= 0) rec.completionPublished(h);
      },
    );
    if (!sendsData) this.release(req);
  }
}
