import type { Socket } from 'node:net';
import type { TlsPeer } from '../controller/qpair.js';

/**
 * The byte pipe under a connection. The connection never touches a socket directly, so the same
 * connection logic can later run over rings in a shared mapping (in-pod resume) instead of a socket.
 */
export interface Wire {
  readonly peer: string;
  readonly localAddress: string;
  readonly localPort: number;
  /** The PSK identity's host and subsystem when the bytes came through TLS (target/tls/gate.ts). */
  readonly tlsPeer?: TlsPeer;
  /** Queues bytes; writes issued in one tick leave in one batch. `sent` runs once the bytes left (or were dropped). */
  write(b: Buffer, sent?: () => void): void;
  /** Sends what is queued, then closes. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
}

/**
 * A wire whose writes reach the host in units: all of a unit's bytes or none (a wire over a ring that a
 * killed process may leave half written). A connection with a journal writes through units only.
 */
export interface UnitWire extends Wire {
  /**
   * Queues `bufs` as one unit, in order after every earlier unit. `publishing(end)` runs just before the unit
   * becomes visible to the host side, with the tx stream position after it; `published()` runs just after
   * (the buffers are no longer referenced then).
   */
  writeUnit(bufs: Buffer[], publishing?: (end: number) => void, published?: () => void): void;
}

export class SocketWire implements Wire {
  readonly peer: string;
  readonly localAddress: string;
  readonly localPort: number;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.sock.uncork();
  };

  constructor(private readonly sock: Socket, readonly tlsPeer?: TlsPeer) {
    this.peer = `${sock.remoteAddress}:${sock.remotePort}`;
    this.localAddress = sock.localAddress ?? '';
    this.localPort = sock.localPort ?? 0;
  }

  write(b: Buffer, sent?: () => void): void {
    if (this.sock.destroyed) {
      sent?.();
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(this.uncork);
    }
    // `sent` ignores the error argument the socket passes: a failed write ends the connection anyway.
    this.sock.write(b, sent);
  }

  end(): void {
    if (this.sock.destroyed) return;
    this.sock.end();
    // A peer that never reads must not keep the socket forever.
    setTimeout(() => this.sock.destroy(), 2000).unref();
  }

  destroy(): void {
    this.sock.destroy();
  }
}
