// The byte layout of the rings files (in-pod resume): every offset is named here and nowhere else.
// target/README.md ("In-pod resume") describes the same layout for people.
//
// The supervisor creates the files, maps them MAP_SHARED and keeps them for its whole life; every worker it
// forks maps the same files. Nothing in them outlives the supervisor (the sockets they describe die with
// it), so there is no versioned migration: a supervisor always starts from new files.
//
// Files:  <path>         the header (FILE_HEADER_SIZE bytes): geometry and counters across workers
//         <path>.<slot>  one per connection slot, made (every page allocated) the first time the slot is
//                        used and reused for later connections: slot header | command records | rx | tx
// So memory follows the most connections open at once, never the number of slots allowed.
//
// Positions in the rings are u32 byte counts since the connection was accepted, modulo 2^32; a ring's size
// is a power of two, so a position's index in its ring is `pos & (size - 1)`. Comparisons use serial
// arithmetic (a window is far below 2^31 bytes).
//
// Every field written by one process and read by the other is a 32-bit word stored with Atomics.store
// (one aligned store: a kill never leaves it half written) after the bytes it describes.
import type { TlsResult } from '../tls/gate.js';

export const RINGS_MAGIC = 'NVMERING';
export const RINGS_VERSION = 1;
export const PAGE = 4096;

/** File header: byte offsets. Written by the supervisor unless said otherwise. */
export const FH = {
  MAGIC: 0, // 8 bytes ASCII
  VERSION: 8, // u32
  SLOTS: 12, // u32
  RX_SIZE: 16, // u32, power of two
  TX_SIZE: 20, // u32, power of two
  RECORDS: 24, // u32, command records per slot
  SUPERVISOR_PID: 28, // u32
  SLOT_FILE_SIZE: 32, // f64
  WORKER_STARTS: 40, // f64, workers forked so far (the first included)
  WORKER_RESTARTS: 48, // f64, workers forked after a worker exited on its own
  LAST_WORKER_EXIT_MS: 56, // f64, Unix ms the supervisor saw the last worker exit (0: never)
  // Worker-written: cumulative across workers.
  CONNECTIONS_RESUMED: 64, // f64
  COMMANDS_REDONE: 72, // f64, commands executed again after a restart
  COMPLETIONS_REPUBLISHED: 80, // f64, completions rebuilt from their recorded result
  LAST_RESUME_AT_MS: 88, // f64
  LAST_RESUME_SECONDS: 96, // f64
  LAST_RESUME_CONNECTIONS: 104, // f64
  RESUME_SUM: 112, // f64, histogram sum (seconds)
  RESUME_COUNT: 120, // f64
  RESUME_BUCKETS: 128, // f64 x RESUME_BUCKET_BOUNDS.length (12), cumulative counts (le): up to 224
  // Supervisor-written.
  WORKER_HANGS: 224, // f64, workers the supervisor killed because they stopped answering its pings
  TLS_SUCCESS: 232, // f64, TLS handshakes done (target/tls/gate.ts)
  TLS_FAILURE: 240, // f64, TLS handshakes refused (wrong or unknown PSK, garbage, timeout)
  TLS_PLAIN_REFUSED: 248, // f64, plain connections refused on a port that requires TLS
} as const;
export const FILE_HEADER_SIZE = PAGE;

/** Where the supervisor counts each TLS result, for nvmeof_target_auth_total{method="tls"} (resume/metrics.ts). */
export const TLS_RESULT_FIELD: Record<TlsResult, number> = { success: FH.TLS_SUCCESS, failure: FH.TLS_FAILURE, plain_refused: FH.TLS_PLAIN_REFUSED };

/** Upper bounds (seconds) of the resume-duration histogram, kept in the file so it counts across workers. */
export const RESUME_BUCKET_BOUNDS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10] as const;

/** Slot states (SW.STATE), written by the supervisor only. */
export const SlotState = {
  /** No socket. */
  FREE: 0,
  /** A socket is open; bytes flow. */
  OPEN: 1,
  /** The socket is gone; the worker tears the connection down and releases the slot. */
  CLOSED: 2,
} as const;

/**
 * Slot header: 32-bit word indexes (byte offset = 4 x index). `sup` fields are written by the supervisor,
 * `wrk` fields by the worker.
 */
export const SW = {
  STATE: 0, // sup: SlotState
  GEN: 1, // sup: accept count of this slot, so a late notification about an earlier socket is ignored
  RX_TAIL: 2, // sup: bytes of the socket written into the rx ring
  RX_HEAD: 3, // wrk: bytes the worker no longer needs (always a PDU boundary)
  TX_TAIL: 4, // wrk: bytes of whole PDUs published into the tx ring
  TX_HEAD: 5, // sup: bytes the socket accepted (write callback ran)
  RX_BLOCKED: 6, // sup: 1 while the socket is paused because the rx ring is full
  TX_BLOCKED: 7, // wrk: 1 while the worker holds PDUs that did not fit the tx ring
  LISTENER: 8, // sup: index of the listener that accepted the socket
  LOCAL_PORT: 9, // sup
  WORKER_ENDING: 10, // wrk: 1 once the worker asked the supervisor to end the socket
  PARSED: 11, // wrk: end of the last PDU whose effects are recorded
  SQHD: 12, // wrk: SQ head after the last recorded capsule
  IC: 13, // wrk: ICReq accepted: 1 | hdgst << 1 | ddgst << 2 | hpda << 8
  IC_PUB_END: 14, // wrk: tx position once the ICResp is published
  BOUND: 15, // wrk: 1 once Connect bound a queue | sqFlowControl << 1 | DH-HMAC-CHAP required << 2 | authenticated << 3
  CNTLID: 16, // wrk: cntlid u16 | qid << 16
  SQSIZE: 17, // wrk: 0-based queue size
  SUBNQN_LEN: 18, // wrk: bytes of the subsystem NQN at SB.SUBNQN
  LAST_CMD_MS_LO: 19, // wrk: Unix ms of the last capsule, low 32 bits
  LAST_CMD_MS_HI: 20, // wrk: high bits
  // Controller snapshot (admin queue only): what a new worker needs to rebuild the controller. Its host
  // identity is written once with the binding; the state that changes (CC, CSTS, KATO, features) is written
  // into the copy not in use, then CTRL selects it, so a kill mid-update leaves the previous copy whole.
  CTRL: 21, // wrk: 0 no snapshot, 1 copy A (CTRL_A) valid, 2 copy B (CTRL_B) valid
  CTRL_HOSTNQN_LEN: 28, // wrk: bytes of the host NQN at SB.HOSTNQN
  PEER_LEN: 29, // sup
  LOCAL_LEN: 30, // sup
  PEER_ENDED: 31, // sup: 1 once the host ended its side (FIN) and every byte before it is in the rx ring
  CTRL_A: 32, // wrk: a snapshot copy, CtrlSnap words
  CTRL_B: 40, // wrk: the other copy
  TLS_HOSTNQN_LEN: 48, // sup: bytes at SB.TLS_HOSTNQN; 0: a plain connection
  TLS_SUBNQN_LEN: 49, // sup: bytes at SB.TLS_SUBNQN
  // Direct sockets (plain TCP: the worker reads and writes the socket itself, resume/direct-socket.ts).
  // Then RX_TAIL, TX_HEAD, RX_BLOCKED and PEER_ENDED are the worker's, not the supervisor's: the supervisor
  // only accepts and holds the socket. The bases tie ring positions to the kernel's byte counts of the
  // socket (resume/tcp-positions.ts), so a worker taking over from a killed one reads from the kernel what
  // that one took and gave: rx tail = consumed - RX_BASE, tx head = written - TX_BASE (u32).
  DIRECT: 50, // sup: 1 for a direct socket (set at accept, before the slot is OPEN)
  RX_BASE: 51, // sup: bytes the kernel counted as consumed from the socket when it was accepted (u32)
  TX_BASE: 52, // sup: bytes the kernel counted as written to it then (u32)
} as const;

/** Words of a controller snapshot copy, relative to SW.CTRL_A or SW.CTRL_B. */
export const CtrlSnap = {
  KATO: 0,
  CC: 1,
  CSTS: 2,
  AEC: 3, // asynchronous event configuration
  VWC: 4, // volatile write cache enabled (0/1)
  TMPTH: 5, // temperature threshold
} as const;

/** Slot header: byte offsets of the longer fields. */
export const SB = {
  CTRL_HOSTID: 256, // 16 bytes
  SUBNQN: 512, // 256 bytes UTF-8
  HOSTNQN: 768, // 256 bytes UTF-8
  PEER: 1024, // 64 bytes ASCII, "address:port"
  LOCAL: 1088, // 64 bytes ASCII, the local address
  TLS_HOSTNQN: 1152, // 256 bytes UTF-8: the host NQN of the connection's TLS PSK identity (target/tls)
  TLS_SUBNQN: 1408, // 256 bytes UTF-8: its subsystem NQN
} as const;
export const SLOT_HEADER_SIZE = PAGE;
export const NQN_MAX = 256;
export const ADDR_MAX = 64;

/** Command records: one per command in flight, RECORD_SIZE bytes each. Word indexes within a record. */
export const RW = {
  STAGE: 0, // CmdStage | flags << 8; stored last when a record is created, so a torn record reads as free
  CAPSULE_POS: 1, // rx position of the CapsuleCmd PDU
  CAPSULE_LEN: 2, // its PLEN
  INCAPSULE: 3, // in-capsule data: offset in the PDU u16 | length << 16 (0: none)
  R2T_RX_POS: 4, // rx position at or before which every H2CData for this command's R2T starts
  R2T_PUB_END: 5, // tx position once the R2T is published
  PUB_END: 6, // tx position once the completion is published
  STATUS: 7, // completion status (15 bits: SCT << 8 | SC, with DNR/More)
  DW0: 8,
  DW1: 9,
  SQHD: 10, // SQ head after this capsule
  SQE: 16, // 64 bytes: the command itself
} as const;
export const RECORD_SIZE = 128;

/** Command stages in a record. */
export const CmdStage = {
  FREE: 0,
  /** The capsule is recorded; nothing else is (the command may wait for the data budget). */
  RECEIVED: 1,
  /** Its R2T is being, or was, published (R2T_PUB_END says which). */
  R2T: 2,
  /** All its data is in; it is executing (or parked: an Asynchronous Event Request). */
  EXECUTING: 3,
  /** Its result is recorded and its completion is being, or was, published (PUB_END says which). */
  COMPLETING: 4,
} as const;

/** Record flags (STAGE >> 8). */
export const CmdFlag = {
  /** The completion carries controller-to-host data (a C2HData): redo means execute again. */
  C2H_DATA: 1,
  /** Host data comes through R2T and H2CData (R2T_RX_POS is set). */
  R2T: 2,
  /** Its in-capsule data failed its digest: it completes with Transient Transport Error. */
  DIGEST_ERROR: 4,
} as const;

export interface RingsGeometry {
  slots: number;
  rxSize: number;
  txSize: number;
  records: number;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function alignPage(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

/** Where a slot's parts are, relative to the start of its file. */
export interface SlotPlacement {
  header: number;
  records: number;
  rx: number;
  tx: number;
}

export function slotPlacement(g: RingsGeometry): SlotPlacement {
  const records = SLOT_HEADER_SIZE;
  const rx = records + alignPage(g.records * RECORD_SIZE);
  return { header: 0, records, rx, tx: rx + g.rxSize };
}

/** Bytes of one slot's file: what each connection open at once costs in memory. */
export function slotFileSize(g: RingsGeometry): number {
  return slotPlacement(g).tx + g.txSize;
}

/** a <= b in serial arithmetic on u32 positions. */
export function posLE(a: number, b: number): boolean {
  return ((b - a) | 0) >= 0;
}

/** b - a on u32 positions (a <= b). */
export function posDiff(a: number, b: number): number {
  return (b - a) >>> 0;
}
