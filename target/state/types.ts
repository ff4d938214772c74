// The values the state store keeps, as plain objects. Their byte form is in layout.ts and records.ts.

export type StateDurability = 'process' | 'node';
export type RecoveryOutcome = 'fresh' | 'clean' | 'restored' | 'corrupt';
export const RECOVERY_OUTCOMES: readonly RecoveryOutcome[] = ['fresh', 'clean', 'restored', 'corrupt'];
export type InflightStage = 'received' | 'data-in' | 'executing' | 'done-but-unsent';

export interface Capacity {
  /** Controller slots (live plus restored ones waiting for their host). */
  controllers: number;
  /** Qpair slots, admin queues included. */
  qpairs: number;
  /** In-flight command slots per qpair. */
  inflightPerQpair: number;
}

export const DEFAULT_CAPACITY: Capacity = { controllers: 64, qpairs: 256, inflightPerQpair: 128 };

/** What the identity digest covers: nothing else, so editing listeners, hosts or serial keeps the state. */
export interface NamespaceIdentity {
  nsid: number;
  /** Bytes. */
  size: number;
  blockSize: number;
  uuid: Buffer; // 16 bytes
  nguid: Buffer; // 16 bytes
  eui64: Buffer; // 8 bytes
}

export interface SubsystemIdentity {
  nqn: string;
  namespaces: NamespaceIdentity[];
}

export interface SavedFeature {
  fid: number;
  dword: number;
}

export interface ControllerRecord {
  cntlid: number;
  hostNqn: string;
  hostId: Buffer; // 16 bytes
  subnqn: string;
  katoMs: number;
  aenConfig: number;
  cc: number;
  csts: number;
  /** Features the host saved (Set Features with SV = 1), at most MAX_SAVED_FEATURES. */
  savedFeatures: SavedFeature[];
  lastSeenMs: number;
  createdMs: number;
}

export interface CounterRecord {
  /** Units of 512 bytes. */
  dataUnitsRead: number;
  dataUnitsWritten: number;
  hostReadCommands: number;
  hostWriteCommands: number;
}

export interface Registrant {
  hostId: Buffer; // 16 bytes
  key: bigint;
}

export interface ReservationRecord {
  nsid: number;
  generation: number;
  /** Reservation type (NVMe Base, Reservation Acquire RTYPE); 0 = not reserved. */
  rtype: number;
  ptpl: boolean;
  /** All zero when nobody holds the reservation. */
  holderHostId: Buffer;
  registrants: Registrant[];
}

export interface QpairRecord {
  cntlid: number;
  qid: number;
  sqsize: number;
  sqhd: number;
  hdgst: boolean;
  ddgst: boolean;
  epoch: number;
}

export interface InflightRecord {
  qpairSlot: number;
  cid: number;
  opcode: number;
  nsid: number;
  slba: number;
  /** 0's based, as in CDW12. */
  nlb: number;
  stage: InflightStage;
}

export interface LastRecovery {
  outcome: RecoveryOutcome;
  startedAtMs: number;
  durationMs: number;
  restoredControllers: number;
  inflightAbandoned: number;
  /** In-flight records found in the file when it was opened. */
  inflightFound: number;
}

export interface SectionInfo {
  kind: number;
  slots: 1 | 2;
  recordSize: number;
  count: number;
  offset: number;
}

export interface HeaderRecord {
  layoutVersion: number;
  fileSize: number;
  identityDigest: Buffer; // 32 bytes
  nqn: string;
  bootCount: number;
  bootId: string;
  cleanShutdown: boolean;
  outcomes: Record<RecoveryOutcome, number>;
  last: LastRecovery | null;
  inflightAbandonedTotal: number;
  capacity: Capacity & { namespaces: number };
  sections: SectionInfo[];
}

/** Everything recovery reads from a file, independent of its layout version. */
export interface StateContents {
  namespaces: NamespaceIdentity[];
  cntlidNext: number;
  counters: CounterRecord;
  /** Live controller records with the slot they occupy. */
  controllers: Array<{ slot: number; record: ControllerRecord }>;
  /** One per namespace that has reservation state, keyed by nsid. */
  reservations: ReservationRecord[];
  qpairs: Array<{ slot: number; record: QpairRecord }>;
  inflight: InflightRecord[];
}

export const ZERO_COUNTERS: CounterRecord = { dataUnitsRead: 0, dataUnitsWritten: 0, hostReadCommands: 0, hostWriteCommands: 0 };

export function emptyContents(namespaces: NamespaceIdentity[]): StateContents {
  return {
    namespaces, cntlidNext: 1, counters: { ...ZERO_COUNTERS }, controllers: [], reservations: [], qpairs: [], inflight: [],
  };
}

export interface StateLog {
  error(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
}
