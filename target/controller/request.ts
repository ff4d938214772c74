// One command on a queue pair, from its capsule to its completion.
// Invariant: complete() is called exactly once per request; the transport sends the response then. The one
// exception is a retired request (an AER the host gave up on: admin.ts onCidReuse), which never completes.
import { performance } from 'node:perf_hooks';
import { SQE, sqeWord } from '../protocol/sqe.js';
import type { Qpair } from './qpair.js';

export interface Responder {
  /** Sends the completion (and any controller-to-host data) of a finished request. */
  complete(req: Request): void;
}

export class Request {
  readonly sqe: Buffer;
  readonly opcode: number;
  readonly cid: number;
  /** Host-to-controller data (after it arrived) or controller-to-host data (set by the handler). */
  data: Buffer | undefined;
  /** Bytes the SGL describes: the most the host will send or accept. */
  readonly transferLen: number;
  status = 0;
  dw0 = 0;
  dw1 = 0;
  /** Set once Connect bound the queue; undefined for a Connect itself until it succeeds. */
  qpair: Qpair | undefined;
  /** performance.now() when the capsule arrived (a double: no BigInt per command). */
  readonly startedAt = performance.now();
  /** In-flight record handle in the state file (negative: none; -1 until the command first waits in a stage). */
  ifh = -1;
  /** Bytes of the transport's data budget this command holds (0: none). */
  budgetBytes = 0;
  /** A buffer from the data pool this command holds; the transport gives it back once it is unused. */
  pooled: Buffer | undefined;
  private done = false;

  constructor(sqe: Buffer, private readonly responder: Responder, qpair: Qpair | undefined) {
    this.sqe = sqe;
    this.opcode = sqe[SQE.OPC];
    this.cid = sqe.readUInt16LE(SQE.CID);
    this.transferLen = sqe.readUInt32LE(SQE.SGL_LEN);
    this.qpair = qpair;
  }

  get nsid(): number {
    return sqeWord(this.sqe, SQE.NSID);
  }

  get fctype(): number {
    return this.sqe[SQE.FCTYPE];
  }

  cdw(n: 10 | 11 | 12 | 13 | 14 | 15): number {
    return sqeWord(this.sqe, SQE.CDW10 + (n - 10) * 4);
  }

  get completed(): boolean {
    return this.done;
  }

  /** Completes with a status (and optional result dwords). Later calls are ignored. */
  complete(status = this.status, dw0 = this.dw0, dw1 = this.dw1): void {
    if (this.done) return;
    this.done = true;
    this.status = status;
    this.dw0 = dw0;
    this.dw1 = dw1;
    this.responder.complete(this);
  }

  /** Ends without a completion: nothing is ever sent for it, and later complete() calls are ignored. */
  retire(): void {
    this.done = true;
  }

  /** Completes successfully with controller-to-host data (truncated to what the SGL allows). */
  completeWithData(data: Buffer, dw0 = 0): void {
    this.data = data.length > this.transferLen ? data.subarray(0, this.transferLen) : data;
    this.complete(0, dw0, 0);
  }
}
