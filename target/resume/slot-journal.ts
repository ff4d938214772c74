// A connection's journal in its slot of the rings file (journal.ts says what is recorded when).
// Invariants:
//  - a record is created by storing every field, then its STAGE word; a stage change is one STAGE store after
//    the fields it makes valid; so a kill leaves each record in its old or its new stage, never between;
//  - PARSED only grows: while a resumed connection re-reads older PDUs it never lowers it, so a capsule the
//    first process completed and forgot is never taken for a new one after a second kill;
//  - the rx head is the smallest of: the start of the PDU being parsed, the capsule of every command whose
//    in-capsule data is still needed, and the position from which the H2CData of every command with an R2T
//    out may start. Those positions are taken in stream order, so a FIFO with lazy removal finds the smallest.
import type { Qpair, TlsPeer } from '../controller/qpair.js';
import type { ConnectionJournal, ResumedCommand, ResumeState } from './journal.js';
import { SQE_SIZE } from '../protocol/sqe.js';
import { ADDR_MAX, CmdFlag, CmdStage, CtrlSnap, NQN_MAX, RW, SB, SW, posLE } from './layout.js';
import type { SlotView } from './rings-file.js';
import { faultPoint } from './faults.js';

/** The queue a slot's connection was bound to, as recorded. */
export interface RecordedBinding {
  cntlid: number;
  qid: number;
  sqsize: number;
  sqFlowControl: boolean;
  subnqn: string;
  /** The queue's host must authenticate (DH-HMAC-CHAP), and whether it had when the slot was last written. */
  auth: boolean;
  authenticated: boolean;
}

/** A controller as its admin queue's slot recorded it. */
export interface RecordedController {
  cntlid: number;
  subnqn: string;
  hostnqn: string;
  hostid: Buffer;
  kato: number;
  cc: number;
  csts: number;
  asyncEventConfig: number;
  volatileWriteCache: boolean;
  temperatureThreshold: number;
  /** Unix ms of the last capsule on this queue. */
  lastCommandMs: number;
}

export function readBinding(slot: SlotView): RecordedBinding | undefined {
  const b = slot.load(SW.BOUND);
  if ((b & 1) === 0) return undefined;
  const c = slot.load(SW.CNTLID);
  return {
    cntlid: c & 0xffff, qid: c >>> 16, sqsize: slot.load(SW.SQSIZE), sqFlowControl: (b & 2) !== 0, auth: (b & 4) !== 0, authenticated: (b & 8) !== 0,
    subnqn: slot.readString(SB.SUBNQN, NQN_MAX, SW.SUBNQN_LEN),
  };
}

export function lastCommandMs(slot: SlotView): number {
  return (slot.load(SW.LAST_CMD_MS_HI) >>> 0) * 0x1_0000_0000 + (slot.load(SW.LAST_CMD_MS_LO) >>> 0);
}

export function readController(slot: SlotView): RecordedController | undefined {
  const b = readBinding(slot);
  const which = slot.load(SW.CTRL);
  if (!b || b.qid !== 0 || (which !== 1 && which !== 2)) return undefined;
  const w = which === 1 ? SW.CTRL_A : SW.CTRL_B;
  const hostidAt = slot.headerOff + SB.CTRL_HOSTID;
  return {
    cntlid: b.cntlid, subnqn: b.subnqn,
    hostnqn: slot.readString(SB.HOSTNQN, NQN_MAX, SW.CTRL_HOSTNQN_LEN),
    hostid: Buffer.from(slot.buf.subarray(hostidAt, hostidAt + 16)),
    kato: slot.load(w + CtrlSnap.KATO) >>> 0,
    cc: slot.load(w + CtrlSnap.CC) >>> 0,
    csts: slot.load(w + CtrlSnap.CSTS) >>> 0,
    asyncEventConfig: slot.load(w + CtrlSnap.AEC) >>> 0,
    volatileWriteCache: slot.load(w + CtrlSnap.VWC) !== 0,
    temperatureThreshold: slot.load(w + CtrlSnap.TMPTH) >>> 0,
    lastCommandMs: lastCommandMs(slot),
  };
}

/** Writes the supervisor's part of a new slot: where the socket comes from. */
export function writeSocketInfo(slot: SlotView, peer: string, local: string, localPort: number, listener: number, tlsPeer?: TlsPeer): void {
  slot.writeString(SB.TLS_HOSTNQN, NQN_MAX, SW.TLS_HOSTNQN_LEN, tlsPeer?.hostNqn ?? '');
  slot.writeString(SB.TLS_SUBNQN, NQN_MAX, SW.TLS_SUBNQN_LEN, tlsPeer?.subNqn ?? '');
  slot.writeString(SB.PEER, ADDR_MAX, SW.PEER_LEN, peer);
  slot.writeString(SB.LOCAL, ADDR_MAX, SW.LOCAL_LEN, local);
  slot.store(SW.LOCAL_PORT, localPort);
  slot.store(SW.LISTENER, listener);
}

export class SlotJournal implements ConnectionJournal {
  private free: number[] = [];
  /** Per record: its flags (CmdFlag), mirrored from its STAGE word. */
  private readonly flags: Uint8Array;
  /** Per record: the token of its pin in `pins` (0: not pinned). */
  private readonly pinTok: Uint32Array;
  /** Pins in stream order: [record, position, token] triples from `pinFront` on. */
  private pins: number[] = [];
  private pinFront = 0;
  private tokens = 0;
  private parsedEnd: number;
  private parsedHigh: number;
  private head: number;
  private detached = false;

  private constructor(private readonly slot: SlotView, private readonly onHeadWhileBlocked: () => void, start: number, parsedHigh: number) {
    const n = slot.file.geometry.records;
    this.flags = new Uint8Array(n);
    this.pinTok = new Uint32Array(n);
    this.parsedEnd = start;
    this.head = start;
    this.parsedHigh = parsedHigh;
  }

  /** The journal of a connection just accepted (its slot was reset by the supervisor). */
  static fresh(slot: SlotView, onHeadWhileBlocked: () => void): SlotJournal {
    const j = new SlotJournal(slot, onHeadWhileBlocked, 0, 0);
    for (let r = slot.file.geometry.records - 1; r >= 0; r--) j.free.push(r);
    return j;
  }

  /** The journal of a connection another process served, and what the connection needs to resume. */
  static resume(slot: SlotView, onHeadWhileBlocked: () => void): { journal: SlotJournal; state: ResumeState } {
    const head = slot.rx.head;
    const txTail = slot.tx.tail;
    const parsed = slot.load(SW.PARSED) >>> 0;
    const j = new SlotJournal(slot, onHeadWhileBlocked, head, parsed);
    let replayEnd = posLE(head, parsed) ? parsed : head;
    let sqhd = slot.load(SW.SQHD) >>> 0;
    const icw = slot.load(SW.IC);
    const ic = (icw & 1) === 0 ? undefined : {
      hdgst: (icw & 2) !== 0, ddgst: (icw & 4) !== 0, hpda: (icw >>> 8) & 0xff,
      published: (icw & 8) !== 0 && posLE(slot.load(SW.IC_PUB_END) >>> 0, txTail),
    };
    const commands: ResumedCommand[] = [];
    const pins: Array<[number, number]> = [];
    const rel = (p: number) => (p - head) | 0; // stream order from the head
    for (let r = slot.file.geometry.records - 1; r >= 0; r--) {
      const sw = slot.loadRecord(r, RW.STAGE);
      const stage = sw & 0xff;
      const flags = (sw >>> 8) & 0xff;
      if (stage === CmdStage.FREE) {
        j.free.push(r);
        continue;
      }
      const capsulePos = slot.loadRecord(r, RW.CAPSULE_POS) >>> 0;
      const capsuleEnd = (capsulePos + (slot.loadRecord(r, RW.CAPSULE_LEN) >>> 0)) >>> 0;
      if (!posLE(capsuleEnd, replayEnd)) {
        // Recorded, but the kill came before PARSED moved past it.
        replayEnd = capsuleEnd;
        sqhd = slot.loadRecord(r, RW.SQHD) >>> 0;
      }
      if (stage === CmdStage.COMPLETING && posLE(slot.loadRecord(r, RW.PUB_END) >>> 0, txTail)) {
        // Its completion is out: nothing left to do.
        slot.storeRecord(r, RW.STAGE, CmdStage.FREE);
        j.free.push(r);
        continue;
      }
      j.flags[r] = flags;
      const inc = slot.loadRecord(r, RW.INCAPSULE) >>> 0;
      // Its in-capsule data is still in the ring (pinned) unless the command no longer needs it.
      const needsData = stage !== CmdStage.COMPLETING && (flags & CmdFlag.DIGEST_ERROR) === 0 && posLE(head, capsulePos);
      let inCapsule: Buffer | undefined;
      if (inc !== 0 && needsData) {
        inCapsule = slot.rx.copyOut((capsulePos + (inc & 0xffff)) >>> 0, inc >>> 16);
        pins.push([r, capsulePos]);
      }
      const r2tRx = slot.loadRecord(r, RW.R2T_RX_POS) >>> 0;
      const hasR2T = (flags & CmdFlag.R2T) !== 0;
      if (hasR2T && (stage === CmdStage.R2T || stage === CmdStage.EXECUTING) && posLE(head, r2tRx)) pins.push([r, r2tRx]);
      const sqeAt = slot.recordByte(r, RW.SQE * 4);
      commands.push({
        h: r,
        sqe: Buffer.from(slot.buf.subarray(sqeAt, sqeAt + SQE_SIZE)),
        capsulePos,
        inCapsule,
        digestError: (flags & CmdFlag.DIGEST_ERROR) !== 0,
        stage: stage === CmdStage.RECEIVED ? 'received' : stage === CmdStage.R2T ? 'r2t' : stage === CmdStage.EXECUTING ? 'executing' : 'completing',
        r2t: hasR2T ? {
          rxPos: r2tRx,
          published: stage === CmdStage.EXECUTING || (stage === CmdStage.R2T && posLE(slot.loadRecord(r, RW.R2T_PUB_END) >>> 0, txTail)),
        } : undefined,
        result: stage === CmdStage.COMPLETING ? {
          status: slot.loadRecord(r, RW.STATUS) & 0xffff, dw0: slot.loadRecord(r, RW.DW0) >>> 0, dw1: slot.loadRecord(r, RW.DW1) >>> 0,
          c2hData: (flags & CmdFlag.C2H_DATA) !== 0,
        } : undefined,
      });
    }
    // The ICReq is always the first PDU, 128 bytes: once its parameters are recorded it is never taken again.
    if (ic && posLE(replayEnd, 128) && posLE(head, 0)) replayEnd = 128;
    commands.sort((a, b) => rel(a.capsulePos) - rel(b.capsulePos));
    pins.sort((a, b) => rel(a[1]) - rel(b[1]));
    for (const [r, p] of pins) j.pin(r, p);
    if (posLE(j.parsedHigh, replayEnd)) j.parsedHigh = replayEnd;
    return { journal: j, state: { head, replayEnd, ic, sqhd, commands } };
  }

  /** Stops every store: the slot is being released (a late completion must not touch a reused slot). */
  detach(): void {
    this.detached = true;
  }

  /** Records in use. */
  get inUse(): number {
    return this.slot.file.geometry.records - this.free.length;
  }

  // ---- ConnectionJournal ----

  icAccepted(hdgst: boolean, ddgst: boolean, hpda: number): void {
    if (this.detached) return;
    this.slot.store(SW.IC, 1 | (hdgst ? 2 : 0) | (ddgst ? 4 : 0) | ((hpda & 0xff) << 8));
  }

  icPublishing(end: number): void {
    if (this.detached) return;
    this.slot.store(SW.IC_PUB_END, end);
    this.slot.store(SW.IC, this.slot.load(SW.IC) | 8);
    faultPoint('icresp-before-tail');
  }

  bound(q: Qpair): void {
    if (this.detached) return;
    const s = this.slot;
    s.store(SW.CNTLID, (q.ctrl.cntlid & 0xffff) | (q.qid << 16));
    s.store(SW.SQSIZE, q.sqsize);
    s.writeString(SB.SUBNQN, NQN_MAX, SW.SUBNQN_LEN, q.ctrl.subsys.nqn);
    if (q.qid === 0) {
      s.writeString(SB.HOSTNQN, NQN_MAX, SW.CTRL_HOSTNQN_LEN, q.ctrl.hostnqn);
      q.ctrl.hostid.copy(s.buf, s.headerOff + SB.CTRL_HOSTID, 0, 16);
      this.controllerChanged(q);
    }
    this.authChanged(q);
  }

  /**
   * The queue's binding word, with its DH-HMAC-CHAP state: written at Connect and again before the completion
   * of each Authentication Send/Receive is published, so a successor never serves a queue the host has not
   * authenticated, nor refuses one it has (the host is told only after the word is written).
   */
  authChanged(q: Qpair): void {
    if (this.detached) return;
    this.slot.store(SW.BOUND, 1 | (q.sqFlowControl ? 2 : 0) | (q.auth ? 4 : 0) | (q.auth?.authenticated ? 8 : 0));
  }

  controllerChanged(q: Qpair): void {
    if (this.detached) return;
    const s = this.slot;
    const c = q.ctrl;
    const cur = s.load(SW.CTRL);
    const next = cur === 1 ? 2 : 1;
    const w = next === 1 ? SW.CTRL_A : SW.CTRL_B;
    s.store(w + CtrlSnap.KATO, c.kato);
    s.store(w + CtrlSnap.CC, c.cc);
    s.store(w + CtrlSnap.CSTS, c.csts);
    s.store(w + CtrlSnap.AEC, c.features.asyncEventConfig);
    s.store(w + CtrlSnap.VWC, c.features.volatileWriteCache ? 1 : 0);
    s.store(w + CtrlSnap.TMPTH, c.features.temperatureThreshold);
    s.store(SW.CTRL, next);
  }

  parsed(end: number): void {
    if (this.detached) return;
    this.parsedEnd = end;
    if (posLE(this.parsedHigh, end)) {
      this.parsedHigh = end;
      this.slot.storeOwn(SW.PARSED, end);
    }
    this.updateHead();
  }

  received(sqe: Buffer, pos: number, plen: number, inCapsule: { off: number; len: number } | undefined, digestError: boolean, sqhdAfter: number): number {
    const r = this.free.pop();
    if (this.detached) return r ?? -1;
    if (r === undefined) return -1;
    const s = this.slot;
    s.storeRecordOwn(r, RW.CAPSULE_POS, pos);
    s.storeRecordOwn(r, RW.CAPSULE_LEN, plen);
    s.storeRecordOwn(r, RW.INCAPSULE, inCapsule ? (inCapsule.off & 0xffff) | (inCapsule.len << 16) : 0);
    s.storeRecordOwn(r, RW.SQHD, sqhdAfter);
    s.buf.set(sqe.length === SQE_SIZE ? sqe : sqe.subarray(0, SQE_SIZE), s.recordByte(r, RW.SQE * 4));
    const flags = digestError ? CmdFlag.DIGEST_ERROR : 0;
    this.flags[r] = flags;
    s.storeRecordOwn(r, RW.STAGE, CmdStage.RECEIVED | (flags << 8));
    faultPoint('capsule-recorded');
    s.storeOwn(SW.SQHD, sqhdAfter);
    const now = Date.now();
    s.storeOwn(SW.LAST_CMD_MS_LO, now % 0x1_0000_0000);
    s.storeOwn(SW.LAST_CMD_MS_HI, Math.floor(now / 0x1_0000_0000));
    if (inCapsule && !digestError) this.pin(r, pos);
    this.parsed((pos + plen) >>> 0);
    return r;
  }

  r2tRequested(h: number): number {
    const rx = this.parsedEnd;
    if (this.detached) return rx;
    this.flags[h] |= CmdFlag.R2T;
    this.slot.storeRecordOwn(h, RW.R2T_RX_POS, rx);
    this.slot.storeRecordOwn(h, RW.STAGE, CmdStage.RECEIVED | (this.flags[h] << 8));
    this.pin(h, rx);
    return rx;
  }

  r2tPublishing(h: number, end: number): void {
    if (this.detached) return;
    this.slot.storeRecordOwn(h, RW.R2T_PUB_END, end);
    this.slot.storeRecordOwn(h, RW.STAGE, CmdStage.R2T | (this.flags[h] << 8));
    faultPoint('r2t-before-tail');
  }

  executing(h: number): void {
    if (this.detached) return;
    this.slot.storeRecordOwn(h, RW.STAGE, CmdStage.EXECUTING | (this.flags[h] << 8));
    faultPoint('executing');
  }

  completing(h: number, status: number, dw0: number, dw1: number, c2hData: boolean, end: number): void {
    if (this.detached) return;
    const s = this.slot;
    faultPoint('before-completion');
    s.storeRecordOwn(h, RW.STATUS, status);
    s.storeRecordOwn(h, RW.DW0, dw0);
    s.storeRecordOwn(h, RW.DW1, dw1);
    s.storeRecordOwn(h, RW.PUB_END, end);
    if (c2hData) this.flags[h] |= CmdFlag.C2H_DATA;
    s.storeRecordOwn(h, RW.STAGE, CmdStage.COMPLETING | (this.flags[h] << 8));
    faultPoint('completion-before-tail');
  }

  done(h: number): void {
    if (this.detached) return;
    faultPoint('completion-after-tail');
    this.slot.storeRecordOwn(h, RW.STAGE, CmdStage.FREE);
    this.flags[h] = 0;
    this.pinTok[h] = 0;
    this.free.push(h);
    this.updateHead();
  }

  // ---- the rx head ----

  private pin(r: number, pos: number): void {
    this.tokens = (this.tokens + 1) >>> 0 || 1;
    this.pinTok[r] = this.tokens;
    this.pins.push(r, pos, this.tokens);
  }

  private updateHead(): void {
    let head = this.parsedEnd;
    const p = this.pins;
    while (this.pinFront < p.length) {
      const r = p[this.pinFront];
      if (this.pinTok[r] === p[this.pinFront + 2]) {
        head = p[this.pinFront + 1];
        break;
      }
      this.pinFront += 3;
    }
    if (this.pinFront > 3 * 1024 && this.pinFront * 2 > p.length) {
      this.pins = p.slice(this.pinFront);
      this.pinFront = 0;
    }
    // Never backwards: the supervisor may already have written over what lies behind the head.
    if (head === this.head || !posLE(this.head, head)) return;
    this.head = head;
    this.slot.rx.setHead(head);
    if (this.slot.load(SW.RX_BLOCKED) !== 0) this.onHeadWhileBlocked();
  }
}
