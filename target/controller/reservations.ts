// Reservation commands and what goes with them (NVMe Base 2.0, 8.19; Linux drivers/nvme/target/pr.c):
// Register, Acquire, Release and Report on I/O queues; Reservation Conflict for I/O that a reservation
// forbids; the Reservation Notification log page (80h) and its asynchronous event; features 82h
// (notification mask, per controller and namespace) and 83h (Persist Through Power Loss, per namespace);
// RESCAP for Identify Namespace. The decisions are the pure functions of
// subsystem/reservation-state-machine.ts; this file parses commands, stores the outcome
// (subsystem/reservation-store.ts) and tells the hosts.
import { FeatureId, IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import {
  AEN_RESERVATION_LOG, CNTLID_DYNAMIC, FEATURE_PTPL, RCSTS_HOLDER, REPORT_EDS, RESV_ACQUIRE_DATA_SIZE, RESV_MASK_ALL,
  RESV_REGISTER_DATA_SIZE, RESV_RELEASE_DATA_SIZE, RegCtlExt, Rescap, ResvCdw10, ResvLog, ResvStatus,
  type ResvNoticeType,
} from '../protocol/reservations.js';
import {
  acquire, conflicts, isAllRegistrants, register, release, withPtpl, type AccessGroup, type Notice, type Outcome, type ReservationState,
} from '../subsystem/reservation-state-machine.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import type { Controller } from './controller.js';
import type { Request } from './request.js';

const BROADCAST_NSID = 0xffffffff;
/** Notifications a controller keeps until its host reads them (as nvmet); more are counted as lost. */
export const RESV_LOG_CAPACITY = 64;

export const RESERVATION_OPCODES: readonly number[] = [IoOpc.ReservationRegister, IoOpc.ReservationReport, IoOpc.ReservationAcquire, IoOpc.ReservationRelease];

export function isReservationCommand(opcode: number): boolean {
  return opcode === IoOpc.ReservationRegister || opcode === IoOpc.ReservationReport
    || opcode === IoOpc.ReservationAcquire || opcode === IoOpc.ReservationRelease;
}

// ---- per controller: notification mask, log, event ----

interface ControllerReservations {
  /** Feature 82h by nsid (0: nothing masked). */
  masks: Map<number, number>;
  log: Array<{ count: bigint; type: ResvNoticeType; nsid: number }>;
  /** Log Page Count of the last notification (0 before the first; wraps to 1). */
  count: bigint;
  /** A "Reservation Log Page Available" event was reported and the log not read since (no other until it is). */
  eventReported: boolean;
}

const perController = new WeakMap<Controller, ControllerReservations>();

function of(ctrl: Controller): ControllerReservations {
  let r = perController.get(ctrl);
  if (!r) perController.set(ctrl, (r = { masks: new Map(), log: [], count: 0n, eventReported: false }));
  return r;
}

function post(ctrl: Controller, nsid: number, type: ResvNoticeType): void {
  const r = of(ctrl);
  if (((r.masks.get(nsid) ?? 0) >> type) & 1) return;
  r.count = r.count >= 0xffff_ffff_ffff_ffffn ? 1n : r.count + 1n;
  // A full log drops the new entry; its count is used anyway, so the gap shows the host what it lost.
  if (r.log.length < RESV_LOG_CAPACITY) r.log.push({ count: r.count, type, nsid });
  if (!r.eventReported) {
    r.eventReported = true;
    ctrl.raiseAsyncEvent(AEN_RESERVATION_LOG);
  }
}

/** Every controller of a notified host gets the notice (hosts, not controllers, hold registrations). */
function deliver(notices: Notice[], nsid: number, controllers: Controller[]): void {
  for (const n of notices) {
    for (const c of controllers) if (c.hostKey === n.host && !c.destroyed) post(c, nsid, n.type);
  }
}

/**
 * Get Log Page 80h: the oldest unread notification (all zero when none), which reading removes unless the
 * host reads from an offset. Reading without RAE lets the next notification raise an event again.
 */
export function reservationLog(ctrl: Controller, retainEvent: boolean, consume: boolean): Buffer {
  const r = of(ctrl);
  const b = Buffer.alloc(ResvLog.SIZE);
  const e = consume ? r.log.shift() : r.log[0];
  if (e) {
    b.writeBigUInt64LE(e.count, ResvLog.COUNT);
    b[ResvLog.TYPE] = e.type;
    b[ResvLog.NALP] = Math.min(255, r.log.length - (consume ? 0 : 1));
    b.writeUInt32LE(e.nsid, ResvLog.NSID);
  }
  if (!retainEvent) r.eventReported = false;
  return b;
}

// ---- I/O in the presence of a reservation ----

function accessGroup(opcode: number): AccessGroup | undefined {
  switch (opcode) {
    case IoOpc.Read:
      return 'read';
    case IoOpc.Write:
    case IoOpc.WriteZeroes:
    case IoOpc.DatasetManagement:
    case IoOpc.Flush:
      return 'write';
    default:
      return undefined;
  }
}

/**
 * 0, or Reservation Conflict for an I/O command the namespace's reservation forbids this host. A Flush
 * of every namespace (NSID FFFFFFFFh) is never refused: it changes no data, only makes completed writes
 * durable, so it cannot break a fence.
 */
export function checkAccess(req: Request, ctrl: Controller): number {
  const group = accessGroup(req.opcode);
  if (!group || req.nsid === BROADCAST_NSID) return 0;
  const s = ctrl.subsys.reservations.get(req.nsid);
  if (s.rtype === 0) return 0;
  return conflicts(s, ctrl.hostKey, group) ? Status.ReservationConflict : 0;
}

/**
 * Called when an I/O command that passed its checks is about to execute: checks access again (a Preempt
 * and Abort may have landed while its data moved), completing it with Reservation Conflict if so, and
 * otherwise records it as executing for Preempt and Abort to wait on. False if it was completed.
 */
export function startIo(req: Request, ctrl: Controller): boolean {
  const status = checkAccess(req, ctrl);
  if (status !== 0) {
    req.complete(status);
    return false;
  }
  ctrl.subsys.reservations.executingFor(ctrl.hostKey, req);
  return true;
}

// ---- the commands ----

/** Checks a reservation command before its data moves; 0 or the status to complete it with. */
export function checkReservationCommand(req: Request, sub: Subsystem): number {
  if (!sub.namespaces.has(req.nsid)) return Status.InvalidNamespace;
  const need = req.opcode === IoOpc.ReservationRegister ? RESV_REGISTER_DATA_SIZE
    : req.opcode === IoOpc.ReservationAcquire ? RESV_ACQUIRE_DATA_SIZE
      : req.opcode === IoOpc.ReservationRelease ? RESV_RELEASE_DATA_SIZE : 0;
  return req.transferLen < need ? Status.SglDataLengthInvalid : 0;
}

/** Reservation Status data structure, extended (128-bit host identifiers): one entry per registered host. */
export function reservationStatus(s: ReservationState): Buffer {
  const n = s.registrants.length;
  const b = Buffer.alloc(ResvStatus.EXT_HEADER_SIZE + n * RegCtlExt.SIZE);
  b.writeUInt32LE(s.generation >>> 0, ResvStatus.GEN);
  b[ResvStatus.RTYPE] = s.rtype;
  b.writeUInt16LE(n, ResvStatus.REGCTL);
  b[ResvStatus.PTPLS] = s.ptpl ? 1 : 0;
  s.registrants.forEach((r, i) => {
    const at = ResvStatus.EXT_HEADER_SIZE + i * RegCtlExt.SIZE;
    // A registration belongs to a host, whichever controllers it connects through (and they change when
    // the target restarts): reported as the dynamic controller, as nvmet does.
    b.writeUInt16LE(CNTLID_DYNAMIC, at + RegCtlExt.CNTLID);
    const holds = s.rtype !== 0 && (isAllRegistrants(s.rtype) || s.holder === r.host);
    b[at + RegCtlExt.RCSTS] = holds ? RCSTS_HOLDER : 0;
    b.writeBigUInt64LE(r.key, at + RegCtlExt.RKEY);
    Buffer.from(r.host, 'hex').copy(b, at + RegCtlExt.HOSTID);
  });
  return b;
}

function finish(req: Request, ctrl: Controller, controllers: () => Controller[], o: Outcome): void {
  if (o.status !== 0) return req.complete(o.status);
  const sub = ctrl.subsys;
  try {
    sub.reservations.commit(req.nsid, o.state);
  } catch {
    return req.complete(Status.InternalError);
  }
  deliver(o.notices, req.nsid, controllers());
  if (o.aborted.length === 0) return req.complete(0);
  // Preempt and Abort completes once no command of a preempted host can still change the namespace.
  sub.reservations.drain(o.aborted, req.nsid).then(() => req.complete(0), () => req.complete(Status.InternalError));
}

/** Executes a checked reservation command whose data (if any) has arrived. */
export function executeReservation(req: Request, ctrl: Controller, controllers: () => Controller[]): void {
  // An all-zero host identifier names no host, so it can hold no registration.
  if (ctrl.hostid.every((x) => x === 0)) return req.complete(Status.CommandSequenceError);
  const sub = ctrl.subsys;
  const nsid = req.nsid;
  const s = sub.reservations.get(nsid);
  const cdw10 = req.cdw(10);
  const action = cdw10 & ResvCdw10.ACTION_MASK;
  const iekey = (cdw10 & ResvCdw10.IEKEY) !== 0;
  const rtype = (cdw10 >>> ResvCdw10.RTYPE_SHIFT) & 0xff;
  const key = (at: number) => (req.data as Buffer).readBigUInt64LE(at);
  switch (req.opcode) {
    case IoOpc.ReservationRegister:
      return finish(req, ctrl, controllers, register(s, ctrl.hostKey, {
        action, iekey, cptpl: cdw10 >>> ResvCdw10.CPTPL_SHIFT, crkey: key(0), nrkey: key(8),
      }, sub.reservations.limits(nsid)));
    case IoOpc.ReservationAcquire:
      return finish(req, ctrl, controllers, acquire(s, ctrl.hostKey, { action, iekey, rtype, crkey: key(0), prkey: key(8) }));
    case IoOpc.ReservationRelease:
      return finish(req, ctrl, controllers, release(s, ctrl.hostKey, { action, iekey, rtype, crkey: key(0) }));
    case IoOpc.ReservationReport: {
      // Fabrics hosts have 128-bit host identifiers: only the extended data structure can name them.
      if ((req.cdw(11) & REPORT_EDS) === 0) return req.complete(Status.HostIdInconsistentFormat);
      const numdBytes = ((cdw10 >>> 0) + 1) * 4;
      const full = reservationStatus(s);
      const out = Buffer.alloc(Math.min(numdBytes, req.transferLen));
      full.copy(out, 0, 0, Math.min(full.length, out.length));
      return req.completeWithData(out);
    }
  }
  req.complete(Status.InvalidOpcode);
}

// ---- features 82h and 83h ----

const SEL_CURRENT = 0;
const SEL_SUPPORTED = 3;
/** Get Features SEL=3: namespace specific (bit 1) and changeable (bit 2), not saveable. */
const CAP_NS_SPECIFIC_CHANGEABLE = (1 << 1) | (1 << 2);

export function isReservationFeature(fid: number): boolean {
  return fid === FeatureId.ReservationNotificationMask || fid === FeatureId.ReservationPersistence;
}

/** Namespaces a namespace-specific Set Features names: one active namespace, or all of them (FFFFFFFFh). */
function targets(sub: Subsystem, nsid: number): number[] | undefined {
  if (nsid === BROADCAST_NSID) return sub.activeNsids();
  return sub.namespaces.has(nsid) ? [nsid] : undefined;
}

export function setReservationFeature(req: Request, ctrl: Controller): void {
  const fid = req.cdw(10) & 0xff;
  const cdw11 = req.cdw(11);
  const sub = ctrl.subsys;
  const nsids = targets(sub, req.nsid);
  if (ctrl.isDiscovery) return req.complete(Status.InvalidField);
  if (!nsids) return req.complete(Status.InvalidNamespace);
  if (fid === FeatureId.ReservationNotificationMask) {
    if (cdw11 & ~RESV_MASK_ALL) return req.complete(Status.InvalidField);
    const masks = of(ctrl).masks;
    for (const nsid of nsids) masks.set(nsid, cdw11);
    return req.complete(0);
  }
  const ptpl = (cdw11 & FEATURE_PTPL) !== 0;
  if (cdw11 & ~FEATURE_PTPL) return req.complete(Status.InvalidField);
  // PTPL needs the state file: a memory namespace, or a subsystem without a state file, cannot persist.
  if (ptpl && nsids.some((n) => !sub.reservations.ptplCapable(n))) return req.complete(Status.InvalidField);
  try {
    for (const nsid of nsids) sub.reservations.commit(nsid, withPtpl(sub.reservations.get(nsid), ptpl));
  } catch {
    return req.complete(Status.InternalError);
  }
  req.complete(0);
}

export function getReservationFeature(req: Request, ctrl: Controller): void {
  const fid = req.cdw(10) & 0xff;
  const sel = (req.cdw(10) >>> 8) & 0x7;
  const sub = ctrl.subsys;
  if (ctrl.isDiscovery || sel > SEL_SUPPORTED) return req.complete(Status.InvalidField);
  if (sel === SEL_SUPPORTED) return req.complete(0, CAP_NS_SPECIFIC_CHANGEABLE);
  if (!sub.namespaces.has(req.nsid)) return req.complete(Status.InvalidNamespace);
  // Default and saved values are 0: nothing is saveable.
  if (sel !== SEL_CURRENT) return req.complete(0, 0);
  if (fid === FeatureId.ReservationNotificationMask) return req.complete(0, of(ctrl).masks.get(req.nsid) ?? 0);
  return req.complete(0, sub.reservations.get(req.nsid).ptpl ? FEATURE_PTPL : 0);
}

// ---- Identify ----

/** Identify Namespace RESCAP: every type, IEKEY as in 1.3 and later, PTPL where a state file keeps the state. */
export function rescap(sub: Subsystem, nsid: number): number {
  return Rescap.ALL_TYPES | Rescap.IEKEY_1_3 | (sub.reservations.ptplCapable(nsid) ? Rescap.PTPL : 0);
}
