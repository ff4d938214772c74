// The worker's Wire over a slot's tx ring: units of PDUs are copied into the ring and published by one store
// of the tx tail, which the supervisor reads to send them. A unit that does not fit waits, in order, until
// the supervisor's tx head leaves room.
// Invariants:
//  - the tx tail only ever moves to the end of a whole unit: a killed worker leaves the host with whole
//    PDUs, never half of one, and never half of a completion (C2HData without its CapsuleResp);
//  - a unit's `publishing` hook runs after its bytes are in the ring and before the tail store, its
//    `published` hook after the tail store (or when the unit is dropped because the connection is gone).
import type { UnitWire } from '../transport/wire.js';
import type { TlsPeer } from '../controller/qpair.js';
import { SW, posDiff } from './layout.js';
import type { SlotView } from './rings-file.js';

export interface RingWireEvents {
  /** The tx tail moved (the supervisor should send). */
  published(): void;
  /** Send what is published, then close the socket. */
  end(): void;
  /** Close the socket now. */
  destroy(): void;
}

interface Unit {
  bufs: Buffer[];
  len: number;
  publishing?: (end: number) => void;
  published?: () => void;
}

export class RingWire implements UnitWire {
  readonly peer: string;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tlsPeer: TlsPeer | undefined;
  private tail: number;
  private readonly queue: Unit[] = [];
  private ending = false;
  private gone = false;

  constructor(private readonly slot: SlotView, private readonly events: RingWireEvents) {
    this.peer = slot.peer;
    this.localAddress = slot.localAddress;
    this.tlsPeer = slot.tlsPeer;
    this.localPort = slot.load(SW.LOCAL_PORT);
    this.tail = slot.tx.tail;
  }

  /** Units waiting for room in the tx ring. */
  get waiting(): number {
    return this.queue.length;
  }

  write(b: Buffer, sent?: () => void): void {
    this.writeUnit([b], undefined, sent);
  }

  writeUnit(bufs: Buffer[], publishing?: (end: number) => void, published?: () => void): void {
    if (this.gone || this.ending) {
      published?.();
      return;
    }
    let len = 0;
    for (const b of bufs) len += b.length;
    if (len > this.slot.tx.size) throw new RangeError(`a unit of ${len} bytes exceeds the tx ring (${this.slot.tx.size})`);
    const u: Unit = { bufs, len, publishing, published };
    if (this.queue.length === 0 && this.fits(len)) {
      this.publish(u);
      return;
    }
    this.queue.push(u);
    this.block();
  }

  private fits(len: number): boolean {
    return posDiff(this.slot.tx.head, this.tail) + len <= this.slot.tx.size;
  }

  private publish(u: Unit): void {
    const tx = this.slot.tx;
    let at = this.tail;
    for (const b of u.bufs) {
      tx.put(at, b);
      at = (at + b.length) >>> 0;
    }
    u.publishing?.(at);
    tx.setTail(at);
    this.tail = at;
    u.published?.();
    this.events.published();
  }

  private block(): void {
    this.slot.store(SW.TX_BLOCKED, 1);
    // The supervisor may have moved the head before it could see the flag: look again (it looks at the
    // flag after storing the head, so one of the two sees the other).
    this.drain();
  }

  /** The supervisor moved the tx head: publish what fits. */
  drain(): void {
    while (this.queue.length > 0 && !this.gone && this.fits(this.queue[0].len)) this.publish(this.queue.shift()!);
    if (this.queue.length === 0) {
      if (this.slot.load(SW.TX_BLOCKED) !== 0) this.slot.store(SW.TX_BLOCKED, 0);
      if (this.ending && !this.gone) {
        this.gone = true;
        this.events.end();
      }
    }
  }

  /** Sends what is queued, then closes. */
  end(): void {
    if (this.ending || this.gone) return;
    this.ending = true;
    this.slot.store(SW.WORKER_ENDING, 1);
    this.drain();
  }

  destroy(): void {
    if (this.gone) return;
    this.detach();
    this.events.destroy();
  }

  /** The slot is going away: queued units are dropped (their `published` hooks run), nothing is stored again. */
  detach(): void {
    this.gone = true;
    const q = this.queue.splice(0);
    for (const u of q) u.published?.();
  }
}
