// What brings connections to the target: an operations table, as SPDK's spdk_nvmf_transport_ops. Two
// implement it: the TCP front end (tcp-front-end.ts: listeners, one socket per connection) and the rings
// front end of in-pod resume (resume/ring-front-end.ts: connections whose sockets a supervisor process
// holds). runtime/run.ts starts the one it is given and knows nothing else of either; each gives its
// connections their wire and their recorder (recorder.ts).
import type { Registry } from 'prom-client';
import type { Logger } from '../controller/observer.js';
import type { Target } from '../controller/target.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import type { DataBudget } from './data-budget.js';
import type { ListenerConfig, SubsystemConfig } from '../config/config.js';

export interface FrontEndContext {
  target: Target;
  /** Bounds the data buffers of every connection's commands (perConnectionBudget each). */
  budget: DataBudget;
  registry: Registry;
  /** The subsystems served (not one whose state file is unusable). */
  subsystems: Subsystem[];
  log: Logger;
  /** Why the target is not ready yet, for /readyz (e.g. a port still in use). */
  notReady(reason: string): void;
  /**
   * Since when this process holds every state-file lock it needs (Unix ms); undefined while it waits for
   * one. A port in use is waited for while undefined, given up PORT_IN_USE_GRACE_MS after (port-wait.ts).
   */
  locksHeldSinceMs(): number | undefined;
}

export interface ListenerChange {
  /** Addresses opened (for the log). */
  opened: string[];
  /** Addresses that will close at commit. */
  closing: string[];
  commit(reason: string): void;
  undo(): Promise<void>;
}

/** A prepared change of the TLS PSKs: commit puts them in use for new handshakes. */
export interface TlsKeysChange {
  commit(): void;
  undo(): void;
}

export interface FrontEnd {
  /** Data budget bytes the commands of one connection may hold at once. */
  readonly perConnectionBudget: number;
  /** Starts serving; resolves once connections flow (listening, or every earlier connection resumed). */
  start(ctx: FrontEndContext): Promise<void>;
  /** Where hosts connect (for the log), once started. */
  readonly addresses: string[];
  /** Takes no more connections; those open stay. */
  stopAccepting(): Promise<void>;
  /** Closes every connection (shutdown, once commands in flight are done or the grace period is over). */
  closeConnections(): void;
  /**
   * A live configuration change of the listening addresses: opens those of `subsystemListeners` and
   * `discoveryOnly` it lacks (refusing at once a port it cannot have: the change is then refused whole) and
   * returns how to take the change (close the listeners no longer wanted, and their connections) or undo it.
   * Absent: the addresses cannot change in this process (in-pod resume: the supervisor holds the sockets).
   */
  prepareListeners?(subsystemListeners: ListenerConfig[], discoveryOnly: ListenerConfig[]): Promise<ListenerChange>;
  /**
   * A live change of the TLS PSKs: reads and checks every key file `subsystems` name (a missing or malformed
   * one rejects, naming the field and the host, never the key) and returns how to put them in use for new
   * handshakes; TLS sessions already open keep theirs. Absent: the PSKs cannot change in this process.
   */
  prepareTlsKeys?(subsystems: SubsystemConfig[]): Promise<TlsKeysChange>;
  /** Fields added to GET /recovery. */
  recovery?(): Record<string, unknown>;
}
