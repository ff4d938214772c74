// A controller created by an admin-queue Connect (dynamic controller model) and the queues bound to it.
// Invariants:
//  - cntlid is unique within its subsystem while the controller lives (allocated by the Target);
//  - the controller is gone once its admin queue is gone: destroy() closes every I/O queue;
//  - keep-alive: any command on any of its queues counts as traffic (CTRATT.TBKAS); if none arrives for
//    KATO ms the controller fails fatally and its connections close without a TermReq (NVMe Base 2.0, 3.9).
import { CC, CSTS } from '../protocol/properties.js';
import { Status } from '../protocol/status.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import type { Qpair } from './qpair.js';
import type { Request } from './request.js';
import type { BackendError } from './observer.js';

/** Highest I/O queue ID a controller may connect (NSQA/NCQA reported 0-based). */
export const MAX_IO_QUEUES = 128;
/** AERL (0-based): up to four Asynchronous Event Requests outstanding. */
export const AERL = 3;

export interface ControllerFeatures {
  volatileWriteCache: boolean;
  asyncEventConfig: number;
  temperatureThreshold: number;
}

export interface ErrorLogEntry {
  count: bigint;
  sqid: number;
  cid: number;
  status: number;
  nsid: number;
}

export interface ControllerEvents {
  /** The controller failed or its admin queue is gone; remove it from its subsystem. */
  removed(ctrl: Controller, reason: string): void;
  /** A backend call made for one of its commands failed (logged and counted by the target). */
  backendError(ctrl: Controller, e: BackendError): void;
}

export class Controller {
  cc = 0;
  csts = 0;
  kato: number;
  readonly features: ControllerFeatures = { volatileWriteCache: true, asyncEventConfig: 0, temperatureThreshold: 0x157 };
  admin: Qpair | undefined;
  readonly ioQueues = new Map<number, Qpair>();
  readonly pendingAers: Request[] = [];
  /** Asynchronous events (completion DW0) raised while no Asynchronous Event Request was outstanding. */
  private readonly pendingEvents: number[] = [];
  /** The host identifier in hex: how reservations name the host (NVMe Base 2.0, 8.19). */
  readonly hostKey: string;
  readonly errorLog: ErrorLogEntry[] = [];
  errorCount = 0n;
  private lastActivity = Date.now();
  private kaTimer: NodeJS.Timeout | undefined;
  private gone = false;

  constructor(
    readonly cntlid: number,
    readonly subsys: Subsystem,
    readonly hostnqn: string,
    readonly hostid: Buffer,
    kato: number,
    private readonly events: ControllerEvents,
  ) {
    this.kato = kato;
    this.hostKey = hostid.toString('hex');
  }

  get isDiscovery(): boolean {
    return this.subsys.kind === 'discovery';
  }

  get ready(): boolean {
    return (this.csts & CSTS.RDY) !== 0;
  }

  get destroyed(): boolean {
    return this.gone;
  }

  /** Traffic on any queue resets the keep-alive deadline. */
  touch(): void {
    this.lastActivity = Date.now();
  }

  startKeepAlive(): void {
    if (this.kaTimer) clearTimeout(this.kaTimer);
    this.kaTimer = undefined;
    if (this.kato === 0 || this.gone) return;
    this.lastActivity = Date.now();
    this.armKeepAlive(this.kato);
  }

  /**
   * Keep-alive of a controller rebuilt by a new process (in-pod resume): the deadline still counts from the
   * last traffic the earlier process saw, so a silent host is not given a longer grace by the restart.
   */
  resumeKeepAlive(lastActivityMs: number): void {
    if (this.kaTimer) clearTimeout(this.kaTimer);
    this.kaTimer = undefined;
    this.lastActivity = lastActivityMs;
    if (this.kato === 0 || this.gone) return;
    this.armKeepAlive(Math.max(0, this.kato - (Date.now() - lastActivityMs)));
  }

  private armKeepAlive(delay: number): void {
    this.kaTimer = setTimeout(() => {
      const idle = Date.now() - this.lastActivity;
      if (idle >= this.kato) this.fatal(`keep-alive timeout: no command for ${idle} ms (KATO ${this.kato} ms)`);
      else this.armKeepAlive(this.kato - idle);
    }, delay);
    this.kaTimer.unref();
  }

  /** Property Set of CC: enable, disable (reset) and shutdown notification. */
  setCC(value: number): void {
    const old = this.cc;
    this.cc = value >>> 0;
    const enabling = (value & CC.EN) !== 0 && (old & CC.EN) === 0;
    const disabling = (value & CC.EN) === 0 && (old & CC.EN) !== 0;
    if (enabling) {
      const iosqes = (value >>> CC.IOSQES_SHIFT) & 0xf;
      const iocqes = (value >>> CC.IOCQES_SHIFT) & 0xf;
      // A discovery controller has no I/O queues; the Linux host leaves IOSQES/IOCQES 0 for it.
      if (!this.isDiscovery && (iosqes !== 6 || iocqes !== 4)) this.csts |= CSTS.CFS;
      else this.csts |= CSTS.RDY;
    }
    if (disabling) this.csts &= ~CSTS.RDY;
    if ((value & CC.SHN_MASK) !== 0) this.csts = (this.csts & ~(0x3 << CSTS.SHST_SHIFT)) | CSTS.SHST_COMPLETE;
  }

  backendError(e: BackendError): void {
    this.events.backendError(this, e);
  }

  recordError(sqid: number, cid: number, status: number, nsid: number): void {
    this.errorCount++;
    this.errorLog.unshift({ count: this.errorCount, sqid, cid, status, nsid });
    if (this.errorLog.length > 64) this.errorLog.length = 64;
  }

  queueAer(req: Request): void {
    const event = this.pendingEvents.shift();
    if (event !== undefined) {
      req.complete(0, event);
      return;
    }
    if (this.pendingAers.length > AERL) {
      req.complete(Status.AsyncEventLimitExceeded);
      return;
    }
    this.pendingAers.push(req);
  }

  /**
   * Forgets an outstanding AER without completing it (admin.ts onCidReuse: the host reused its CID). Its
   * event, if one comes, goes to another AER or waits for the next. False if `req` is not outstanding here.
   */
  retireAer(req: Request): boolean {
    const i = this.pendingAers.indexOf(req);
    if (i < 0) return false;
    this.pendingAers.splice(i, 1);
    req.retire();
    return true;
  }

  /** Reports an asynchronous event (NVMe Base 2.0, 5.2): to an outstanding AER, or to the next one. */
  raiseAsyncEvent(dw0: number): void {
    if (this.gone) return;
    const aer = this.pendingAers.shift();
    if (aer) aer.complete(0, dw0);
    else this.pendingEvents.push(dw0);
  }

  fatal(reason: string): void {
    if (this.gone) return;
    this.csts |= CSTS.CFS;
    this.destroy(reason);
  }

  /** Closes every queue and forgets the controller. Idempotent. */
  destroy(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    if (this.kaTimer) clearTimeout(this.kaTimer);
    this.kaTimer = undefined;
    // AERs die with their connection: the host cancels them when it tears the controller down.
    this.pendingAers.length = 0;
    for (const q of this.ioQueues.values()) q.transport.close(reason);
    this.ioQueues.clear();
    this.admin?.transport.close(reason);
    this.admin = undefined;
    this.events.removed(this, reason);
  }
}
