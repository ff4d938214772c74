// A direct socket (in-pod resume, plain TCP): the worker reads the host's bytes straight into the slot's rx
// ring and writes the tx ring's bytes straight to the socket, so an I/O wakes one process, not three. The
// supervisor only accepted the socket and holds a handle to it, which keeps the connection alive across a
// worker's death; each worker is handed the socket again.
// Invariants:
//  - every read goes into a view of the rx ring that starts at the rx tail and ends at or before the ring's
//    end and head + size: the bytes a killed worker read but did not publish (its rx tail store) are in the
//    ring right after the tail, and a successor finds how many from the kernel (reconcile);
//  - the rx tail is stored after each read, before the connection sees the bytes; the tx head after the
//    socket took the bytes (the write's callback): as the supervisor does on the proxied path;
//  - bytes are written from the tx ring in order from the tx head, so the kernel's count of bytes written
//    tells a successor the exact tx head (reconcile): nothing is sent twice, nothing skipped;
//  - reading stops when the ring is full (RX_BLOCKED) and starts again once the worker moved the rx head;
//    a read is never given a zero-length view (recv of 0 bytes reads as EOF).
import type { Socket } from 'node:net';
import type { Logger } from '../controller/observer.js';
import { SW, posDiff, posLE } from './layout.js';
import type { SlotView } from './rings-file.js';
import { setReadView, socketOnHandle, type NativeHandle } from './node-socket.js';
import { tcpPositions } from './tcp-positions.js';
import { faultPoint } from './faults.js';

/**
 * The most one read takes (Node's own read buffer size, what the target alone reads at a time): with a
 * larger view one read takes a whole burst of capsules and their completions all wait for the last; in
 * 64 KiB reads the first completions go out (at the end of each read's callback) while the host's next bytes
 * are read. 4K random writes at QD32 (C client, 4 s, alternated): 16K 143-147K IOPS, 32K 151-161K, 64K
 * 175-193K, 128K 146-164K, the ring's free space (the whole burst) 145-164K; the target alone 237-253K.
 */
const READ_MAX = 64 * 1024;

export interface DirectSocketEvents {
  /** The rx tail moved: feed the connection (called inside the read's callback). */
  rx(): void;
  /** The host ended its side (FIN) after every byte before it is in the ring (PEER_ENDED is set). */
  eof(): void;
  /** The tx head moved while the worker held units that did not fit the tx ring. */
  txDrained(): void;
  /** The worker's socket closed: the supervisor drops its handle too (then the connection is gone). */
  closed(): void;
}

/**
 * What Node is given when the ring is full (it asks for the next view even when reading stops): never read
 * into, because reading starts again only after setReadView with a view of the ring. Reading stops only at
 * a full ring, not below some free size: the PDU the worker waits for may need the last free bytes.
 */
const PLACEHOLDER = Buffer.alloc(1);

export class DirectSocket {
  readonly sock: Socket;
  private rxTail: number;
  private txSent: number;
  private gone = false;
  private resumeScheduled = false;
  private flushScheduled = false;
  private endTimer: NodeJS.Timeout | undefined;

  constructor(private readonly slot: SlotView, handle: NativeHandle, private readonly events: DirectSocketEvents) {
    this.rxTail = slot.rx.tail;
    this.txSent = slot.tx.head;
    this.sock = socketOnHandle(handle, () => this.view() ?? PLACEHOLDER, (n) => this.onRead(n));
    this.sock.on('end', () => {
      if (this.gone) return;
      slot.store(SW.PEER_ENDED, 1);
      events.eof();
    });
    this.sock.on('error', () => { /* a reset by the peer ends like a close */ });
    this.sock.on('close', () => {
      if (this.endTimer) clearTimeout(this.endTimer);
      if (!this.gone) events.closed();
    });
  }

  /** Starts reading (at a new connection, or once a taken-over one is resumed). */
  start(): void {
    this.readAgain();
    this.flush();
  }

  /** The bytes [rx tail, min(ring end, head + size, tail + READ_MAX)) of the ring, or undefined when it is full. */
  private view(): Buffer | undefined {
    const rx = this.slot.rx;
    const free = rx.size - posDiff(rx.head, this.rxTail);
    const i = this.rxTail & (rx.size - 1);
    const len = Math.min(free, rx.size - i, READ_MAX);
    return len > 0 ? rx.buf.subarray(rx.off + i, rx.off + i + len) : undefined;
  }

  private onRead(n: number): boolean {
    faultPoint('direct-rx-before-tail');
    this.rxTail = (this.rxTail + n) >>> 0;
    this.slot.rx.setTail(this.rxTail);
    this.events.rx();
    const rx = this.slot.rx;
    if (posDiff(rx.head, this.rxTail) < rx.size || this.gone) return true;
    // Full: stop until the worker moves the head (the journal looks at RX_BLOCKED after it does).
    this.slot.store(SW.RX_BLOCKED, 1);
    return false;
  }

  /** The worker moved the rx head while reading was stopped. */
  headMoved(): void {
    if (this.resumeScheduled || this.gone) return;
    this.resumeScheduled = true;
    // Not inside the read callback that may have just stopped reading: on the next turn.
    setImmediate(() => {
      this.resumeScheduled = false;
      this.readAgain();
    });
  }

  private readAgain(): void {
    if (this.gone || this.sock.destroyed) return;
    const v = this.view();
    if (v === undefined) {
      this.slot.store(SW.RX_BLOCKED, 1);
      return;
    }
    if (this.slot.load(SW.RX_BLOCKED) !== 0) this.slot.store(SW.RX_BLOCKED, 0);
    setReadView(this.sock, v);
    this.sock.resume();
  }

  /**
   * The tx tail moved: the bytes go out once the current callback is done (process.nextTick, as the direct
   * target's wire uncorks: everything published in one callback is one write, and no later turn waits).
   */
  flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(this.flushNow);
  }

  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Writes what the tx ring holds past what was written. */
  flush(): void {
    if (this.gone || this.sock.destroyed || !this.sock.writable) return;
    const tx = this.slot.tx;
    const tail = tx.tail;
    if (tail === this.txSent) return;
    writeCorked(this.sock, tx.views(this.txSent, tail), (err) => this.written(tail, err));
    this.txSent = tail;
    faultPoint('direct-tx-before-head');
  }

  /** The socket took the bytes up to `end`: the worker may write over them. */
  private written(end: number, err: Error | null | undefined): void {
    if (this.gone || err) return;
    this.slot.tx.setHead(end);
    if (this.slot.load(SW.TX_BLOCKED) !== 0) this.events.txDrained();
  }

  /** Writes what is published, then ends the worker's side; the socket is destroyed 2 s later at most. */
  end(): void {
    this.flush();
    this.sock.end();
    this.endTimer ??= setTimeout(() => this.sock.destroy(), 2000).unref();
  }

  destroy(): void {
    this.sock.destroy();
  }

  /** The slot is going away (the supervisor closed it): nothing is stored in it again. */
  detach(): void {
    this.gone = true;
    this.sock.destroy();
  }
}

/**
 * Writes views of a ring to a socket as one corked batch; `done` runs once the socket took the last (Node
 * does not copy a Buffer given to write: the ring's bytes stay untouched until then, as the head is not moved).
 */
export function writeCorked(sock: Socket, views: Buffer[], done: (err: Error | null | undefined) => void): void {
  sock.cork();
  for (let i = 0; i < views.length; i++) {
    if (i === views.length - 1) sock.write(views[i], done);
    else sock.write(views[i]);
  }
  sock.uncork();
}

/**
 * A worker taking over a direct socket from a killed one: the kernel's byte counts say how far that one got.
 * Bytes it read but did not publish are in the ring after the rx tail (every read went to the view at the
 * tail); bytes it wrote but whose write callback did not store the tx head are in the kernel. Stores the rx
 * tail and tx head they give; returns why not when the counts do not fit the rings (the connection is then
 * closed: the host reconnects).
 */
export function reconcile(slot: SlotView, fd: number, log: Logger): boolean {
  let p: { consumed: number; written: number };
  try {
    p = tcpPositions(fd);
  } catch (e) {
    log.warn('direct socket not resumed: its byte counts cannot be read', { slot: slot.index, error: String(e) });
    return false;
  }
  const rx = slot.rx;
  const tx = slot.tx;
  const rxTail = (p.consumed - slot.load(SW.RX_BASE)) >>> 0;
  const txHead = (p.written - slot.load(SW.TX_BASE)) >>> 0;
  const oldTail = rx.tail;
  const extra = posDiff(oldTail, rxTail);
  const room = Math.min(rx.size - posDiff(rx.head, oldTail), rx.size - (oldTail & (rx.size - 1)));
  const txOk = posLE(tx.head, txHead) && posLE(txHead, tx.tail);
  if (!posLE(oldTail, rxTail) || extra > room || !txOk) {
    log.error('direct socket not resumed: the kernel\'s byte counts do not fit its rings', {
      slot: slot.index, rxTail: oldTail, rxHead: rx.head, consumed: rxTail, txHead: tx.head, txTail: tx.tail, written: txHead,
    });
    return false;
  }
  if (extra > 0 || txHead !== tx.head) log.debug('direct socket reconciled', { slot: slot.index, rxRead: extra, txWritten: posDiff(tx.head, txHead) });
  rx.setTail(rxTail);
  tx.setHead(txHead);
  return true;
}
