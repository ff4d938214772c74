// Table tests of the reservation state machine (NVMe Base 2.0, 8.19 and 7.2-7.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status, statusName } from '../protocol/status.js';
import { AcquireAction, Cptpl, RegisterAction, ReleaseAction, ResvNotice, ResvType } from '../protocol/reservations.js';
import {
  acquire, afterRestart, conflicts, EMPTY_RESERVATION, isHolder, register, release, sanitize, withPtpl,
  type AccessGroup, type AcquireCommand, type Outcome, type RegisterCommand, type ReleaseCommand, type ReservationState,
} from './reservation-state-machine.js';

const A = '11'.repeat(16);
const B = '22'.repeat(16);
const C = '33'.repeat(16);
const D = '44'.repeat(16);
const NAMES: Record<string, string> = { [A]: 'A', [B]: 'B', [C]: 'C', [D]: 'D' };
const LIMITS = { maxRegistrants: 16, ptplCapable: true };
const { WriteExclusive: WE, ExclusiveAccess: EA, WriteExclusiveRegistrantsOnly: WERO, ExclusiveAccessRegistrantsOnly: EARO,
  WriteExclusiveAllRegistrants: WEAR, ExclusiveAccessAllRegistrants: EAAR } = ResvType;
const TYPES = [WE, EA, WERO, EARO, WEAR, EAAR];
const AR = (t: number) => t === WEAR || t === EAAR;

/** A state: registrants A=1, B=2, C=3 (or as given), reserved by `holder` with `rtype`. */
function st(o: { rtype?: number; holder?: string; regs?: Array<[string, bigint]>; gen?: number; ptpl?: boolean } = {}): ReservationState {
  const regs = o.regs ?? [[A, 1n], [B, 2n], [C, 3n]];
  const rtype = o.rtype ?? 0;
  return {
    generation: o.gen ?? 10, rtype, ptpl: o.ptpl ?? false,
    holder: rtype === 0 || AR(rtype) ? undefined : (o.holder ?? A),
    registrants: regs.map(([host, key]) => ({ host, key })),
  };
}

/** A readable summary of an outcome for comparisons. */
function sum(o: Outcome) {
  return {
    status: statusName(o.status),
    rtype: o.state.rtype,
    holder: o.state.holder === undefined ? '-' : NAMES[o.state.holder],
    regs: o.state.registrants.map((r) => `${NAMES[r.host]}=${r.key}`).join(' '),
    gen: o.state.generation,
    notices: o.notices.map((n) => `${NAMES[n.host]}:${n.type}`).sort().join(' '),
    aborted: o.aborted.map((h) => NAMES[h]).sort().join(' '),
  };
}

const REG = ResvNotice.RegistrationPreempted;
const REL = ResvNotice.ReservationReleased;
const PRE = ResvNotice.ReservationPreempted;

test('Reservation Register', () => {
  const reg = (action: number, o: { crkey?: bigint; nrkey?: bigint; iekey?: boolean; cptpl?: number } = {}): RegisterCommand =>
    ({ action, iekey: o.iekey ?? false, cptpl: o.cptpl ?? 0, crkey: o.crkey ?? 0n, nrkey: o.nrkey ?? 0n });
  const full = st({ regs: Array.from({ length: 16 }, (_, i) => [String(i).padStart(32, '0'), BigInt(i + 1)] as [string, bigint]) });
  const cases: Array<[string, ReservationState, string, RegisterCommand, Partial<ReturnType<typeof sum>>]> = [
    ['a new host registers', st({ regs: [[A, 1n]] }), B, reg(RegisterAction.Register, { nrkey: 7n }), { status: 'Success', regs: 'A=1 B=7', gen: 11 }],
    ['registering again with the same key succeeds', st(), A, reg(RegisterAction.Register, { nrkey: 1n }), { status: 'Success', regs: 'A=1 B=2 C=3', gen: 11 }],
    ['registering again with another key conflicts', st(), A, reg(RegisterAction.Register, { nrkey: 9n }), { status: 'ReservationConflict', gen: 10 }],
    ['no room for another registrant', full, A, reg(RegisterAction.Register, { nrkey: 9n }), { status: 'InternalError', gen: 10 }],
    ['unregister with the current key', st(), B, reg(RegisterAction.Unregister, { crkey: 2n }), { status: 'Success', regs: 'A=1 C=3', gen: 11 }],
    ['unregister with a wrong key conflicts', st(), B, reg(RegisterAction.Unregister, { crkey: 5n }), { status: 'ReservationConflict', regs: 'A=1 B=2 C=3' }],
    ['unregister with a wrong key and IEKEY', st(), B, reg(RegisterAction.Unregister, { crkey: 5n, iekey: true }), { status: 'Success', regs: 'A=1 C=3' }],
    ['unregister of a host not registered conflicts', st(), D, reg(RegisterAction.Unregister, { iekey: true }), { status: 'ReservationConflict' }],
    ['replace with the current key', st(), B, reg(RegisterAction.Replace, { crkey: 2n, nrkey: 20n }), { status: 'Success', regs: 'A=1 B=20 C=3', gen: 11 }],
    ['replace with a wrong key conflicts', st(), B, reg(RegisterAction.Replace, { crkey: 3n, nrkey: 20n }), { status: 'ReservationConflict' }],
    ['replace with a wrong key and IEKEY', st(), B, reg(RegisterAction.Replace, { crkey: 3n, nrkey: 20n, iekey: true }), { status: 'Success', regs: 'A=1 B=20 C=3' }],
    ['replace by a host not registered conflicts, IEKEY or not', st(), D, reg(RegisterAction.Replace, { nrkey: 20n, iekey: true }), { status: 'ReservationConflict' }],
    ['the holder replacing its key keeps the reservation', st({ rtype: WE, holder: A }), A, reg(RegisterAction.Replace, { crkey: 1n, nrkey: 5n }), { status: 'Success', rtype: WE, holder: 'A', regs: 'A=5 B=2 C=3' }],
    ['a reserved action', st(), A, reg(3), { status: 'InvalidField', gen: 10 }],
    ['CPTPL 01b is reserved', st(), A, reg(RegisterAction.Register, { nrkey: 1n, cptpl: 1 }), { status: 'InvalidField' }],
    // Unregistering the holder: the reservation goes with it, except All Registrants while someone stays.
    ['WE holder unregisters: released, nobody told', st({ rtype: WE, holder: A }), A, reg(RegisterAction.Unregister, { crkey: 1n }), { status: 'Success', rtype: 0, holder: '-', regs: 'B=2 C=3', notices: '' }],
    ['EA holder unregisters: released, nobody told', st({ rtype: EA, holder: A }), A, reg(RegisterAction.Unregister, { crkey: 1n }), { rtype: 0, notices: '' }],
    ['WE-RO holder unregisters: registrants told it was released', st({ rtype: WERO, holder: A }), A, reg(RegisterAction.Unregister, { crkey: 1n }), { rtype: 0, notices: `B:${REL} C:${REL}` }],
    ['EA-RO holder unregisters: registrants told it was released', st({ rtype: EARO, holder: A }), A, reg(RegisterAction.Unregister, { crkey: 1n }), { rtype: 0, notices: `B:${REL} C:${REL}` }],
    ['WE-AR registrant unregisters: the others still hold it', st({ rtype: WEAR }), A, reg(RegisterAction.Unregister, { crkey: 1n }), { rtype: WEAR, regs: 'B=2 C=3', notices: '' }],
    ['EA-AR last registrant unregisters: released', st({ rtype: EAAR, regs: [[A, 1n]] }), A, reg(RegisterAction.Unregister, { crkey: 1n }), { rtype: 0, regs: '', notices: '' }],
    ['a non-holder unregisters: the reservation stays', st({ rtype: WERO, holder: A }), B, reg(RegisterAction.Unregister, { crkey: 2n }), { rtype: WERO, holder: 'A', regs: 'A=1 C=3', notices: '' }],
  ];
  for (const [name, s, host, cmd, want] of cases) {
    const got = sum(register(s, host, cmd, LIMITS));
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof typeof got]])), want, name);
  }
  // The generation wraps.
  assert.equal(register(st({ gen: 0xffffffff }), A, reg(RegisterAction.Register, { nrkey: 1n }), LIMITS).state.generation, 0);
});

test('Reservation Register changes PTPL only when it succeeds, and only where it can persist', () => {
  const cmd = (cptpl: number, nrkey = 1n) => ({ action: RegisterAction.Register, iekey: false, cptpl, crkey: 0n, nrkey });
  assert.equal(register(st(), A, cmd(Cptpl.Persist), LIMITS).state.ptpl, true);
  assert.equal(register(st({ ptpl: true }), A, cmd(Cptpl.NoChange), LIMITS).state.ptpl, true);
  assert.equal(register(st({ ptpl: true }), A, cmd(Cptpl.Clear), LIMITS).state.ptpl, false);
  const failed = register(st(), A, cmd(Cptpl.Persist, 9n), LIMITS);
  assert.equal(failed.status, Status.ReservationConflict);
  assert.equal(failed.state.ptpl, false);
  assert.equal(register(st(), A, cmd(Cptpl.Persist), { ...LIMITS, ptplCapable: false }).status, Status.InvalidField);
  assert.equal(register(st(), A, cmd(Cptpl.Clear), { ...LIMITS, ptplCapable: false }).status, 0);
});

test('Reservation Acquire (acquire)', () => {
  const acq = (rtype: number, crkey: bigint, iekey = false): AcquireCommand => ({ action: AcquireAction.Acquire, iekey, rtype, crkey, prkey: 0n });
  const cases: Array<[string, ReservationState, string, AcquireCommand, Partial<ReturnType<typeof sum>>]> = [
    ...TYPES.map((t) => [`acquire type ${t} when not reserved`, st(), B, acq(t, 2n), { status: 'Success', rtype: t, holder: AR(t) ? '-' : 'B', gen: 10 }] as [string, ReservationState, string, AcquireCommand, Partial<ReturnType<typeof sum>>]),
    ['the holder acquires the same type again', st({ rtype: WE, holder: A }), A, acq(WE, 1n), { status: 'Success', rtype: WE, holder: 'A' }],
    ['the holder asks another type: conflict (preempt changes types)', st({ rtype: WE, holder: A }), A, acq(EA, 1n), { status: 'ReservationConflict', rtype: WE }],
    ['another registrant: conflict', st({ rtype: WE, holder: A }), B, acq(WE, 2n), { status: 'ReservationConflict', holder: 'A' }],
    ['an All Registrants registrant holds it already', st({ rtype: WEAR }), C, acq(WEAR, 3n), { status: 'Success', rtype: WEAR }],
    ['an All Registrants registrant asking another type: conflict', st({ rtype: WEAR }), C, acq(EAAR, 3n), { status: 'ReservationConflict', rtype: WEAR }],
    ['a host not registered: conflict', st(), D, acq(WE, 0n), { status: 'ReservationConflict', rtype: 0 }],
    ['a wrong key: conflict', st(), B, acq(WE, 9n), { status: 'ReservationConflict', rtype: 0 }],
    ['type 0 is invalid', st(), B, acq(0, 2n), { status: 'InvalidField' }],
    ['type 7 is invalid', st(), B, acq(7, 2n), { status: 'InvalidField' }],
    ['IEKEY is invalid for Acquire', st(), B, acq(WE, 2n, true), { status: 'InvalidField' }],
    ['a reserved action', st(), B, { ...acq(WE, 2n), action: 3 }, { status: 'InvalidField' }],
  ];
  for (const [name, s, host, cmd, want] of cases) {
    const got = sum(acquire(s, host, cmd));
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof typeof got]])), want, name);
  }
});

test('Reservation Acquire (preempt, preempt and abort)', () => {
  const pre = (rtype: number, crkey: bigint, prkey: bigint, abort = false): AcquireCommand =>
    ({ action: abort ? AcquireAction.PreemptAndAbort : AcquireAction.Preempt, iekey: false, rtype, crkey, prkey });
  const cases: Array<[string, ReservationState, string, AcquireCommand, Partial<ReturnType<typeof sum>>]> = [
    // Not reserved: only registrations go.
    ['no reservation: registrations with PRKEY go', st(), A, pre(WE, 1n, 2n), { status: 'Success', rtype: 0, regs: 'A=1 C=3', gen: 11, notices: `B:${REG}` }],
    ['no reservation: PRKEY matches nobody', st(), A, pre(WE, 1n, 9n), { status: 'ReservationConflict', gen: 10 }],
    ['no reservation: the issuer may name its own key', st({ regs: [[A, 1n], [B, 1n]] }), A, pre(WE, 1n, 1n), { status: 'Success', regs: '', notices: `B:${REG}` }],
    // Single holder: PRKEY is the holder's key.
    ['B preempts A (WE -> WE)', st({ rtype: WE, holder: A }), B, pre(WE, 2n, 1n), { status: 'Success', rtype: WE, holder: 'B', regs: 'B=2 C=3', gen: 11, notices: `A:${REG}` }],
    ['B preempts A changing the type: C is told', st({ rtype: WE, holder: A }), B, pre(EA, 2n, 1n), { rtype: EA, holder: 'B', regs: 'B=2 C=3', notices: `A:${REG} C:${REL}` }],
    ['every registration with the holder key goes', st({ rtype: EARO, holder: A, regs: [[A, 1n], [B, 2n], [C, 1n]] }), B, pre(EARO, 2n, 1n), { holder: 'B', regs: 'B=2', notices: `A:${REG} C:${REG}` }],
    ['the issuer keeps its registration though it has the holder key', st({ rtype: WE, holder: A, regs: [[A, 1n], [B, 1n]] }), B, pre(WE, 1n, 1n), { holder: 'B', regs: 'B=1', notices: `A:${REG}` }],
    ['B preempts A to All Registrants', st({ rtype: WE, holder: A }), B, pre(WEAR, 2n, 1n), { rtype: WEAR, holder: '-', regs: 'B=2 C=3', notices: `A:${REG} C:${REL}` }],
    ['the holder preempts itself to change the type', st({ rtype: WE, holder: A }), A, pre(EA, 1n, 1n), { status: 'Success', rtype: EA, holder: 'A', regs: 'A=1 B=2 C=3', gen: 11, notices: `B:${REL} C:${REL}` }],
    ['the holder preempts itself, same type', st({ rtype: WE, holder: A }), A, pre(WE, 1n, 1n), { status: 'Success', rtype: WE, holder: 'A', gen: 11, notices: '' }],
    // Single holder: PRKEY of a registrant that does not hold it.
    ['PRKEY of a non-holder: it loses its registration only', st({ rtype: WE, holder: A }), B, pre(WE, 2n, 3n), { status: 'Success', rtype: WE, holder: 'A', regs: 'A=1 B=2', notices: `C:${REG}` }],
    ['PRKEY matches nobody: conflict', st({ rtype: WE, holder: A }), B, pre(WE, 2n, 9n), { status: 'ReservationConflict', regs: 'A=1 B=2 C=3', gen: 10 }],
    ['PRKEY 0 with a single holder: invalid', st({ rtype: WE, holder: A }), B, pre(WE, 2n, 0n), { status: 'InvalidField', gen: 10 }],
    // All Registrants.
    ['All Registrants, PRKEY 0: everyone else goes, issuer holds RTYPE', st({ rtype: WEAR }), B, pre(WE, 2n, 0n), { status: 'Success', rtype: WE, holder: 'B', regs: 'B=2', notices: `A:${REG} C:${REG}` }],
    ['All Registrants, PRKEY 0, same type', st({ rtype: EAAR }), B, pre(EAAR, 2n, 0n), { rtype: EAAR, holder: '-', regs: 'B=2', notices: `A:${REG} C:${REG}` }],
    ['All Registrants, PRKEY of a registrant: it goes, the reservation stays', st({ rtype: EAAR }), B, pre(EAAR, 2n, 1n), { rtype: EAAR, regs: 'B=2 C=3', notices: `A:${REG}` }],
    ['All Registrants, PRKEY matches nobody', st({ rtype: EAAR }), B, pre(EAAR, 2n, 9n), { status: 'ReservationConflict' }],
    // Preempt and Abort: the same, and the preempted hosts' commands are aborted.
    ['preempt and abort names the preempted hosts', st({ rtype: EA, holder: A, regs: [[A, 1n], [B, 2n], [C, 1n]] }), B, pre(EA, 2n, 1n, true), { holder: 'B', regs: 'B=2', aborted: 'A C', notices: `A:${REG} C:${REG}` }],
    ['plain preempt aborts nothing', st({ rtype: EA, holder: A }), B, pre(EA, 2n, 1n), { aborted: '' }],
    // Common checks.
    ['a host not registered: conflict', st({ rtype: WE, holder: A }), D, pre(WE, 0n, 1n), { status: 'ReservationConflict' }],
    ['a wrong CRKEY: conflict', st({ rtype: WE, holder: A }), B, pre(WE, 9n, 1n), { status: 'ReservationConflict' }],
    ['an invalid type', st({ rtype: WE, holder: A }), B, pre(0, 2n, 1n), { status: 'InvalidField' }],
  ];
  for (const [name, s, host, cmd, want] of cases) {
    const got = sum(acquire(s, host, cmd));
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof typeof got]])), want, name);
  }
});

test('Reservation Release (release, clear)', () => {
  const rel = (rtype: number, crkey: bigint, action: number = ReleaseAction.Release, iekey = false): ReleaseCommand => ({ action, iekey, rtype, crkey });
  const cases: Array<[string, ReservationState, string, ReleaseCommand, Partial<ReturnType<typeof sum>>]> = [
    ['WE released by its holder: nobody told', st({ rtype: WE, holder: A }), A, rel(WE, 1n), { status: 'Success', rtype: 0, holder: '-', regs: 'A=1 B=2 C=3', gen: 10, notices: '' }],
    ['EA released by its holder: nobody told', st({ rtype: EA, holder: A }), A, rel(EA, 1n), { rtype: 0, notices: '' }],
    ['WE-RO released: the other registrants are told', st({ rtype: WERO, holder: A }), A, rel(WERO, 1n), { rtype: 0, notices: `B:${REL} C:${REL}` }],
    ['EA-RO released: the other registrants are told', st({ rtype: EARO, holder: A }), A, rel(EARO, 1n), { rtype: 0, notices: `B:${REL} C:${REL}` }],
    ['WE-AR released by any registrant', st({ rtype: WEAR }), C, rel(WEAR, 3n), { rtype: 0, regs: 'A=1 B=2 C=3', notices: `A:${REL} B:${REL}` }],
    ['EA-AR released by any registrant', st({ rtype: EAAR }), B, rel(EAAR, 2n), { rtype: 0, notices: `A:${REL} C:${REL}` }],
    ['a registrant that is not the holder: no effect', st({ rtype: WE, holder: A }), B, rel(WE, 2n), { status: 'Success', rtype: WE, holder: 'A' }],
    ['nothing reserved: no effect', st(), B, rel(WE, 2n), { status: 'Success', rtype: 0 }],
    ['the holder naming another type: invalid', st({ rtype: WE, holder: A }), A, rel(EA, 1n), { status: 'InvalidField', rtype: WE }],
    ['a wrong key: conflict', st({ rtype: WE, holder: A }), A, rel(WE, 2n), { status: 'ReservationConflict', rtype: WE }],
    ['a host not registered: conflict', st({ rtype: WE, holder: A }), D, rel(WE, 0n), { status: 'ReservationConflict' }],
    ['IEKEY is invalid for Release', st({ rtype: WE, holder: A }), A, rel(WE, 1n, ReleaseAction.Release, true), { status: 'InvalidField' }],
    ['a reserved action', st({ rtype: WE, holder: A }), A, rel(WE, 1n, 2), { status: 'InvalidField' }],
    ['clear by any registrant: all gone, the others told', st({ rtype: EA, holder: A }), B, rel(0, 2n, ReleaseAction.Clear), { status: 'Success', rtype: 0, regs: '', gen: 11, notices: `A:${PRE} C:${PRE}` }],
    ['clear with nothing reserved', st(), C, rel(0, 3n, ReleaseAction.Clear), { status: 'Success', regs: '', gen: 11, notices: `A:${PRE} B:${PRE}` }],
    ['clear with a wrong key: conflict', st({ rtype: EA, holder: A }), B, rel(0, 9n, ReleaseAction.Clear), { status: 'ReservationConflict', regs: 'A=1 B=2 C=3', gen: 10 }],
  ];
  for (const [name, s, host, cmd, want] of cases) {
    const got = sum(release(s, host, cmd));
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof typeof got]])), want, name);
  }
  // Clear keeps PTPL: it is a property of the namespace, not of a registration.
  assert.equal(release(st({ ptpl: true }), A, rel(0, 1n, ReleaseAction.Clear)).state.ptpl, true);
});

test('I/O conflicts follow the spec table for each type and kind of host', () => {
  // NVMe Base 2.0, 8.19.1: per type, which of (holder, registrant, non-registrant) x (read, write) conflict.
  // Columns: holder read/write, registrant read/write, non-registrant read/write ("x" = Reservation Conflict).
  const table: Array<[number, string]> = [
    [WE, '.. .x .x'],
    [EA, '.. xx xx'],
    [WERO, '.. .. .x'],
    [EARO, '.. .. xx'],
    [WEAR, '.. .. .x'],
    [EAAR, '.. .. xx'],
  ];
  for (const [rtype, row] of table) {
    const s = st({ rtype, holder: A, regs: [[A, 1n], [B, 2n]] });
    const got = [A, B, D].map((h) => (['read', 'write'] as AccessGroup[]).map((g) => (conflicts(s, h, g) ? 'x' : '.')).join('')).join(' ');
    assert.equal(got, row, `type ${rtype}`);
  }
  for (const g of ['read', 'write'] as AccessGroup[]) assert.equal(conflicts(st(), D, g), false, 'no reservation, no conflict');
  assert.equal(isHolder(st({ rtype: EAAR }), B), true);
  assert.equal(isHolder(st({ rtype: EA, holder: A }), B), false);
});

test('restart keeps everything; a node reboot keeps only what has PTPL', () => {
  const held = st({ rtype: WE, holder: A, gen: 7 });
  assert.deepEqual(afterRestart(held, false), { state: held, cleared: false });
  assert.deepEqual(afterRestart({ ...held, ptpl: true }, true), { state: { ...held, ptpl: true }, cleared: false });
  assert.deepEqual(afterRestart(held, true), { state: EMPTY_RESERVATION, cleared: true });
  assert.deepEqual(afterRestart(EMPTY_RESERVATION, true), { state: EMPTY_RESERVATION, cleared: false });
  assert.equal(withPtpl(held, true).ptpl, true);
  assert.equal(withPtpl(held, false), held, 'no change, same state');
});

test('a stored state is trusted only as far as it is consistent', () => {
  const cases: Array<[string, ReservationState, Partial<ReservationState>]> = [
    ['consistent', st({ rtype: WE, holder: B }), { rtype: WE, holder: B }],
    ['holder not a registrant', { ...st({ rtype: WE }), holder: D }, { rtype: 0, holder: undefined }],
    ['unknown type', { ...st(), rtype: 9, holder: A }, { rtype: 0, holder: undefined }],
    ['All Registrants without registrants', { ...st({ regs: [] }), rtype: EAAR }, { rtype: 0 }],
    ['All Registrants ignore the holder field', { ...st(), rtype: WEAR, holder: D }, { rtype: WEAR, holder: undefined }],
  ];
  for (const [name, s, want] of cases) {
    const got = sanitize(s);
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof ReservationState]])), want, name);
  }
  const dup = sanitize({ ...st(), registrants: [{ host: A, key: 1n }, { host: A, key: 2n }] });
  assert.deepEqual(dup.registrants, [{ host: A, key: 1n }], 'one registration per host');
});
