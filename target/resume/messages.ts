// The supervisor and its worker talk over the fork IPC channel in these small messages; the bytes
// themselves go through the rings file. `s` is a slot, `g` the slot's generation (its accept count), so a
// message about an earlier socket of a reused slot is recognised and ignored.

/** Worker to supervisor. */
export type WorkerMessage =
  /** The worker has its target built: send the slots. */
  | { t: 'ready' }
  /** These slots' tx tails moved: send. */
  | { t: 'tx'; s: number[] }
  /** These slots' rx heads moved while the supervisor waited for room: copy what waits. */
  | { t: 'rxh'; s: number[] }
  /** Send what the tx ring holds, then close the socket. */
  | { t: 'end'; s: number; g: number }
  /** Close the socket now. */
  | { t: 'destroy'; s: number; g: number }
  /** The worker is done with a closed slot: it may be reused. */
  | { t: 'release'; s: number; g: number }
  /** The answer to ping `n`: the worker's event loop turns. */
  | { t: 'pong'; n: number };

/** Supervisor to worker. */
export type SupervisorMessage =
  /** Every slot in use when the worker became ready: [slot, generation], in accept order. */
  | { t: 'attach'; slots: Array<[number, number]> }
  /** A socket was accepted into slot `s`. */
  | { t: 'open'; s: number; g: number }
  /** These slots' rx tails moved. */
  | { t: 'rx'; s: number[] }
  /** These slots' tx heads moved while the worker held units that did not fit. */
  | { t: 'txh'; s: number[] }
  /** The host ended its side of slot `s` (FIN): every byte it sent is in the rx ring (PEER_ENDED is set). */
  | { t: 'eof'; s: number; g: number }
  /** The socket of slot `s` closed. */
  | { t: 'closed'; s: number; g: number }
  /** Answer with pong `n` (the supervisor's watchdog). */
  | { t: 'ping'; n: number };

/** Where the listeners are, in the order both processes number them (SW.LISTENER). */
export interface ListenerEntry {
  address: string;
  port: number;
  discoveryOnly: boolean;
}
