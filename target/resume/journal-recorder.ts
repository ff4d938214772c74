// A connection's recorder in in-pod resume: its steps go into its journal (journal.ts says what is recorded
// when; slot-journal.ts stores it), and a connection that another process served is taken over from what the
// journal kept: resumeConnection() rebuilds its commands, then replayed() drops the PDUs the previous process
// had already handled while the connection re-reads the rx ring from its head.
// Invariants:
//  - the transfer tag of a command's R2T is its journal record, so a resumed connection knows it;
//  - every command found in the journal gets exactly one completion: a recorded result is published again,
//    a command whose R2T the host has waits for its H2CData (read again from the ring), any other is executed
//    again (reads and writes are idempotent for a host that orders its I/O);
//  - during the replay a capsule is never executed twice, and an H2CData is taken only for a transfer still
//    waiting for it and at or after the rx position from which that transfer's data may come.
import type { Qpair } from '../controller/qpair.js';
import type { Request } from '../controller/request.js';
import { AdminOpc, FabricsType } from '../protocol/opcodes.js';
import { PduType, readDataHeader } from '../protocol/pdu.js';
import { Status } from '../protocol/status.js';
import type { Connection } from '../transport/connection.js';
import type { PduInfo } from '../transport/receiver.js';
import type { ConnectionRecorder } from '../transport/recorder.js';
import type { ConnectionJournal, ResumedCommand, ResumeState } from './journal.js';
import { posLE } from './layout.js';

/** What a resume did with the commands it found. */
export interface ResumeOutcome {
  /** Executed again (or still waiting for their data, whose R2T the host has). */
  redone: number;
  /** Completions rebuilt from their recorded result. */
  republished: number;
}

export class JournalRecorder implements ConnectionRecorder {
  readonly units = true;
  /** Journal record of each command in flight, by cid. */
  private readonly handles = new Int32Array(0x10000);
  /** By record: 1 while its R2T transfer waits for data, and the rx position its H2CData start at or after. */
  private readonly awaiting: Uint8Array;
  private readonly dataFrom: Int32Array;
  /** The ICReq's parameters are recorded (its PDU is never taken again). */
  private icRecorded = false;
  /** A resumed connection re-reads PDUs the previous process parsed, up to replayEnd. */
  private replaying = false;
  private replayEnd = 0;

  constructor(readonly journal: ConnectionJournal, records: number) {
    this.awaiting = new Uint8Array(records);
    this.dataFrom = new Int32Array(records);
  }

  icAccepted(hdgst: boolean, ddgst: boolean, hpda: number): void {
    this.icRecorded = true;
    this.journal.icAccepted(hdgst, ddgst, hpda);
  }

  icPublishing(end: number): void {
    this.journal.icPublishing(end);
  }

  bound(q: Qpair): void {
    this.journal.bound(q);
    if (q.qid === 0) this.journal.controllerChanged(q);
  }

  chunkFed(): void {}

  parsed(end: number): void {
    if (this.replaying && posLE(this.replayEnd, end)) this.replaying = false;
    this.journal.parsed(end);
  }

  received(req: Request, pos: number, plen: number, dataOff: number, dataLen: number, digestError: boolean, sqhd: number): boolean {
    const h = this.journal.received(req.sqe, pos, plen, dataLen > 0 ? { off: dataOff, len: dataLen } : undefined, digestError, sqhd);
    if (h < 0) return false;
    this.handles[req.cid] = h;
    if (this.replaying && posLE(this.replayEnd, (pos + plen) >>> 0)) this.replaying = false;
    return true;
  }

  waiting(): void {}

  r2tRequested(req: Request): void {
    const h = this.handles[req.cid];
    this.expect(h, this.journal.r2tRequested(h));
  }

  transferTag(req: Request): number {
    return this.handles[req.cid];
  }

  r2tPublishing(ttag: number, end: number): void {
    this.journal.r2tPublishing(ttag, end);
  }

  executing(req: Request): void {
    const h = this.handles[req.cid];
    this.awaiting[h] = 0;
    this.journal.executing(h);
  }

  completing(req: Request, q: Qpair | undefined): number {
    const h = this.handles[req.cid];
    this.awaiting[h] = 0;
    // What an admin command changed in its controller is recorded before the host can see it done.
    if (q && q.qid === 0 && !q.ctrl.destroyed) this.journal.controllerChanged(q);
    // So is what an AUTH message changed in its queue (authenticated, or not).
    if (q?.auth && req.opcode === AdminOpc.Fabrics && (req.fctype === FabricsType.AuthSend || req.fctype === FabricsType.AuthReceive)) this.journal.authChanged(q);
    return h;
  }

  completionPublishing(h: number, status: number, dw0: number, dw1: number, c2hData: boolean, end: number): void {
    this.journal.completing(h, status, dw0, dw1, c2hData, end);
  }

  completionPublished(h: number): void {
    this.journal.done(h);
  }

  completed(): void {}

  retired(req: Request): void {
    const h = this.handles[req.cid];
    this.awaiting[h] = 0;
    this.journal.done(h);
  }

  closed(): void {}

  replayed(header: Buffer, info: PduInfo, pduStart: number): boolean {
    if (!this.replaying || posLE(this.replayEnd, pduStart)) return false;
    switch (info.type) {
      case PduType.ICReq:
        return this.icRecorded;
      case PduType.CapsuleCmd:
        // Its command, if still in flight, came back from the journal.
        return true;
      case PduType.H2CData: {
        const h = readDataHeader(header).ttag;
        return !(h < this.awaiting.length && this.awaiting[h] === 1 && posLE(this.dataFrom[h], pduStart));
      }
      default:
        return false;
    }
  }

  /** Record `h`'s transfer waits for H2CData starting at or after rx position `from`. */
  private expect(h: number, from: number): void {
    this.awaiting[h] = 1;
    this.dataFrom[h] = from;
  }

  /**
   * Takes over a connection that another process served, from what its journal recorded (`s`) and the queue
   * it was bound to (rebuilt by the caller on the restored controller). Afterwards the caller feeds the rx
   * bytes from `s.head`.
   */
  resume(conn: Connection, s: ResumeState, queue: Qpair | undefined): ResumeOutcome {
    const out: ResumeOutcome = { redone: 0, republished: 0 };
    this.replayEnd = s.replayEnd >>> 0;
    this.replaying = !posLE(this.replayEnd, s.head);
    this.icRecorded = s.ic !== undefined;
    conn.takeOver(s.head, s.ic, s.sqhd, queue);
    for (const c of s.commands) {
      if (conn.isClosed) break;
      const r = this.resumeCommand(conn, c);
      if (r === 'republished') out.republished++;
      else if (r === 'redone') out.redone++;
    }
    return out;
  }

  private resumeCommand(conn: Connection, c: ResumedCommand): 'republished' | 'redone' | 'dropped' {
    const req = conn.adopt(c.sqe);
    if (!req) {
      this.journal.done(c.h);
      return 'dropped';
    }
    this.handles[req.cid] = c.h;
    if (c.result && !c.result.c2hData) {
      req.complete(c.result.status, c.result.dw0, c.result.dw1);
      return 'republished';
    }
    if (c.digestError) {
      req.complete(Status.TransientTransportError);
      return 'republished';
    }
    const q = conn.boundQpair;
    if (q && req.opcode === AdminOpc.Fabrics && req.fctype === FabricsType.Connect) {
      // The queue is bound only by a successful Connect: this is that Connect, executed, its result not out.
      req.qpair = q;
      req.complete(0, q.ctrl.cntlid);
      return 'republished';
    }
    if (c.r2t && (c.stage === 'r2t' || c.stage === 'executing')) {
      // The host has this R2T (or gets it now): its H2CData come from the ring, never after a second R2T.
      this.expect(c.h, c.r2t.rxPos);
      conn.awaitData(req, c.h, !c.r2t.published);
      return 'redone';
    }
    conn.start(req, c.inCapsule);
    return 'redone';
  }
}
