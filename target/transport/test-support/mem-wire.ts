// A Wire that keeps what the connection writes, for tests that drive a Connection PDU by PDU.
import type { Wire } from '../wire.js';

export class MemWire implements Wire {
  readonly peer = '127.0.0.1:40000';
  readonly localAddress = '127.0.0.1';
  readonly localPort = 4420;
  out = Buffer.alloc(0);
  ended = false;
  destroyed = false;
  write(b: Buffer, sent?: () => void): void {
    this.out = Buffer.concat([this.out, b]);
    if (sent) queueMicrotask(sent);
  }
  end(): void { this.ended = true; }
  destroy(): void { this.destroyed = true; }
  /** Splits what was written into whole PDUs and clears them (a partial PDU stays). */
  take(): Buffer[] {
    const pdus: Buffer[] = [];
    let at = 0;
    while (at + 8 <= this.out.length) {
      const plen = this.out.readUInt32LE(at + 4);
      if (at + plen > this.out.length) break;
      pdus.push(Buffer.from(this.out.subarray(at, at + plen)));
      at += plen;
    }
    this.out = this.out.subarray(at);
    return pdus;
  }
}
