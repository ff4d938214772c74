// What a connection records so that another process can take it over mid-stream (in-pod resume), and what
// it is given back when it does. slot-journal.ts implements it over a slot of the rings file; the connection
// reaches it through its recorder (journal-recorder.ts, transport/recorder.ts).
//
// Positions are u32 byte counts of the connection's streams (rx: host to target, tx: target to host),
// modulo 2^32. The contract, which the connection and its recorder keep:
//  - a record is written before the bytes it is about become visible to the host: the IC parameters before
//    the ICResp, a command's R2T stage before its R2T, its result before its completion, the queue binding
//    and the controller's state before the completion that makes the host rely on them;
//  - `publishing(end)` hooks run just before the tx tail moves to `end`, so a record says where its PDUs end
//    and a reader compares that with the tail: at or below it, the host has (or will get) them; above, not;
//  - `parsed(end)` is called once a PDU's effects are recorded (for a capsule: once its record exists);
//  - the rx bytes a resumed connection may need stay in the ring: the journal keeps the rx head at or below
//    the capsule of every command whose in-capsule data is still needed, the position from which the H2CData
//    of every command whose R2T is out may start, and the start of the PDU being parsed.
import type { Qpair } from '../controller/qpair.js';

export interface ConnectionJournal {
  /** The ICReq was accepted with these parameters (stored before the ICResp is published). */
  icAccepted(hdgst: boolean, ddgst: boolean, hpda: number): void;
  /** The ICResp is about to be published, ending at tx position `end`. */
  icPublishing(end: number): void;
  /** Connect bound the queue (stored before the Connect's completion is published). */
  bound(q: Qpair): void;
  /** The admin queue's controller may have changed (CC, CSTS, KATO, features): stored before the completion. */
  controllerChanged(q: Qpair): void;
  /** Its queue's DH-HMAC-CHAP state changed (or may have): recorded before the host sees the completion. */
  authChanged(q: Qpair): void;
  /** Every PDU before rx position `end` has its effects recorded. */
  parsed(end: number): void;
  /**
   * A capsule at rx position `pos` (PLEN `plen`) became command `sqe`; `inCapsule` says where its in-capsule
   * data is in that PDU. `digestError`: its in-capsule data failed its digest. Returns the record handle, or
   * -1 when every record is taken (the host exceeded its queue size). Stores `parsed(pos + plen)` too.
   */
  received(sqe: Buffer, pos: number, plen: number, inCapsule: { off: number; len: number } | undefined, digestError: boolean, sqhdAfter: number): number;
  /** The command's R2T is decided: every H2CData for it starts at or after the rx boundary now (returned). */
  r2tRequested(h: number): number;
  /** Its R2T is about to be published, ending at tx position `end`. */
  r2tPublishing(h: number, end: number): void;
  /** All its data is in; it executes. */
  executing(h: number): void;
  /** Its result is decided and its completion is about to be published, ending at tx position `end`. */
  completing(h: number, status: number, dw0: number, dw1: number, c2hData: boolean, end: number): void;
  /** Its completion is published (or its connection is gone): the record is free. */
  done(h: number): void;
}

/** A command found in the journal when a connection is resumed, in capsule order. */
export interface ResumedCommand {
  h: number;
  sqe: Buffer;
  capsulePos: number;
  /** Its in-capsule data, read back from the rx ring. */
  inCapsule: Buffer | undefined;
  digestError: boolean;
  stage: 'received' | 'r2t' | 'executing' | 'completing';
  /** Host data comes by R2T: where its H2CData may start, and whether the R2T reached the tx ring. */
  r2t: { rxPos: number; published: boolean } | undefined;
  /** The result, when recorded (stage completing; its completion was not published). */
  result: { status: number; dw0: number; dw1: number; c2hData: boolean } | undefined;
}

export interface ResumeState {
  /** Where parsing restarts: the rx head, a PDU boundary. */
  head: number;
  /**
   * PDUs starting before this position were parsed by the previous process: capsules among them are never
   * executed again (their commands come from `commands` or are complete), and H2CData for no live transfer
   * are dropped.
   */
  replayEnd: number;
  ic: { hdgst: boolean; ddgst: boolean; hpda: number; published: boolean } | undefined;
  sqhd: number;
  commands: ResumedCommand[];
}
