// One NVMe/TCP connection, the transport core: ICReq/ICResp, capsules, R2T/H2CData for host data, C2HData for
// controller data, CapsuleResp, TermReqs (NVMe/TCP Transport Specification 1.0; Linux drivers/nvme/target/tcp.c).
// Invariants:
//  - the connection knows PDUs, SGLs and data transfer, never what a command means (the Target does), nor
//    where its steps are recorded (its ConnectionRecorder, recorder.ts);
//  - every accepted capsule gets exactly one CapsuleResp (or a C2HData with SUCCESS when SQ flow control
//    is disabled), unless the connection closes first;
//  - a protocol error sends one C2HTermReq naming the offending field, then closes; an H2CTermReq or a
//    keep-alive expiry closes without one;
//  - host data is copied once: from the socket chunk into the command's buffer at its offset;
//  - what it sends is encoded and written by its Sender (sender.ts), its commands' data buffers come from
//    its CommandBuffers (command-buffers.ts), within the data budget.
import { CH, PduType, TermFes, CAPSULE_SQE, IC, decodeICReq, encodeCapsuleResp } from '../protocol/pdu.js';
import { SQE, SQE_SIZE, SglId, Xfer, xferOf } from '../protocol/sqe.js';
import { AdminOpc, FabricsType } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { INLINE_DATA_SIZE } from '../controller/limits.js';
import { Request, type Responder } from '../controller/request.js';
import type { Qpair, QueueTransport, TlsPeer } from '../controller/qpair.js';
import type { Target } from '../controller/target.js';
import { refusedOnDiscoveryListener } from '../controller/discovery.js';
import { retireOnCidReuse } from '../controller/admin.js';
import { Receiver, type PduInfo, type ReceiverSink } from './receiver.js';
import { ProtocolError } from './protocol-error.js';
import type { Wire } from './wire.js';
import type { DataBudget } from './data-budget.js';
import { noRecorder, type ConnectionRecorder } from './recorder.js';
import { Sender } from './sender.js';
import { CommandBuffers } from './command-buffers.js';
import { HostTransfers } from './host-transfers.js';
import { TagMap } from './tag-map.js';
import { performance } from 'node:perf_hooks';
import { ProtocolErrorLog } from './protocol-error-log.js';

/** MAXH2CDATA: the most data one H2CData PDU may carry (>= 4096, a multiple of 4). */
export const MAXH2CDATA = 128 * 1024;
/** A connection that has not completed ICReq and Connect in this time is closed. */
export const CONNECT_TIMEOUT_MS = 10_000;

export interface ConnectionOptions {
  /** Only the discovery subsystem may be reached through this listener. */
  discoveryOnly?: boolean;
  /** Bounds the data buffers of commands in flight (shared by every connection of the target). */
  budget?: DataBudget;
  /** Where its steps are recorded (default: nowhere); one asking for units needs a UnitWire. */
  recorder?: ConnectionRecorder;
}

export class Connection implements ReceiverSink, Responder, QueueTransport {
  readonly peer: string;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tlsPeer: TlsPeer | undefined;
  private readonly digests = { hdgst: false, ddgst: false };
  private readonly receiver: Receiver;
  private icDone = false;
  private closed = false;
  private qpair: Qpair | undefined;
  /** SQ head: capsules consumed, modulo the queue size once Connect set it. */
  private sqhd = 0;
  private readonly inflight = new TagMap<Request>();
  private readonly transfers = new HostTransfers(MAXH2CDATA);
  private pendingSqe: Buffer | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly discoveryOnly: boolean;
  private readonly rec: ConnectionRecorder;
  private readonly buffers: CommandBuffers;
  private readonly send: Sender;
  /** The PDU being received is dropped (the recorder said the previous process handled it). */
  private skipping = false;
  private scratch: Buffer | undefined;

  constructor(
    private readonly wire: Wire,
    private readonly target: Target,
    opts: ConnectionOptions = {},
  ) {
    this.discoveryOnly = opts.discoveryOnly ?? false;
    this.rec = opts.recorder ?? noRecorder;
    this.buffers = new CommandBuffers(opts.budget);
    this.send = new Sender(wire, this.digests, this.rec, (req) => this.buffers.release(req));
    this.peer = wire.peer;
    this.localAddress = wire.localAddress;
    this.localPort = wire.localPort;
    this.tlsPeer = wire.tlsPeer;
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
      this.rec.chunkFed(this.sqhd);
    } catch (e) {
      if (e instanceof ProtocolError) this.terminate(e);
      else this.internalError(e);
    }
  }

  // ---- ReceiverSink ----

  onHeader(header: Buffer, info: PduInfo): Buffer | undefined {
    if (this.rec.replayed(header, info, this.receiver.pduStart)) return this.skip(info.dataLen);
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
        return this.transfers.header(header, info);
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
        this.target.log.warn(ProtocolErrorLog.hostTermReq, { peer: this.peer, fes: header.readUInt16LE(8) });
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

  /** The PDU just delivered has its effects recorded. */
  private parsed(): void {
    this.rec.parsed(this.receiver.position);
  }

  /** The PDU whose header arrived is dropped: its `dataLen` bytes of data go to a scratch buffer. */
  private skip(dataLen: number): Buffer | undefined {
    this.skipping = true;
    if (dataLen === 0) return undefined;
    if (!this.scratch || this.scratch.length < dataLen) this.scratch = Buffer.allocUnsafe(Math.max(dataLen, MAXH2CDATA));
    return this.scratch.subarray(0, dataLen);
  }

  private onICReq(header: Buffer): void {
    const ic = decodeICReq(header);
    if (ic.pfv !== 0) throw new ProtocolError(TermFes.UnsupportedParameter, IC.PFV, 'icreq', `PFV ${ic.pfv} is not supported`);
    if (ic.hpda > 31) throw new ProtocolError(TermFes.InvalidHeaderField, IC.HPDA_CPDA, 'icreq', `HPDA ${ic.hpda} out of range`);
    this.rec.icAccepted(ic.hdgst, ic.ddgst, ic.hpda);
    this.send.icResp(ic.hdgst, ic.ddgst, MAXH2CDATA);
    this.negotiated(ic.hdgst, ic.ddgst, ic.hpda);
  }

  /** Digests apply to every PDU after ICReq/ICResp; C2HData data is aligned as HPDA asks. */
  private negotiated(hdgst: boolean, ddgst: boolean, hpda: number): void {
    this.digests.hdgst = hdgst;
    this.digests.ddgst = ddgst;
    this.send.hpda = hpda;
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
    return this.buffers.inCapsule(info.dataLen);
  }

  private onCapsule(info: PduInfo, inCapsule: Buffer | undefined): void {
    const sqe = this.pendingSqe!;
    this.pendingSqe = undefined;
    const q = this.qpair;
    this.sqhd = q ? (this.sqhd + 1) % (q.sqsize + 1) : this.sqhd + 1;
    const req = new Request(sqe, this, q);
    if (inCapsule) req.pooled = inCapsule;
    const prior = this.inflight.get(req.cid);
    if (prior) {
      // The host reused a command identifier still in flight: answering would be ambiguous, so the
      // association is broken, unless the command is one the host may give up on (controller/admin.ts).
      if (!retireOnCidReuse(prior, q)) {
        throw ProtocolError.header(CAPSULE_SQE + SQE.CID, 'cid_conflict', `command identifier ${req.cid} is already in flight`);
      }
      this.retired(prior);
    }
    const dataLen = inCapsule ? info.dataLen : 0;
    if (!this.rec.received(req, this.receiver.pduStart, info.plen, info.pdo, dataLen, info.dataDigestError, this.sqhd)) {
      throw ProtocolError.header(CAPSULE_SQE + SQE.CID, 'sq_overflow', 'more commands in flight than the queue holds');
    }
    this.inflight.set(req.cid, req);
    this.target.inflight++;
    if (info.dataDigestError) return req.complete(Status.TransientTransportError);
    this.start(req, inCapsule);
  }

  /** Validates a received command's transfer (its SGL), then requests its data or executes it (also for a resumed one). */
  start(req: Request, inCapsule: Buffer | undefined): void {
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
    if (this.discoveryOnly && refusedOnDiscoveryListener(req, q)) return;
    const status = this.target.check(req, q);
    if (status !== 0) return req.complete(status);
    const toHost = !inCapsule && len > 0 && xfer === Xfer.HostToCtrl;
    const fromCtrl = len > 0 && xfer === Xfer.CtrlToHost;
    if (this.buffers.budgeted && (toHost || fromCtrl)) {
      // The command's data buffer waits for room in the budget before it exists (R2T or backend read).
      this.rec.waiting(req);
      this.buffers.reserve(req, len, () => {
        if (this.closed) return this.buffers.release(req);
        if (toHost) this.requestData(req);
        else this.execute(req);
      });
      return;
    }
    if (toHost) return this.requestData(req);
    this.execute(req);
  }

  private requestData(req: Request): void {
    this.rec.r2tRequested(req);
    let ttag = this.rec.transferTag(req);
    if (ttag < 0) ttag = this.transfers.freeTag();
    this.expectData(req, ttag);
    this.send.r2t(req, ttag);
  }

  /** The command's buffer for host data, and its transfer under `ttag`. */
  private expectData(req: Request, ttag: number): void {
    this.buffers.forHostData(req);
    this.transfers.add(req, ttag);
  }

  private onH2CData(info: PduInfo): void {
    const t = this.transfers.data(info);
    if (!t) return;
    if (t.digestError) return t.req.complete(Status.TransientTransportError);
    this.execute(t.req);
  }

  private execute(req: Request): void {
    this.rec.executing(req);
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
    this.bind(q);
    this.rec.bound(q, this.digests.hdgst, this.digests.ddgst, this.sqhd);
  }

  private bind(q: Qpair): void {
    this.qpair = q;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  /** `req` ends without a completion: it leaves the in-flight commands and its records. */
  private retired(req: Request): void {
    this.inflight.delete(req.cid);
    this.target.inflight--;
    this.rec.retired(req);
    this.buffers.release(req);
    this.target.log.debug('outstanding Asynchronous Event Request retired: the host reused its command identifier', { peer: this.peer, cid: req.cid });
  }

  // ---- Responder ----

  complete(req: Request): void {
    if (this.inflight.get(req.cid) === req) {
      this.inflight.delete(req.cid);
      this.target.inflight--;
    }
    if (this.closed) return this.buffers.release(req);
    // A successful Connect binds the queue before its completion is out: the host relies on it from then on.
    if (!this.qpair && req.status === 0 && req.qpair && req.opcode === AdminOpc.Fabrics && req.fctype === FabricsType.Connect) this.bound(req.qpair);
    const q = req.qpair ?? this.qpair;
    const data = req.status === 0 ? req.data : undefined;
    const sendsData = data !== undefined && data.length > 0 && xferOf(req.opcode === AdminOpc.Fabrics ? req.fctype : req.opcode) === Xfer.CtrlToHost;
    // With SQ flow control disabled a successful C2HData says SUCCESS, and no CapsuleResp follows it.
    const skipResp = sendsData && q !== undefined && !q.sqFlowControl;
    this.send.completion(req, q, sendsData, skipResp ? undefined : encodeCapsuleResp(this.digests.hdgst, req.dw0, req.dw1, this.sqhd, q?.qid ?? 0, req.cid, req.status));
    if (req.status !== 0 && q) q.ctrl.recordError(q.qid, req.cid, req.status, req.opcode === AdminOpc.Fabrics ? 0 : req.nsid);
    this.rec.completed(req);
    this.target.observer.commandCompleted(q, req, (performance.now() - req.startedAt) / 1000);
  }

  // ---- Taking over a connection another process served (in-pod resume: resume/journal-recorder.ts) ----

  /** Continues from rx position `head` with the ICReq's parameters (its ICResp sent again unless published), SQ head and queue. */
  takeOver(head: number, ic: { hdgst: boolean; ddgst: boolean; hpda: number; published: boolean } | undefined, sqhd: number, queue: Qpair | undefined): void {
    this.receiver.setPosition(head);
    if (ic) {
      this.negotiated(ic.hdgst, ic.ddgst, ic.hpda);
      if (!ic.published) this.send.icResp(ic.hdgst, ic.ddgst, MAXH2CDATA);
    }
    this.sqhd = sqhd;
    if (queue) this.bind(queue);
  }

  /** A command the previous process received, in flight again under its cid; undefined if that cid is taken. */
  adopt(sqe: Buffer): Request | undefined {
    const req = new Request(sqe, this, this.qpair);
    if (this.inflight.has(req.cid)) return undefined;
    this.inflight.set(req.cid, req);
    this.target.inflight++;
    return req;
  }

  /** A command whose R2T (tag `ttag`) the host has, or gets now if `sendR2T`: its data must have somewhere to go. */
  awaitData(req: Request, ttag: number, sendR2T: boolean): void {
    this.buffers.force(req, req.transferLen);
    this.expectData(req, ttag);
    if (sendR2T) this.send.r2t(req, ttag);
  }

  // ---- QueueTransport and teardown ----

  /** Closes without a TermReq; the queue (and, for an admin queue, its controller) goes away. */
  close(reason: string): void {
    this.teardown(reason, true);
  }

  /** The peer closed the socket or it failed. */
  wireClosed(): void {
    this.teardown('connection closed by host', false);
  }

  private teardown(reason: string, endWire: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver.stop();
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (endWire) this.wire.end();
    // Commands waiting for host data never complete: their budget goes back now. Executing ones
    // release theirs when they complete (complete() releases on a closed connection).
    for (const req of this.transfers.clear()) this.buffers.release(req);
    this.buffers.cancel();
    this.target.inflight -= this.inflight.size;
    this.inflight.clear();
    const q = this.qpair;
    this.qpair = undefined;
    this.rec.closed();
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
    this.target.log.warn(ProtocolErrorLog.termReqSent, { peer: this.peer, fes: e.fes, fei: e.fei, kind: e.kind, error: e.message });
    if (!this.closed) this.send.termReq(e.fes, e.fei, this.receiver.currentHeader());
    this.close(`protocol error: ${e.message}`);
  }

  private internalError(e: unknown): void {
    this.target.log.error(ProtocolErrorLog.internal, { peer: this.peer, error: e instanceof Error ? e.stack : String(e) });
    this.target.observer.protocolError(this.qpair?.ctrl.subsys.nqn, 'internal');
    if (!this.closed) this.send.termReq(TermFes.InvalidHeaderField, 0, this.receiver.currentHeader());
    this.close('internal error');
  }
}
