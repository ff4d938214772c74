// The supervisor and its worker talk over the fork IPC channel in these small messages; the bytes
// themselves go through the rings file. `s` is a slot, `g` the slot's generation (its accept count), so a
// message about an earlier socket of a reused slot is recognised and ignored.
//
// Direct sockets (plain TCP, the default) send none of the byte messages ('rx', 'tx', 'rxh', 'txh', 'eof'):
// the worker reads and writes the socket itself (direct-socket.ts), which is what the cost below led to.
// What these messages cost on proxied sockets (issue 19, 5; file +state, 4K random read, C client, this 2-vCPU VM; perf record
// -g, --cpu-prof and /proc/PID/io on both processes): at QD1 an I/O costs the supervisor and the worker
// 55-110 us of CPU each, the target alone 27-35 us in all. The time is in wake-ups, not in copies or NVMe:
// per I/O the supervisor makes one socket read and two writes ("rx" and the send to the host), the worker one
// pread and one write ("tx"), and a write that wakes a sleeping process costs 20-50 us here: the target's
// side makes three such writes per I/O (to the worker, to the supervisor, to the host) where the target
// alone makes one. At QD32 the messages are already batched per turn (0.03-0.07 writes per I/O in either
// process) and the worker's CPU per I/O is the target's (8.6-11.4 against 7.6-11.1 us). Tried and dropped,
// as measured here: polling the other side's tails for 50-500 us instead of sleeping (with a word in the
// rings header telling the producer to skip its message) made QD1 slower, the spinning process taking
// the CPU the host or the other process needed (alternated runs: 3.0-4.8K against 3.6-5.9K IOPS, CPU per
// I/O 1.3-2x); the same word raised only while a process is in a turn of its event loop skipped no message
// at QD1 or QD32 (the syscall counts stayed the same) and moved paired A/B bench rounds by less than their
// noise. Also tried and dropped (paired A/B bench, C client, file +state +supervisor): an eager 'tx' (the
// first completion published in a turn told at once, the rest at the turn's end, so the supervisor sends
// while the worker serves the rest of a QD32 batch): QD32 +9 % IOPS at load 1.2 (5 rounds), +1 % at load 2.6
// and -25 % reads at load 6-9 (10 rounds), CPU per I/O +18-23 % on reads for the extra wake-up; an eager 'rx'
// in the supervisor as well cost more CPU and won nothing. At QD32 too the cost is wake-ups, not copies
// (file +state, load 2, voluntary context switches per I/O from /proc: the target alone 0.05 reads, 0.004
// writes; supervisor 0.07 and worker 0.04 either way; at 20-50 us of CPU each for the waker that is most of
// the 1.7 us (reads) and 5.4 us (writes) of CPU per I/O the two processes add).
import type { TlsMode } from '../tls/mode.js';
import type { PskSubsystems } from '../tls/keys.js';

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
  /** Close the socket now (for a direct socket: the worker's side closed, the supervisor drops its handle). */
  | { t: 'destroy'; s: number; g: number }
  /** The worker is done with a closed slot: it may be reused. */
  | { t: 'release'; s: number; g: number }
  /** The answer to ping `n`: the worker's event loop turns. */
  | { t: 'pong'; n: number }
  /**
   * A live configuration change of the listening addresses (runtime/reconfigure.ts): `prepare` opens the
   * entries the supervisor lacks (answered by 'listeners-prepared'), `commit` closes those no longer listed
   * and their connections, `undo` closes what `prepare` opened.
   */
  | { t: 'listeners'; op: 'prepare'; id: number; entries: ListenerEntry[] }
  | { t: 'listeners'; op: 'commit' | 'undo'; id: number }
  /**
   * The TLS PSKs the supervisor's handshakes use (TLS ends there): `prepare` (a live change: runtime/reconfigure.ts)
   * reads and checks every key file named, answered by 'tls-keys-prepared'; `commit` puts them in use for new
   * handshakes, `undo` drops them. `set` (a worker that starts: its configuration may be newer than the
   * supervisor's keys) does both at once, unanswered; a failure is logged and the keys in use stay.
   */
  | { t: 'tls-keys'; op: 'prepare' | 'set'; id: number; subsystems: PskSubsystems }
  | { t: 'tls-keys'; op: 'commit' | 'undo'; id: number };

/** Supervisor to worker. */
export type SupervisorMessage =
  /** Every slot in use when the worker became ready: [slot, generation], in accept order. */
  | { t: 'attach'; slots: Array<[number, number]> }
  /** A socket was accepted into slot `s` (a direct socket's handle comes with the message). */
  | { t: 'open'; s: number; g: number }
  /**
   * The handle of slot `s`'s direct socket (SW.DIRECT), sent before 'attach' for every direct socket open:
   * each worker reads and writes it itself (resume/direct-socket.ts); the supervisor keeps its own handle.
   */
  | { t: 'sock'; s: number; g: number }
  /** These slots' rx tails moved. */
  | { t: 'rx'; s: number[] }
  /** These slots' tx heads moved while the worker held units that did not fit. */
  | { t: 'txh'; s: number[] }
  /** The host ended its side of slot `s` (FIN): every byte it sent is in the rx ring (PEER_ENDED is set). */
  | { t: 'eof'; s: number; g: number }
  /** The socket of slot `s` closed. */
  | { t: 'closed'; s: number; g: number }
  /** Answer with pong `n` (the supervisor's watchdog). */
  | { t: 'ping'; n: number }
  /** The answer to a 'listeners' prepare: the listener table now (indices never reused), or why not. */
  | { t: 'listeners-prepared'; id: number; table?: ListenerEntry[]; error?: string }
  /** The answer to a 'tls-keys' prepare: `error` says why the keys cannot be used (field and host, never a key). */
  | { t: 'tls-keys-prepared'; id: number; error?: string };

/** Where the listeners are, in the order both processes number them (SW.LISTENER). */
export interface ListenerEntry {
  address: string;
  port: number;
  discoveryOnly: boolean;
  /** TLS ends in the supervisor, which owns the socket (target/tls/gate.ts); absent: 'off'. */
  tls?: TlsMode;
}
