// The reservation state machine of one namespace (NVMe Base 2.0, 8.19 Reservations; 7.2-7.4 the commands),
// as pure functions: state and command in, next state, status and notifications out. Side effects (storing
// the state, completing the command, log pages, waiting for aborted I/O) belong to the callers.
//
// Invariants of a ReservationState:
//  - hosts are named by their 128-bit host identifier (lowercase hex); a host has at most one registration;
//  - rtype 0 means "not reserved" and then holder is undefined;
//  - for the All Registrants types every registrant holds the reservation, holder is undefined, and the
//    reservation exists exactly while there is a registrant;
//  - for the other types holder is a registrant;
//  - the generation changes (wrapping at 2^32) on every successful Register, on Release with Clear and on
//    a successful Preempt or Preempt and Abort, and never otherwise.
//
// Where the specification leaves room, behaviour copies Linux drivers/nvme/target/pr.c, and where that
// departs from the specification's text, SPDK lib/nvmf/subsystem.c (each place says which).
import { AcquireAction, Cptpl, RegisterAction, ReleaseAction, ResvNotice, ResvType, type ResvNoticeType } from '../protocol/reservations.js';
import { Status } from '../protocol/status.js';

export type HostKey = string;

export interface Registrant {
  host: HostKey;
  key: bigint;
}

export interface ReservationState {
  generation: number;
  rtype: number;
  holder: HostKey | undefined;
  /** In order of registration. */
  registrants: readonly Registrant[];
  /** Persist Through Power Loss: the state survives a reboot of the node. */
  ptpl: boolean;
}

export const EMPTY_RESERVATION: ReservationState = Object.freeze({ generation: 0, rtype: 0, holder: undefined, registrants: Object.freeze([]), ptpl: false });

export interface Notice {
  host: HostKey;
  type: ResvNoticeType;
}

export interface Outcome {
  /** 0 or the status to complete the command with; on failure `state` is the old state. */
  status: number;
  state: ReservationState;
  /** Reservation notifications for hosts (never for the host that issued the command). */
  notices: Notice[];
  /** Hosts whose registration a Preempt and Abort removed: their commands in flight are aborted. */
  aborted: HostKey[];
}

export interface RegisterCommand {
  action: number;
  iekey: boolean;
  cptpl: number;
  crkey: bigint;
  nrkey: bigint;
}

export interface AcquireCommand {
  action: number;
  iekey: boolean;
  rtype: number;
  crkey: bigint;
  prkey: bigint;
}

export interface ReleaseCommand {
  action: number;
  iekey: boolean;
  rtype: number;
  crkey: bigint;
}

export interface Limits {
  /** Registrants a namespace may have (the state file keeps MAX_REGISTRANTS). */
  maxRegistrants: number;
  /** PTPL may be set (the state survives in a state file). */
  ptplCapable: boolean;
}

export function validType(rtype: number): boolean {
  return rtype >= ResvType.WriteExclusive && rtype <= ResvType.ExclusiveAccessAllRegistrants;
}

export function isAllRegistrants(rtype: number): boolean {
  return rtype === ResvType.WriteExclusiveAllRegistrants || rtype === ResvType.ExclusiveAccessAllRegistrants;
}

function isRegistrantsOnly(rtype: number): boolean {
  return rtype === ResvType.WriteExclusiveRegistrantsOnly || rtype === ResvType.ExclusiveAccessRegistrantsOnly;
}

export function registrantOf(s: ReservationState, host: HostKey): Registrant | undefined {
  return s.registrants.find((r) => r.host === host);
}

export function isHolder(s: ReservationState, host: HostKey): boolean {
  if (s.rtype === 0) return false;
  return isAllRegistrants(s.rtype) ? registrantOf(s, host) !== undefined : s.holder === host;
}

/** True when nothing is registered or reserved (PTPL aside). */
export function isClear(s: ReservationState): boolean {
  return s.rtype === 0 && s.registrants.length === 0;
}

function bump(generation: number): number {
  return (generation + 1) >>> 0;
}

function fail(s: ReservationState, status: number): Outcome {
  return { status, state: s, notices: [], aborted: [] };
}

function ok(state: ReservationState, notices: Notice[] = [], aborted: HostKey[] = []): Outcome {
  return { status: 0, state, notices, aborted };
}

function notify(hosts: Iterable<HostKey>, type: ResvNoticeType, except: HostKey): Notice[] {
  const out: Notice[] = [];
  for (const host of hosts) if (host !== except) out.push({ host, type });
  return out;
}

/** The state once `hosts` are no longer registrants: a holder that goes takes a single-holder reservation with it. */
function withoutRegistrants(s: ReservationState, hosts: ReadonlySet<HostKey>): ReservationState {
  const registrants = s.registrants.filter((r) => !hosts.has(r.host));
  let { rtype, holder } = s;
  if (rtype !== 0 && (isAllRegistrants(rtype) ? registrants.length === 0 : hosts.has(holder!))) {
    rtype = 0;
    holder = undefined;
  }
  return { ...s, rtype, holder, registrants };
}

/** Holder for a reservation of `rtype` taken by `host`. */
function holderFor(rtype: number, host: HostKey): HostKey | undefined {
  return isAllRegistrants(rtype) ? undefined : host;
}

// ---- Reservation Register (7.3; 8.19.3 registering, 8.19.4 unregistering, 8.19.5 replacing) ----

export function register(s: ReservationState, host: HostKey, c: RegisterCommand, limits: Limits): Outcome {
  if (c.cptpl === 1 || c.cptpl > Cptpl.Persist) return fail(s, Status.InvalidField);
  if (c.cptpl === Cptpl.Persist && !limits.ptplCapable) return fail(s, Status.InvalidField);
  const me = registrantOf(s, host);
  let next: ReservationState;
  const notices: Notice[] = [];
  switch (c.action) {
    case RegisterAction.Register:
      // Registering again with the same key is not an error; with another key it is a conflict.
      if (me) {
        if (me.key !== c.nrkey) return fail(s, Status.ReservationConflict);
        next = s;
      } else {
        if (s.registrants.length >= limits.maxRegistrants) return fail(s, Status.InternalError);
        next = { ...s, registrants: [...s.registrants, { host, key: c.nrkey }] };
      }
      break;
    case RegisterAction.Unregister: {
      if (!me || (!c.iekey && me.key !== c.crkey)) return fail(s, Status.ReservationConflict);
      next = withoutRegistrants(s, new Set([host]));
      // A Registrants Only reservation goes with its holder's registration: the others are told (as nvmet, SPDK).
      if (s.rtype !== 0 && next.rtype === 0 && isRegistrantsOnly(s.rtype)) {
        notices.push(...notify(next.registrants.map((r) => r.host), ResvNotice.ReservationReleased, host));
      }
      break;
    }
    case RegisterAction.Replace:
      // A host that is not registered cannot replace a key, IEKEY or not (as nvmet; SPDK registers it).
      if (!me || (!c.iekey && me.key !== c.crkey)) return fail(s, Status.ReservationConflict);
      next = { ...s, registrants: s.registrants.map((r) => (r.host === host ? { host, key: c.nrkey } : r)) };
      break;
    default:
      return fail(s, Status.InvalidField);
  }
  const ptpl = c.cptpl === Cptpl.Persist ? true : c.cptpl === Cptpl.Clear ? false : next.ptpl;
  return ok({ ...next, ptpl, generation: bump(s.generation) }, notices);
}

// ---- Reservation Acquire (7.2; 8.19.6 acquiring, 8.19.7 preempting) ----

export function acquire(s: ReservationState, host: HostKey, c: AcquireCommand): Outcome {
  // IEKEY is reserved for Acquire since revision 1.3 (RESCAP bit 7): Invalid Field, as nvmet and SPDK.
  if (c.iekey || !validType(c.rtype)) return fail(s, Status.InvalidField);
  if (c.action > AcquireAction.PreemptAndAbort) return fail(s, Status.InvalidField);
  const me = registrantOf(s, host);
  if (!me || me.key !== c.crkey) return fail(s, Status.ReservationConflict);
  if (c.action === AcquireAction.Acquire) {
    if (s.rtype === 0) return ok({ ...s, rtype: c.rtype, holder: holderFor(c.rtype, host) });
    // The holder acquiring again with the same type is not an error; anything else is a conflict.
    if (isHolder(s, host) && s.rtype === c.rtype) return ok(s);
    return fail(s, Status.ReservationConflict);
  }
  return preempt(s, host, c.rtype, c.prkey, c.action === AcquireAction.PreemptAndAbort);
}

function preempt(s: ReservationState, host: HostKey, rtype: number, prkey: bigint, abort: boolean): Outcome {
  const withKey = (key: bigint, exceptMe: boolean) =>
    new Set(s.registrants.filter((r) => r.key === key && !(exceptMe && r.host === host)).map((r) => r.host));
  let removed: Set<HostKey>;
  let next: ReservationState;
  if (s.rtype === 0) {
    // No reservation: the registrations with key PRKEY go (the issuer's own too, if it has that key).
    removed = withKey(prkey, false);
    if (removed.size === 0) return fail(s, Status.ReservationConflict);
    next = withoutRegistrants(s, removed);
  } else if (isAllRegistrants(s.rtype)) {
    if (prkey === 0n) {
      // Every other registration goes and the issuer holds a new reservation of RTYPE.
      removed = new Set(s.registrants.filter((r) => r.host !== host).map((r) => r.host));
      next = { ...withoutRegistrants(s, removed), rtype, holder: holderFor(rtype, host) };
    } else {
      removed = withKey(prkey, false);
      if (removed.size === 0) return fail(s, Status.ReservationConflict);
      next = withoutRegistrants(s, removed);
    }
  } else {
    const holderKey = registrantOf(s, s.holder!)!.key;
    if (prkey === holderKey) {
      // The holder's key: the issuer takes the reservation with RTYPE; the other registrations with that
      // key go. A holder naming its own key only changes the type (as nvmet and SPDK).
      removed = s.holder === host ? new Set() : withKey(prkey, true);
      next = { ...withoutRegistrants({ ...s, rtype: 0, holder: undefined }, removed), rtype, holder: holderFor(rtype, host) };
    } else if (prkey !== 0n) {
      removed = withKey(prkey, false);
      if (removed.size === 0) return fail(s, Status.ReservationConflict);
      next = withoutRegistrants(s, removed);
    } else {
      return fail(s, Status.InvalidField);
    }
  }
  next = { ...next, generation: bump(s.generation) };
  const notices = notify(removed, ResvNotice.RegistrationPreempted, host);
  // Registrants that stay are told when the reservation changed type under them (as nvmet).
  if (s.rtype !== 0 && next.rtype !== 0 && next.rtype !== s.rtype) {
    notices.push(...notify(next.registrants.map((r) => r.host), ResvNotice.ReservationReleased, host));
  }
  return ok(next, notices, abort ? [...removed].filter((h) => h !== host) : []);
}

// ---- Reservation Release (7.4; 8.19.8 releasing, 8.19.9 clearing) ----

export function release(s: ReservationState, host: HostKey, c: ReleaseCommand): Outcome {
  if (c.iekey) return fail(s, Status.InvalidField);
  if (c.action > ReleaseAction.Clear) return fail(s, Status.InvalidField);
  const me = registrantOf(s, host);
  if (!me || me.key !== c.crkey) return fail(s, Status.ReservationConflict);
  const others = s.registrants.map((r) => r.host);
  if (c.action === ReleaseAction.Clear) {
    const next = { ...s, rtype: 0, holder: undefined, registrants: [], generation: bump(s.generation) };
    return ok(next, notify(others, ResvNotice.ReservationPreempted, host));
  }
  // A registrant that does not hold the reservation (or none exists): success, no effect.
  if (!isHolder(s, host)) return ok(s);
  // The holder naming another type: Invalid Field (as SPDK; nvmet answers Reservation Conflict).
  if (c.rtype !== s.rtype) return fail(s, Status.InvalidField);
  const next = { ...s, rtype: 0, holder: undefined };
  const told = s.rtype === ResvType.WriteExclusive || s.rtype === ResvType.ExclusiveAccess
    ? [] : notify(others, ResvNotice.ReservationReleased, host);
  return ok(next, told);
}

// ---- I/O in the presence of a reservation (8.19.1, "Command Behavior in the Presence of a Reservation") ----

/** The read command group (Read) or the write command group (Write, Write Zeroes, Dataset Management, Flush). */
export type AccessGroup = 'read' | 'write';

/** True if `host` may not issue a command of `group` on a namespace in state `s`. */
export function conflicts(s: ReservationState, host: HostKey, group: AccessGroup): boolean {
  if (s.rtype === 0 || isHolder(s, host)) return false;
  switch (s.rtype) {
    case ResvType.WriteExclusive:
      return group === 'write';
    case ResvType.ExclusiveAccess:
      return true;
    case ResvType.WriteExclusiveRegistrantsOnly:
    case ResvType.WriteExclusiveAllRegistrants:
      return group === 'write' && registrantOf(s, host) === undefined;
    case ResvType.ExclusiveAccessRegistrantsOnly:
    case ResvType.ExclusiveAccessAllRegistrants:
      return registrantOf(s, host) === undefined;
    default:
      return false;
  }
}

// ---- Persistence ----

/** Set Features 83h: PTPL changes; nothing else does (and the generation stays). */
export function withPtpl(s: ReservationState, ptpl: boolean): ReservationState {
  return s.ptpl === ptpl ? s : { ...s, ptpl };
}

/**
 * The state a target starts with, from the state the previous process left. A restart of the process is
 * not a power loss: everything is kept. A reboot of the node is: with PTPL everything is kept, without it
 * the namespace starts as a device does at power on (nothing registered or reserved, generation 0).
 */
export function afterRestart(s: ReservationState, nodeRebooted: boolean): { state: ReservationState; cleared: boolean } {
  if (!nodeRebooted || s.ptpl || (isClear(s) && s.generation === 0)) return { state: s, cleared: false };
  return { state: EMPTY_RESERVATION, cleared: true };
}

/**
 * A state read back from storage, made to satisfy the invariants above (a record is trusted only as far as
 * it is consistent): an unknown type or a holder that is not a registrant means no reservation.
 */
export function sanitize(s: ReservationState): ReservationState {
  const seen = new Set<HostKey>();
  const registrants = s.registrants.filter((r) => !seen.has(r.host) && seen.add(r.host));
  let { rtype, holder } = s;
  if (!validType(rtype)) rtype = 0;
  if (rtype !== 0 && isAllRegistrants(rtype)) {
    holder = undefined;
    if (registrants.length === 0) rtype = 0;
  } else if (rtype !== 0 && !registrants.some((r) => r.host === holder)) {
    rtype = 0;
  }
  if (rtype === 0) holder = undefined;
  return { generation: s.generation >>> 0, rtype, holder, registrants, ptpl: s.ptpl };
}
