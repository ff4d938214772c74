// What a connection records as it goes, for whoever needs it after this process is gone: one interface for
// both persistence seams, called by the transport core (connection.ts) at each step of a command.
//  - the state file's qpair and in-flight records (state-recorder.ts over controller/io-records.ts, which
//    state/connection-records.ts implements): informational, recovery abandons what it finds;
//  - the in-pod-resume journal (resume/journal-recorder.ts over resume/slot-journal.ts): what a successor
//    process needs to take the connection over mid-stream, and replay.
// `noRecorder` records nothing; `bothRecorders` records into two. A connection calls every method in the
// order of its steps, in the step that makes it true; every method must be cheap (plain stores: a
// connection without persistence pays one call per step). The transport knows nothing of where records go.
import type { Qpair } from '../controller/qpair.js';
import type { Request } from '../controller/request.js';
import type { PduInfo } from './receiver.js';

export interface ConnectionRecorder {
  /**
   * The connection must send through a UnitWire, every PDU in a unit whose hooks call icPublishing,
   * r2tPublishing and completionPublishing/completionPublished (the journal records where each unit ends).
   */
  readonly units: boolean;
  /** The ICReq was accepted with these parameters (before the ICResp is sent). */
  icAccepted(hdgst: boolean, ddgst: boolean, hpda: number): void;
  /** Units only: the ICResp is about to be published, ending at tx position `end`. */
  icPublishing(end: number): void;
  /** Connect bound the connection to queue `q` (before the Connect's completion is sent); the digests and SQ head then. */
  bound(q: Qpair, hdgst: boolean, ddgst: boolean, sqhd: number): void;
  /** A chunk of bytes was parsed; the SQ head after it. */
  chunkFed(sqhd: number): void;
  /** Every PDU before rx position `end` has its effects recorded (not called for capsules: see received). */
  parsed(end: number): void;
  /**
   * A capsule at rx position `pos` (PLEN `plen`) became `req`, with `dataLen` bytes of in-capsule data at
   * offset `dataOff` of the PDU (0: none); `digestError`: they failed their digest; `sqhd`: the SQ head after
   * it. False when there is no room to record it (the host sent more commands than its queue holds).
   */
  received(req: Request, pos: number, plen: number, dataOff: number, dataLen: number, digestError: boolean, sqhd: number): boolean;
  /** The command waits for room in the data budget. */
  waiting(req: Request): void;
  /** Its host data will be asked for by one R2T (before the tag is chosen and the R2T is sent). */
  r2tRequested(req: Request): void;
  /** The transfer tag its R2T must carry, or -1 to let the connection choose one. */
  transferTag(req: Request): number;
  /** Units only: its R2T (tag `ttag`) is about to be published, ending at tx position `end`. */
  r2tPublishing(ttag: number, end: number): void;
  /** All its data is in: it executes. */
  executing(req: Request): void;
  /**
   * Its result is final and its completion is about to be sent on queue `q` (units only). Returns a handle
   * for the unit's hooks below, or -1 when they have nothing to record.
   */
  completing(req: Request, q: Qpair | undefined): number;
  /** Units only: the completion recorded by handle `h` is about to be published, ending at tx position `end`. */
  completionPublishing(h: number, status: number, dw0: number, dw1: number, c2hData: boolean, end: number): void;
  /** Units only: it is published (or dropped with the connection). */
  completionPublished(h: number): void;
  /** Its completion is queued for the host: the command is over. */
  completed(req: Request): void;
  /**
   * It ends without a completion (an outstanding AER whose CID the host reused: controller/admin.ts
   * onCidReuse): its records go, so no successor process completes it. Called before the capsule that
   * reused its CID is received.
   */
  retired(req: Request): void;
  /** The connection closed: its queue is gone. */
  closed(): void;
  /**
   * A resumed connection re-reads PDUs the previous process parsed: true drops the PDU whose header this is
   * (starting at rx position `pduStart`), which the previous process already handled.
   */
  replayed(header: Buffer, info: PduInfo, pduStart: number): boolean;
}

/** Records nothing: a connection without persistence. */
export const noRecorder: ConnectionRecorder = {
  units: false,
  icAccepted() {},
  icPublishing() {},
  bound() {},
  chunkFed() {},
  parsed() {},
  received: () => true,
  waiting() {},
  r2tRequested() {},
  transferTag: () => -1,
  r2tPublishing() {},
  executing() {},
  completing: () => -1,
  completionPublishing() {},
  completionPublished() {},
  completed() {},
  retired() {},
  closed() {},
  replayed: () => false,
};

/**
 * Records into `a`, then `b`. At most one of them may choose transfer tags and completion handles (the
 * journal does); the other must answer -1.
 */
export function bothRecorders(a: ConnectionRecorder, b: ConnectionRecorder): ConnectionRecorder {
  return {
    units: a.units || b.units,
    icAccepted(hdgst, ddgst, hpda) { a.icAccepted(hdgst, ddgst, hpda); b.icAccepted(hdgst, ddgst, hpda); },
    icPublishing(end) { a.icPublishing(end); b.icPublishing(end); },
    bound(q, hdgst, ddgst, sqhd) { a.bound(q, hdgst, ddgst, sqhd); b.bound(q, hdgst, ddgst, sqhd); },
    chunkFed(sqhd) { a.chunkFed(sqhd); b.chunkFed(sqhd); },
    parsed(end) { a.parsed(end); b.parsed(end); },
    received(req, pos, plen, dataOff, dataLen, digestError, sqhd) {
      return a.received(req, pos, plen, dataOff, dataLen, digestError, sqhd) && b.received(req, pos, plen, dataOff, dataLen, digestError, sqhd);
    },
    waiting(req) { a.waiting(req); b.waiting(req); },
    r2tRequested(req) { a.r2tRequested(req); b.r2tRequested(req); },
    transferTag(req) {
      const t = a.transferTag(req);
      return t >= 0 ? t : b.transferTag(req);
    },
    r2tPublishing(ttag, end) { a.r2tPublishing(ttag, end); b.r2tPublishing(ttag, end); },
    executing(req) { a.executing(req); b.executing(req); },
    completing(req, q) {
      const h = a.completing(req, q);
      const k = b.completing(req, q);
      return h >= 0 ? h : k;
    },
    completionPublishing(h, status, dw0, dw1, c2hData, end) {
      a.completionPublishing(h, status, dw0, dw1, c2hData, end);
      b.completionPublishing(h, status, dw0, dw1, c2hData, end);
    },
    completionPublished(h) { a.completionPublished(h); b.completionPublished(h); },
    completed(req) { a.completed(req); b.completed(req); },
    retired(req) { a.retired(req); b.retired(req); },
    closed() { a.closed(); b.closed(); },
    replayed: (header, info, pduStart) => a.replayed(header, info, pduStart) || b.replayed(header, info, pduStart),
  };
}
