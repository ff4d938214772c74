// Values the crash-point writer stores at iteration k, and the checks on what a killed writer left.
// Every record the writer stores is a function of k (and its slot), so a checker knows exactly which
// values are valid: a record holds either the value of its newest write or of the one before it.
import type { ControllerRecord, CounterRecord, ReservationRecord, SubsystemIdentity } from '../types.js';
import { CNTLID_MAX, CNTLID_MIN } from '../layout.js';
import { testIdentity } from './fixtures.js';

export const CRASH_CAPACITY = { controllers: 6, qpairs: 2, inflightPerQpair: 8 };
export const CRASH_IDENTITY: SubsystemIdentity = testIdentity();
export const CRASH_BOOT_ID = 'crash-point-boot';

function idBytes(k: number, salt: number): Buffer {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32LE((k * (i + 1) + salt) >>> 0, i * 4);
  return b;
}

export function controllerAt(k: number, cntlid: number): ControllerRecord {
  return {
    cntlid,
    hostNqn: `nqn.2014-08.org.nvmexpress:uuid:crash-host-${k}`,
    hostId: idBytes(k, 1),
    subnqn: CRASH_IDENTITY.nqn,
    katoMs: k,
    aenConfig: (k ^ 0x5a5a) >>> 0,
    cc: (k * 3) >>> 0,
    csts: k & 1,
    savedFeatures: [{ fid: 7, dword: k >>> 0 }, { fid: 0x0b, dword: (k * 5) >>> 0 }],
    lastSeenMs: k,
    createdMs: k * 2,
  };
}

export function countersAt(k: number): CounterRecord {
  return { dataUnitsRead: k, dataUnitsWritten: 2 * k, hostReadCommands: 3 * k, hostWriteCommands: 4 * k };
}

export function reservationAt(k: number): ReservationRecord {
  return {
    nsid: 1, generation: k >>> 0, rtype: k % 7, ptpl: (k & 1) === 1, holderHostId: idBytes(k, 2),
    registrants: [{ hostId: idBytes(k, 2), key: BigInt(k) * 3n }, { hostId: idBytes(k, 3), key: BigInt(k) }],
  };
}

export function recoveryAt(k: number): { durationMs: number; restoredControllers: number; inflightAbandoned: number; startedAtMs: number } {
  return { durationMs: k, restoredControllers: k % 1000, inflightAbandoned: k % 13, startedAtMs: k * 10 };
}

/** Distance from cntlid a forward to cntlid b on the allocator's ring CNTLID_MIN..CNTLID_MAX. */
export function cntlidDistance(a: number, b: number): number {
  const n = CNTLID_MAX - CNTLID_MIN + 1;
  return (((b - CNTLID_MIN) - (a - CNTLID_MIN)) % n + n) % n;
}
