import type { Controller } from './controller.js';
import type { QueueAuth } from '../auth/queue-auth.js';

/** What the controller layer may ask of the connection carrying a queue: never bytes, only its fate. */
/** Who a TLS connection's PSK identity names (target/tls): the only host and subsystem its Connects may name. */
export interface TlsPeer {
  hostNqn: string;
  subNqn: string;
}

export interface QueueTransport {
  readonly peer: string;
  /** The connection came through TLS with this PSK identity; absent on a plain connection. */
  readonly tlsPeer?: TlsPeer;
  /** The local address the host reached (for discovery log entries of wildcard listeners). */
  readonly localAddress: string;
  readonly localPort: number;
  /** Closes the connection without a TermReq (keep-alive expiry, controller teardown). */
  close(reason: string): void;
}

/** A submission/completion queue pair, bound to a controller by Connect. */
export class Qpair {
  constructor(
    readonly ctrl: Controller,
    readonly qid: number,
    /** 0-based queue size from Connect. */
    readonly sqsize: number,
    readonly transport: QueueTransport,
    /** Connect CATTR bit 2 cleared: SQHD is meaningful and C2HData may not carry SUCCESS. */
    readonly sqFlowControl: boolean,
  ) {}

  /** DH-HMAC-CHAP of this queue when its host must authenticate (set by Connect); undefined: no authentication. */
  auth: QueueAuth | undefined;

  /** Only Authentication Send/Receive (and Disconnect) are accepted until this is false. */
  get awaitingAuth(): boolean {
    return this.auth !== undefined && !this.auth.authenticated;
  }
}
