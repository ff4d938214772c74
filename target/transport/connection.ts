// One NVMe/TCP connection: ICReq/ICResp, capsules, R2T/H2CData for host data, C2HData for controller data,
// CapsuleResp, TermReqs (NVMe/TCP Transport Specification 1.0; Linux drivers/nvme/target/tcp.c).
// Invariants:
//  - the connection knows PDUs, SGLs and data transfer, never what a command means (the Target does);
//  - every accepted capsule gets exactly one CapsuleResp (or a C2HData with SUCCESS when SQ flow control
//    is disabled), unless the connection closes first;
//  - a protocol error sends one C2HTermReq naming the offending field, then closes; an H2CTermReq or a
//    keep-alive expiry closes without one;
//  - host data is copied once: from the socket chunk into the command's buffer at its offset;
//  - with a journal (in-pod resume, see journal.ts), every unit of PDUs is published through the UnitWire and
//    everything a successor process needs is recorded before the host can see its effect; a resumed
//    connection re-reads the rx bytes from its head and never executes or answers a command twice.
import {
  DIGEST_LEN, HLEN, PduFlag, PduType, TermFes, DATA, encodeICResp, encodeTermReq, readDataHeader,
  writeCommonHeader, writeDataHeader, writeR2T, IC, CH, decodeICReq,
} from '../protocol/pdu.js';
import { CAPSULE_SQE } from '../protocol/pdu.js';
import { SQE, SQE_SIZE, SglId, Xfer, xferOf } from '../protocol/sqe.js';
import { AdminOpc, FabricsType } from '../protocol/opcodes.js';
import { CQE_SIZE, writeCqe } from '../protocol/cqe.js';
import { Status } from '../protocol/status.js';
import { INLINE_DATA_SIZE } from '../controller/identify.js';
import { Request, type Responder } from '../controller/request.js';
import type { Qpair, QueueTransport } from '../controller/qpair.js';
import type { Target } from '../controller/target.js';
import { Receiver, type PduInfo, type ReceiverSink } from './receiver.js';
import { ProtocolError } from './protocol-error.js';
import { crc32c } from './crc32c.js';
import type { UnitWire, Wire } from './wire.js';
import type { ConnectionJournal, ResumedCommand, ResumeState } from './journal.js';
import type { BudgetHolder, DataBudget } from './data-budget.js';
import { IoStage, type IoRecords } from '../controller/io-records.js';
import { IoOpc } from '../protocol/opcodes.js';
import { dataBuffers } from '../controller/buffer-pool.js';
import { TagMap } from './tag-map.js';
import { performance } from 'node:perf_hooks';

/** MAXH2CDATA: the most data one H2CData PDU may carry (>= 4096, a multiple of 4). */
export const MAXH2CDATA = 128 * 1024;
/** A connection that has not completed ICReq and Connect in this time is closed. */
export const CONNECT_TIMEOUT_MS = 10_000;

interface HostTransfer {
  req: Request;
  ttag: number;
  received: number;
  digestError: boolean;
  /** Rx position at or after which this transfer's H2CData start (older bytes a resumed connection re-reads are not its own). */
  minPos: number;
}

/** Request.ifh of a command whose record could not begin (every slot of its qpair taken): never tried again. */
const UNTRACKED = -2;

/** a <= b on u32 stream positions (serial arithmetic). */
function posLE(a: number, b: number): boolean {
  return ((b - a) | 0) >= 0;
}

/** What a resume did with the commands it found. */
export interface ResumeOutcome {
  /** Executed again (or still waiting for their data, whose R2T the host has). */
  redone: number;
  /** Completions rebuilt from their recorded result. */
  republished: number;
}

export interface ConnectionOptions {
  /** Only the discovery subsystem may be reached through this listener. */
  discoveryOnly?: boolean;
  /** Bounds the data buffers of commands in flight (shared by every connection of the target). */
  budget?: DataBudget;
  /** Records what another process needs to resume this connection; the wire must then be a UnitWire. */
  journal?: ConnectionJournal;
}

export class Connection implements ReceiverSink, Responder, QueueTransport, BudgetHolder {
  readonly peer: string;
  readonly localAddress: string;
  readonly localPort: number;
  private readonly digests = { hdgst: false, ddgst: false };
  private readonly receiver: Receiver;
  private icDone = false;
  private closed = false;
  private hpda = 0;
  private qpair: Qpair | undefined;
  /** SQ head: capsules consumed, modulo the queue size once Connect set it. */
  private sqhd = 0;
  /** The SQ head the qpair record holds (stored once per chunk fed, not per capsule). */
  private sqhdRecorded = 0;
  private readonly inflight = new TagMap<Request>();
  /** R2T transfers by transfer tag; tags are reused only after their transfer ended. */
  private readonly transfers = new TagMap<HostTransfer>();
  private nextTtag = 0;
  private pendingSqe: Buffer | undefined;
  private pendingH2C: HostTransfer | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  /** Where this queue's commands are recorded (the subsystem's state file), once Connect bound it. */
  private records: IoRecords | undefined;
  private qpSlot = -1;
  /** Data budget bytes held by this connection's commands. */
  held = 0;
  private readonly discoveryOnly: boolean;
  private readonly budget: DataBudget | undefined;
  private readonly journal: ConnectionJournal | undefined;
  private readonly uwire: UnitWire | undefined;
  /** Journal record of each command in flight, by cid (with a journal). */
  private readonly jh: Int32Array | undefined;
  /** A resumed connection re-reads PDUs the previous process parsed, up to replayEnd. */
  private replaying = false;
  private replayEnd = 0;
  /** The PDU being received is one already handled: its bytes are dropped. */
  private skipping = false;
  private scratch: Buffer | undefined;
  /** The PDUs of the C2HData being sent (reused: sendC2HData empties it before it returns). */
  private readonly c2hOut: Buffer[] = [];

  constructor(
    private readonly wire: Wire,
    private readonly target: Target,
    opts: ConnectionOptions = {},
  ) {
    this.discoveryOnly = opts.discoveryOnly ?? false;
    this.budget = opts.budget;
    this.journal = opts.journal;
    if (this.journal) {
      if (typeof (wire as UnitWire).writeUnit !== 'function') throw new Error('a journaled connection needs a UnitWire');
      this.uwire = wire as UnitWire;
      this.jh = new Int32Array(0x10000);
    }
    this.peer = wire.peer;
    this.localAddress = wire.localAddress;
    this.localPort = wire.localPort;
    this.receiver = new Receiver(this, this.digests);
    this.target.observer.connectionOpened();
    this.connectTimer = setTimeout(() => {
      if (!this.qpair) this.close('no ICReq and Connect within 10 s');
    }, CONNECT_TIMEOUT_MS);
    this.connectTimer.unref();
  }

  get boundQpair(): Qpair | undefined {
    return this.qpair;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Where the PDU being received is cut, if it is (fault injection for the resume tests). */
  get receiving(): 'header' | 'data' | undefined {
    return this.receiver.partial;
  }

  /** Bytes from the wire, chunk[0, len). Never throws: protocol errors end the connection with a C2HTermReq. */
  feed(chunk: Buffer, len = chunk.length): void {
    if (this.closed) return;
    try {
      this.receiver.feed(chunk, len);
      // The qpair record's SQ head, once per chunk of PDUs rather than per capsule (a CRC'd store each): it
      // is informational (recovery abandons the queue), and a kill leaves it at most one chunk behind.
      if (this.records !== undefined && this.sqhdRecorded !== this.sqhd) {
        this.sqhdRecorded = this.sqhd;
        this.records.storeSqhd(this.qpSlot, this.sqhd);
      }
    } catch (e) {
      if (e instanceof ProtocolError) this.terminate(e);
      else this.internalError(e);
    }
  }

  // ---- ReceiverSink ----

  onHeader(header: Buffer, info: PduInfo): Buffer | undefined {
    if (this.replaying && !posLE(this.replayEnd, this.receiver.pduStart)) {
      const r = this.replayHeader(header, info);
      if (r !== null) return r;
    }
    if (!this.icDone && info.type !== PduType.ICReq) {
      throw new ProtocolError(TermFes.PduSequenceError, CH.TYPE, 'sequence', `PDU type 0x${info.type.toString(16)} before ICReq`);
    }
    switch (info.type) {
      case PduType.ICReq:
        if (this.icDone) throw new ProtocolError(TermFes.PduSequenceError, CH.TYPE, 'sequence', 'second ICReq');
        return undefined;
      case PduType.H2CTermReq:
        return info.dataLen > 0 ? Buffer.alloc(info.dataLen) : undefined;
      case PduType.CapsuleCmd:
        return this.capsuleHeader(header, info);
      case PduType.H2CData:
        return this.h2cHeader(header, info);
    }
    throw ProtocolError.header(CH.TYPE, 'pdu_type', `unexpected PDU type 0x${info.type.toString(16)}`);
  }

  onPdu(header: Buffer, info: PduInfo, data: Buffer | undefined): void {
    if (this.skipping) {
      this.skipping = false;
      return this.parsed();
    }
    switch (info.type) {
      case PduType.ICReq:
        this.onICReq(header);
        return this.parsed();
      case PduType.H2CTermReq:
        this.target.log.warn('host terminated the connection', { peer: this.peer, fes: header.readUInt16LE(8) });
        return this.close('H2CTermReq from host');
      case PduType.CapsuleCmd:
        return this.onCapsule(info, data);
      case PduType.H2CData:
        // Recorded before its effects: if they are cut short, the data is read again from the ring for the
        // live transfer, and the completion (published after this) is never duplicated.
        this.parsed();
        return this.onH2CData(info);
    }
  }

  /** The PDU just delivered has its effects recorded (journal only). */
  private parsed(): void {
    const j = this.journal;
    if (!j) return;
    const end = this.receiver.position;
    if (this.replaying && posLE(this.replayEnd, end)) this.replaying = false;
    j.parsed(end);
  }

  /**
   * A PDU the previous process already parsed (resumed connection): its capsule is never executed again
   * (its command, if still in flight, came back from the journal), and H2CData for no live transfer are
   * dropped. Returns the buffer for a dropped PDU's data, or null when the PDU is handled as usual.
   */
  private replayHeader(header: Buffer, info: PduInfo): Buffer | undefined | null {
    switch (info.type) {
      case PduType.ICReq:
        if (!this.icDone) return null;
        break;
      case PduType.CapsuleCmd:
        break;
      case PduType.H2CData: {
        const t = this.transfers.get(readDataHeader(header).ttag);
        if (t && posLE(t.minPos, this.receiver.pduStart)) return null;
        break;
      }
      default:
        return null;
    }
    this.skipping = true;
    if (info.dataLen === 0) return undefined;
    if (!this.scratch || this.scratch.length < info.dataLen) this.scratch = Buffer.allocUnsafe(Math.max(info.dataLen, MAXH2CDATA));
    return this.scratch.subarray(0, info.dataLen);
  }

  /** Writes PDUs as one unit: through the UnitWire with a journal, else one write each. */
  private send(bufs: Buffer[], publishing?: (end: number) => void, published?: () => void): void {
    if (this.uwire) return this.uwire.writeUnit(bufs, publishing, published);
    for (let i = 0; i < bufs.length; i++) {
      if (published && i === bufs.length - 1) this.wire.write(bufs[i], published);
      else this.wire.write(bufs[i]);
    }
    if (published && bufs.length === 0) published();
  }

  private onICReq(header: Buffer): void {
    const ic = decodeICReq(header);
    if (ic.pfv !== 0) throw new ProtocolError(TermFes.UnsupportedParameter, IC.PFV, 'icreq', `PFV ${ic.pfv} is not supported`);
    if (ic.hpda > 31) throw new ProtocolError(TermFes.InvalidHeaderField, IC.HPDA_CPDA, 'icreq', `HPDA ${ic.hpda} out of range`);
    this.hpda = ic.hpda;
    const j = this.journal;
    j?.icAccepted(ic.hdgst, ic.ddgst, ic.hpda);
    this.send([encodeICResp({ pfv: 0, cpda: 0, hdgst: ic.hdgst, ddgst: ic.ddgst, maxh2cdata: MAXH2CDATA })], j ? (end) => j.icPublishing(end) : undefined);
    // Digests apply to every PDU after ICReq/ICResp.
    this.digests.hdgst = ic.hdgst;
    this.digests.ddgst = ic.ddgst;
    this.icDone = true;
  }

  private capsuleHeader(header: Buffer, info: PduInfo): Buffer | undefined {
    const sqe = Buffer.allocUnsafe(SQE_SIZE);
    header.copy(sqe, 0, CAPSULE_SQE, CAPSULE_SQE + SQE_SIZE);
    this.pendingSqe = sqe;
    if (info.dataLen === 0) return undefined;
    if (info.dataLen > INLINE_DATA_SIZE) {
      throw new ProtocolError(TermFes.DataTransferLimitExceeded, CH.PLEN, 'incapsule_len', `in-capsule data ${info.dataLen} exceeds ${INLINE_DATA_SIZE}`);
    }
    // From the pool, like R2T data: onCapsule makes it the command's pooled buffer, released with its data.
    return dataBuffers.acquire(info.dataLen);
  }

  private h2cHeader(header: Buffer, info: PduInfo): Buffer {
    const h = readDataHeader(header);
    const t = this.transfers.get(h.ttag);
    if (!t) throw ProtocolError.header(DATA.TTAG, 'h2c_ttag', `H2CData for unknown transfer tag ${h.ttag}`);
    if (h.cccid !== t.req.cid) throw ProtocolError.header(DATA.CCCID, 'h2c_cccid', `H2CData CCCID ${h.cccid} does not match transfer tag ${h.ttag} (cid ${t.req.cid})`);
    if (h.datal !== info.dataLen) throw ProtocolError.header(DATA.DATAL, 'h2c_datal', `DATAL ${h.datal} does not match PDU data length ${info.dataLen}`);
    if (h.datal > MAXH2CDATA) throw new ProtocolError(TermFes.DataTransferLimitExceeded, DATA.DATAL, 'h2c_datal', `DATAL ${h.datal} exceeds MAXH2CDATA ${MAXH2CDATA}`);
    if (h.datao !== t.received || h.datao + h.datal > t.req.transferLen) {
      throw new ProtocolError(TermFes.DataTransferOutOfRange, DATA.DATAO, 'h2c_range', `H2CData [${h.datao}, +${h.datal}) outside the expected [${t.received}, ${t.req.transferLen})`);
    }
    const last = (info.flags & PduFlag.DATA_LAST) !== 0;
    if (last !== (h.datao + h.datal === t.req.transferLen)) {
      throw ProtocolError.header(CH.FLAGS, 'h2c_last', `LAST_PDU ${last ? 'set' : 'clear'} at offset ${h.datao + h.datal} of ${t.req.transferLen}`);
    }
    this.pendingH2C = t;
    return t.req.data!.subarray(h.datao, h.datao + h.datal);
  }

  private onCapsule(info: PduInfo, inCapsule: Buffer | undefined): void {
    const sqe = this.pendingSqe!;
    this.pendingSqe = undefined;
    const q = this.qpair;
    this.sqhd = q ? (this.sqhd + 1) % (q.sqsize + 1) : this.sqhd + 1;
    const req = new Request(sqe, this, q);
    if (inCapsule) req.pooled = inCapsule;
    if (this.inflight.has(req.cid)) {
      // The host reused a command identifier still in flight: answering would be ambiguous, so the
      // association is broken.
      throw ProtocolError.header(CAPSULE_SQE + SQE.CID, 'cid_conflict', `command identifier ${req.cid} is already in flight`);
    }
    const j = this.journal;
    if (j) {
      const start = this.receiver.pduStart;
      const h = j.received(sqe, start, info.plen, inCapsule ? { off: info.pdo, len: info.dataLen } : undefined, info.dataDigestError, this.sqhd);
      if (h < 0) throw ProtocolError.header(CAPSULE_SQE + SQE.CID, 'sq_overflow', 'more commands in flight than the queue holds');
      this.jh![req.cid] = h;
      if (this.replaying && posLE(this.replayEnd, this.receiver.position)) this.replaying = false;
    }
    this.inflight.set(req.cid, req);
    this.target.inflight++;
    if (info.dataDigestError) return req.complete(Status.TransientTransportError);
    this.start(req, inCapsule);
  }

  /** Validates a received command's transfer, then requests its data or executes it (also for a resumed one). */
  private start(req: Request, inCapsule: Buffer | undefined): void {
    const sqe = req.sqe;
    const q = this.qpair;
    const sglId = sqe[SQE.SGL_TYPE];
    const xfer = xferOf(req.opcode === AdminOpc.Fabrics ? req.fctype : req.opcode);
    const len = req.transferLen;
    if (inCapsule) {
      if (sglId !== SglId.InCapsule) return req.complete(Status.SglDescriptorTypeInvalid);
      if (sqe.readBigUInt64LE(SQE.SGL_ADDR) !== 0n) return req.complete(Status.InvalidField);
      if (len !== inCapsule.length || xfer !== Xfer.HostToCtrl) return req.complete(Status.SglDataLengthInvalid);
      req.data = inCapsule;
    } else if (len > 0) {
      if (sglId === SglId.InCapsule) return req.complete(Status.SglDataLengthInvalid);
      if (sglId !== SglId.Transport) return req.complete(Status.SglDescriptorTypeInvalid);
      if (xfer === Xfer.Bidirectional) return req.complete(Status.InvalidField);
    }
    if (this.discoveryOnly && req.opcode === AdminOpc.Fabrics && !q && req.data) {
      // Listener restricted to discovery: only the discovery NQN may be connected here.
      const subnqn = req.data.subarray(256, 512).toString('utf8').replace(/\0.*$/s, '');
      if (subnqn !== this.target.discovery.nqn) return req.complete(Status.ConnectInvalidParameters, (1 << 16) | 256);
    }
    const status = this.target.check(req, q);
    if (status !== 0) return req.complete(status);
    const toHost = !inCapsule && len > 0 && xfer === Xfer.HostToCtrl;
    const fromCtrl = len > 0 && xfer === Xfer.CtrlToHost;
    if (this.budget && (toHost || fromCtrl)) {
      // The command's data buffer waits for room in the budget before it exists (R2T or backend read).
      req.budgetBytes = len;
      this.track(req, IoStage.received);
      this.budget.acquire(this, len, () => {
        if (this.closed) return this.releaseData(req);
        if (toHost) this.requestData(req);
        else this.execute(req);
      });
      return;
    }
    if (toHost) return this.requestData(req);
    this.execute(req);
  }

  /** The command's data is no longer referenced: its pooled buffer and its budget go back. */
  private releaseData(req: Request): void {
    const p = req.pooled;
    if (p) {
      req.pooled = undefined;
      dataBuffers.release(p);
    }
    const n = req.budgetBytes;
    if (n === 0) return;
    req.budgetBytes = 0;
    this.budget!.release(this, n);
  }

  /**
   * Records the command at `stage` in the state file: plain stores, no system call. Its record begins at the
   * first stage it waits in, so a command decided in the step its capsule arrived (a read, an in-capsule
   * write, a rejected command) never shows "received": one CRC'd store fewer per I/O, and nothing a kill
   * could observe is lost, since no tick passes between receiving such a command and executing it.
   */
  private track(req: Request, stage: number): void {
    const r = this.records;
    if (!r) return;
    if (req.ifh >= 0) return r.stage(req.ifh, stage);
    if (req.ifh === UNTRACKED) return;
    const q = this.qpair!;
    const io = q.qid !== 0 && (req.opcode === IoOpc.Read || req.opcode === IoOpc.Write || req.opcode === IoOpc.WriteZeroes);
    const h = r.begin(
      this.qpSlot, req.cid, req.opcode, q.qid === 0 ? 0 : req.nsid,
      io ? req.cdw(10) : 0, io ? req.cdw(11) : 0, io ? req.cdw(12) : 0,
      stage,
    );
    req.ifh = h >= 0 ? h : UNTRACKED;
  }

  private requestData(req: Request): void {
    this.track(req, IoStage.dataIn);
    const j = this.journal;
    let ttag: number;
    let minPos = 0;
    if (j) {
      // The transfer tag is the command's record: a resumed connection knows it without asking.
      ttag = this.jh![req.cid];
      minPos = j.r2tRequested(ttag);
    } else {
      ttag = this.nextTtag;
      while (this.transfers.has(ttag)) ttag = (ttag + 1) & 0xffff;
      this.nextTtag = (ttag + 1) & 0xffff;
    }
    req.data = req.pooled = dataBuffers.acquire(req.transferLen);
    this.transfers.set(ttag, { req, ttag, received: 0, digestError: false, minPos });
    this.sendR2T(req, ttag);
  }

  private sendR2T(req: Request, ttag: number): void {
    const hd = this.digests.hdgst ? DIGEST_LEN : 0;
    const b = Buffer.allocUnsafe(HLEN.R2T + hd);
    writeR2T(b, hd ? PduFlag.HDGSTF : 0, b.length, req.cid, ttag, 0, req.transferLen);
    if (hd) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.R2T)), HLEN.R2T);
    const j = this.journal;
    this.send([b], j ? (end) => j.r2tPublishing(ttag, end) : undefined);
  }

  private onH2CData(info: PduInfo): void {
    const t = this.pendingH2C!;
    this.pendingH2C = undefined;
    t.received += info.dataLen;
    if (info.dataDigestError) t.digestError = true;
    if (t.received < t.req.transferLen) return;
    this.transfers.delete(t.ttag);
    if (t.digestError) return t.req.complete(Status.TransientTransportError);
    this.execute(t.req);
  }

  private execute(req: Request): void {
    this.track(req, IoStage.executing);
    if (this.journal && this.inflight.get(req.cid) === req) this.journal.executing(this.jh![req.cid]);
    try {
      const outcome = this.target.execute(req, this.qpair, this);
      if (outcome?.ok) this.bound(outcome.qpair);
    } catch (e) {
      this.target.log.error('command handler failed', { peer: this.peer, opcode: req.opcode, cid: req.cid, error: String(e) });
      req.complete(Status.InternalError);
    }
  }

  private bound(q: Qpair): void {
    if (this.qpair === q) return;
    this.qpair = q;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (this.journal) {
      this.journal.bound(q);
      if (q.qid === 0) this.journal.controllerChanged(q);
    }
    this.records = this.target.recordsFor(q.ctrl.subsys);
    if (!this.records) return;
    this.qpSlot = this.records.allocateQpair();
    this.sqhdRecorded = this.sqhd;
    this.records.writeQpair(this.qpSlot, {
      cntlid: q.ctrl.cntlid, qid: q.qid, sqsize: q.sqsize, sqhd: this.sqhd,
      hdgst: this.digests.hdgst, ddgst: this.digests.ddgst, epoch: this.target.nextEpoch(),
    });
  }

  // ---- Responder ----

  complete(req: Request): void {
    const own = this.inflight.get(req.cid) === req;
    if (own) {
      this.inflight.delete(req.cid);
      this.target.inflight--;
    }
    const j = this.journal;
    const jh = j && own ? this.jh![req.cid] : -1;
    if (this.closed) {
      if (jh >= 0) j!.done(jh);
      return this.releaseData(req);
    }
    // A successful Connect binds the queue before its completion is out: the host relies on it from then on.
    if (!this.qpair && req.status === 0 && req.qpair && req.opcode === AdminOpc.Fabrics && req.fctype === FabricsType.Connect) this.bound(req.qpair);
    if (j) return this.completeUnit(req, jh);
    // The record ends in the step that queues the completion (the bytes leave at this tick's uncork):
    // "done-but-unsent" could not be observed for longer than these few statements, so it is not stored.
    const h = req.ifh;
    const q = req.qpair ?? this.qpair;
    const ok = req.status === 0;
    const hd = this.digests.hdgst ? DIGEST_LEN : 0;
    const data = ok ? req.data : undefined;
    const sendsData = data !== undefined && data.length > 0 && xferOf(req.opcode === AdminOpc.Fabrics ? req.fctype : req.opcode) === Xfer.CtrlToHost;
    const skipResp = sendsData && q !== undefined && !q.sqFlowControl;
    if (sendsData) this.sendC2HData(req, data!, skipResp);
    else this.releaseData(req);
    if (!skipResp) {
      const b = Buffer.allocUnsafe(HLEN.CapsuleResp + hd);
      writeCommonHeader(b, PduType.CapsuleResp, hd ? PduFlag.HDGSTF : 0, HLEN.CapsuleResp, 0, b.length);
      writeCqe(b, 8, req.dw0, req.dw1, this.sqhd, q?.qid ?? 0, req.cid, req.status);
      if (hd) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.CapsuleResp)), HLEN.CapsuleResp);
      this.wire.write(b);
    }
    if (!ok && q) q.ctrl.recordError(q.qid, req.cid, req.status, req.opcode === AdminOpc.Fabrics ? 0 : req.nsid);
    if (h >= 0) this.records!.end(h);
    this.target.observer.commandCompleted(q, req, (performance.now() - req.startedAt) / 1000);
    void CQE_SIZE;
  }

  /** complete() with a journal: the C2HData (if any) and the CapsuleResp are one unit, recorded before it is out. */
  private completeUnit(req: Request, jh: number): void {
    const j = this.journal!;
    const q = req.qpair ?? this.qpair;
    const ok = req.status === 0;
    const hd = this.digests.hdgst ? DIGEST_LEN : 0;
    const data = ok ? req.data : undefined;
    const sendsData = data !== undefined && data.length > 0 && xferOf(req.opcode === AdminOpc.Fabrics ? req.fctype : req.opcode) === Xfer.CtrlToHost;
    const skipResp = sendsData && q !== undefined && !q.sqFlowControl;
    const bufs: Buffer[] = [];
    if (sendsData) this.c2hData(req.cid, data!, skipResp, bufs);
    if (!skipResp) {
      const b = Buffer.allocUnsafe(HLEN.CapsuleResp + hd);
      writeCommonHeader(b, PduType.CapsuleResp, hd ? PduFlag.HDGSTF : 0, HLEN.CapsuleResp, 0, b.length);
      writeCqe(b, 8, req.dw0, req.dw1, this.sqhd, q?.qid ?? 0, req.cid, req.status);
      if (hd) b.writeUInt32LE(crc32c(b.subarray(0, HLEN.CapsuleResp)), HLEN.CapsuleResp);
      bufs.push(b);
    }
    // What an admin command changed in its controller is recorded before the host can see it done.
    if (q && q.qid === 0 && !q.ctrl.destroyed) j.controllerChanged(q);
    const { status, dw0, dw1 } = req;
    this.send(
      bufs,
      jh >= 0 ? (end) => j.completing(jh, status, dw0, dw1, sendsData, end) : undefined,
      () => {
        if (sendsData) this.releaseData(req);
        if (jh >= 0) j.done(jh);
      },
    );
    if (!sendsData) this.releaseData(req);
    if (!ok && q) q.ctrl.recordError(q.qid, req.cid, req.status, req.opcode === AdminOpc.Fabrics ? 0 : req.nsid);
    this.target.observer.commandCompleted(q, req, (performance.now() - req.startedAt) / 1000);
  }

  /** The PDUs of a C2HData carrying `data` for command `cid`, appended to `out`. */
  private c2hData(cid: number, data: Buffer, success: boolean, out: Buffer[]): void {
    const hd = this.digests.hdgst ? DIGEST_LEN : 0;
    const dd = this.digests.ddgst ? DIGEST_LEN : 0;
    const unit = (this.hpda + 1) * 4;
    const pdo = Math.ceil((HLEN.Data + hd) / unit) * unit;
    const flags = (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0) | PduFlag.DATA_LAST | (success ? PduFlag.DATA_SUCCESS : 0);
    const head = Buffer.allocUnsafe(pdo);
    writeDataHeader(head, PduType.C2HData, flags, pdo, pdo + data.length + dd, cid, 0, 0, data.length);
    if (hd) head.writeUInt32LE(crc32c(head.subarray(0, HLEN.Data)), HLEN.Data);
    if (pdo > HLEN.Data + hd) head.fill(0, HLEN.Data + hd); // the padding HPDA asks for
    out.push(head, data);
    if (dd) {
      const d = Buffer.allocUnsafe(DIGEST_LEN);
      d.writeUInt32LE(crc32c(data), 0);
      out.push(d);
    }
  }

  // ---- In-pod resume ----

  /**
   * Takes over a connection that another process served, from what its journal recorded (`s`) and the queue
   * it was bound to (rebuilt by the caller on the restored controller). Afterwards the caller feeds the rx
   * bytes from `s.head`. Every command found gets exactly one completion: a recorded result is published
   * again, a command whose R2T the host has waits for its H2CData (read again from the ring), any other is
   * executed again (reads and writes are idempotent for a host that orders its I/O).
   */
  resume(s: ResumeState, queue: Qpair | undefined): ResumeOutcome {
    const out: ResumeOutcome = { redone: 0, republished: 0 };
    const j = this.journal;
    if (!j) throw new Error('resume needs a journal');
    this.receiver.setPosition(s.head);
    this.replayEnd = s.replayEnd >>> 0;
    this.replaying = !posLE(this.replayEnd, s.head);
    if (s.ic) {
      this.hpda = s.ic.hpda;
      this.digests.hdgst = s.ic.hdgst;
      this.digests.ddgst = s.ic.ddgst;
      this.icDone = true;
      if (!s.ic.published) {
        this.send([encodeICResp({ pfv: 0, cpda: 0, hdgst: s.ic.hdgst, ddgst: s.ic.ddgst, maxh2cdata: MAXH2CDATA })], (end) => j.icPublishing(end));
      }
    }
    this.sqhd = s.sqhd;
    if (queue) {
      this.qpair = queue;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    for (const c of s.commands) {
      if (this.closed) break;
      const r = this.resumeCommand(c);
      if (r === 'republished') out.republished++;
      else if (r === 'redone') out.redone++;
    }
    return out;
  }

  private resumeCommand(c: ResumedCommand): 'republished' | 'redone' | 'dropped' {
    const req = new Request(c.sqe, this, this.qpair);
    if (this.inflight.has(req.cid)) {
      this.journal!.done(c.h);
      return 'dropped';
    }
    this.inflight.set(req.cid, req);
    this.target.inflight++;
    this.jh![req.cid] = c.h;
    if (c.result && !c.result.c2hData) {
      req.complete(c.result.status, c.result.dw0, c.result.dw1);
      return 'republished';
    }
    if (c.digestError) {
      req.complete(Status.TransientTransportError);
      return 'republished';
    }
    if (this.qpair && req.opcode === AdminOpc.Fabrics && req.fctype === FabricsType.Connect) {
      // The queue is bound only by a successful Connect: this is that Connect, executed, its result not out.
      req.qpair = this.qpair;
      req.complete(0, this.qpair.ctrl.cntlid);
      return 'republished';
    }
    if (c.r2t && (c.stage === 'r2t' || c.stage === 'executing')) {
      // The host has this R2T (or gets it now): its H2CData come from the ring, never after a second R2T.
      const len = req.transferLen;
      if (this.budget) {
        req.budgetBytes = len;
        this.budget.force(this, len);
      }
      req.data = req.pooled = dataBuffers.acquire(len);
      this.transfers.set(c.h, { req, ttag: c.h, received: 0, digestError: false, minPos: c.r2t.rxPos });
      if (!c.r2t.published) this.sendR2T(req, c.h);
      return 'redone';
    }
    this.start(req, c.inCapsule);
    return 'redone';
  }

  /** Sends a read's data; its buffer and budget are released once the data left for the socket. */
  private sendC2HData(req: Request, data: Buffer, success: boolean): void {
    const out = this.c2hOut;
    this.c2hData(req.cid, data, success, out);
    const release = req.budgetBytes > 0 || req.pooled !== undefined;
    for (let i = 0; i < out.length; i++) {
      if (out[i] === data && release) this.wire.write(data, () => this.releaseData(req));
      else this.wire.write(out[i]);
    }
    out.length = 0;
  }

  // ---- QueueTransport and teardown ----

  /** Closes without a TermReq; the queue (and, for an admin queue, its controller) goes away. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver.stop();
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.wire.end();
    this.teardown(reason);
  }

  /** The peer closed the socket or it failed. */
  wireClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver.stop();
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.teardown('connection closed by host');
  }

  private teardown(reason: string): void {
    // Commands waiting for host data never complete: their budget goes back now. Executing ones
    // release theirs when they complete (complete() releases on a closed connection).
    for (const t of this.transfers.values()) this.releaseData(t.req);
    this.budget?.cancel(this);
    this.transfers.clear();
    this.target.inflight -= this.inflight.size;
    this.inflight.clear();
    const q = this.qpair;
    this.qpair = undefined;
    if (this.records) this.records.freeQpair(this.qpSlot);
    this.records = undefined;
    this.qpSlot = -1;
    if (q) {
      this.target.observer.queueDisconnected(q);
      if (q.qid === 0) q.ctrl.destroy(reason);
      else if (q.ctrl.ioQueues.get(q.qid) === q) q.ctrl.ioQueues.delete(q.qid);
    }
    this.target.observer.connectionClosed();
  }

  private terminate(e: ProtocolError): void {
    const subnqn = this.qpair?.ctrl.subsys.nqn;
    this.target.observer.protocolError(subnqn, e.kind);
    this.target.log.warn('protocol error: sending C2HTermReq', { peer: this.peer, fes: e.fes, fei: e.fei, kind: e.kind, error: e.message });
    if (!this.closed) this.send([encodeTermReq(PduType.C2HTermReq, e.fes, e.fei, this.receiver.currentHeader())]);
    this.close(`protocol error: ${e.message}`);
  }

  private internalError(e: unknown): void {
    this.target.log.error('internal error on connection', { peer: this.peer, error: e instanceof Error ? e.stack : String(e) });
    this.target.observer.protocolError(this.qpair?.ctrl.subsys.nqn, 'internal');
    if (!this.closed) this.send([encodeTermReq(PduType.C2HTermReq, TermFes.InvalidHeaderField, 0, this.receiver.currentHeader())]);
    this.close('internal error');
  }
}
