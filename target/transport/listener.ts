// TCP listeners: each accepted socket becomes a Connection over a SocketWire.
import { createServer, type Server, type Socket } from 'node:net';
import type { Target } from '../controller/target.js';
import type { ListenerConfig } from '../config/config.js';
import { Connection } from './connection.js';
import { SocketWire } from './wire.js';
import type { DataBudget } from './data-budget.js';

export class Listener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly config: ListenerConfig,
    private readonly target: Target,
    private readonly discoveryOnly = false,
    private readonly budget?: DataBudget,
  ) {}

  /** Starts listening; rejects with the socket error (EADDRINUSE and the like). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true }, (sock) => this.accept(sock));
      server.once('error', reject);
      server.listen({ host: this.config.address, port: this.config.port, exclusive: true, backlog: 1024 }, () => {
        server.off('error', reject);
        this.server = server;
        resolve();
      });
    });
  }

  private accept(sock: Socket): void {
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 10_000);
    this.sockets.add(sock);
    const conn = new Connection(new SocketWire(sock), this.target, { discoveryOnly: this.discoveryOnly, budget: this.budget });
    sock.on('data', (chunk: Buffer) => conn.feed(chunk));
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
