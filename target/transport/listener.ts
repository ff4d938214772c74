// TCP listeners: each accepted socket becomes a Connection over a SocketWire, recording into its subsystem's
// state file (if it has one).
import { createServer, Socket, type Server, type SocketConstructorOpts } from 'node:net';
import type { Target } from '../controller/target.js';
import type { ListenerConfig } from '../config/config.js';
import { Connection } from './connection.js';
import { SocketWire } from './wire.js';
import type { DataBudget } from './data-budget.js';
import { StateFileRecorder } from './state-recorder.js';
import { gateSocket, type GateContext } from '../tls/gate.js';
import type { TlsPeer } from '../controller/qpair.js';

/** Each connection's read buffer: one read fills at most this much. */
const RX_BUFFER = 64 * 1024;

export class Listener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly config: ListenerConfig,
    private readonly target: Target,
    readonly discoveryOnly = false,
    private readonly budget?: DataBudget,
    /** For a listener whose `tls` is required or allowed. */
    private readonly tls?: GateContext,
  ) {}

  /** Starts listening; rejects with the socket error (EADDRINUSE and the like). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, pauseOnConnect: true }, (raw) => this.accept(raw));
      server.once('error', reject);
      server.listen({ host: this.config.address, port: this.config.port, exclusive: true, backlog: 1024 }, () => {
        server.off('error', reject);
        this.server = server;
        resolve();
      });
    });
  }

  /**
   * Reads land in one buffer per connection, reused by every read: the receiver copies what it keeps
   * before feed() returns, so nothing refers to the buffer after the callback. Without it every read is a
   * fresh 64 KiB allocation, garbage at once, and under 128 KiB writes from 64 hosts the RSS grows by what
   * the GC has not yet collected. Node's net.Server has no onread option (none through 26), so the accepted socket
   * (paused on connect, so it never read) hands its handle to a Socket that has one; it is not used again.
   */
  private accept(raw: Socket): void {
    const mode = this.config.tls ?? 'off';
    if (mode !== 'off') {
      // Never plaintext on a TLS port: without keys (a listener made without a gate) nothing is admitted.
      if (!this.tls) {
        raw.destroy();
        return;
      }
      this.sockets.add(raw);
      raw.once('close', () => this.sockets.delete(raw));
      gateSocket(raw, mode, this.tls, (sock, tlsPeer) => this.serve(sock, tlsPeer));
      return;
    }
    const handle = (raw as unknown as { _handle: unknown })._handle;
    const rx = Buffer.allocUnsafe(RX_BUFFER);
    const sock = new Socket({
      handle, readable: true, writable: true,
      onread: { buffer: rx, callback: (n: number) => { conn.feed(rx, n); return true; /* keep reading */ } },
    } as SocketConstructorOpts);
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 10_000);
    this.sockets.add(sock);
    const conn = new Connection(new SocketWire(sock), this.target, { discoveryOnly: this.discoveryOnly, budget: this.budget, recorder: new StateFileRecorder(this.target) });
    sock.on('error', () => { /* a reset by the peer ends like a close */ });
    sock.on('close', () => {
      this.sockets.delete(sock);
      conn.wireClosed();
    });
  }

  /**
   * A socket past the TLS gate (a TLS socket, or a plain one whose first bytes the gate read): read with data
   * events, as the gate already read from it (the handle is the TLS socket's or has read).
   */
  private serve(sock: Socket, tlsPeer?: TlsPeer): void {
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 10_000);
    this.sockets.add(sock);
    const conn = new Connection(new SocketWire(sock, tlsPeer), this.target, { discoveryOnly: this.discoveryOnly, budget: this.budget, recorder: new StateFileRecorder(this.target) });
    sock.on('data', (b: Buffer) => conn.feed(b, b.length));
    sock.on('error', () => { /* a reset by the peer ends like a close */ });
    sock.on('close', () => {
      this.sockets.delete(sock);
      conn.wireClosed();
    });
  }

  get address(): string {
    const a = this.server?.address();
    return a && typeof a === 'object' ? `${a.address}:${a.port}` : `${this.config.address}:${this.config.port}`;
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.config.port;
  }

  /**
   * Stops accepting; existing connections stay until closeConnections(). Resolves at once: server.close()
   * calls back only after every connection ended, which during a shutdown with hosts attached is never.
   */
  stopAccepting(): Promise<void> {
    this.server?.close();
    return Promise.resolve();
  }

  closeConnections(): void {
    for (const s of this.sockets) s.destroy();
  }
}
