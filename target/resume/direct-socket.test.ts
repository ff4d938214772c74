// Direct sockets over a real TCP connection (loopback): reads land in the rx ring at its tail, reading stops
// at a full ring and starts again when the head moves, the tx ring goes out in order, and a successor's
// reconcile() finds from the kernel exactly what a reader or writer did without storing it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { RingsFile } from './rings-file.js';
import { SW, posDiff } from './layout.js';
import { DirectSocket, reconcile } from './direct-socket.js';
import { socketHandle, type NativeHandle } from './node-socket.js';
import { tcpPositions, tcpPositionsMissing } from './tcp-positions.js';

const dir = mkdtempSync(join(tmpdir(), 'nvmeof-direct-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const G = { slots: 1, rxSize: 1 << 12, txSize: 1 << 12, records: 8 };
const log = { debug() {}, info() {}, warn() {}, error() {} } as never;
const skip = tcpPositionsMissing();

async function waitFor(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A connected pair: the client, and the accepted side's handle, never read (pauseOnConnect). */
async function pair(): Promise<{ client: Socket; handle: NativeHandle; close(): void }> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection');
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const [sock] = (await accepted) as [Socket];
  return { client, handle: socketHandle(sock)!, close: () => { client.destroy(); sock.destroy(); server.close(); } };
}

/** A slot of its own over a fresh pair, its bases stored as the supervisor stores them at accept. */
async function directSlot() {
  const p = await pair();
  const f = RingsFile.create({ path: join(dir, `r${n++}`), ...G });
  const slot = f.slot(0);
  const base = tcpPositions(p.handle.fd);
  slot.store(SW.RX_BASE, base.consumed);
  slot.store(SW.TX_BASE, base.written);
  return { p, f, slot };
}

function bytes(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

test('rx: 64 KiB through a 4 KiB ring, reading stopped when it is full and started when the head moves', { skip }, async () => {
  const { p, f, slot } = await directSlot();
  const got: Buffer[] = [];
  let blockedSeen = 0;
  const d = new DirectSocket(slot, p.handle, {
    rx: () => {
      // Consume slowly: the head moves on the next turn, so the ring fills.
      setImmediate(() => {
        const head = slot.rx.head;
        const tail = slot.rx.tail;
        if (slot.load(SW.RX_BLOCKED) !== 0) blockedSeen++;
        got.push(slot.rx.copyOut(head, posDiff(head, tail)));
        slot.rx.setHead(tail);
        if (slot.load(SW.RX_BLOCKED) !== 0) d.headMoved();
      });
    },
    eof: () => {}, txDrained: () => {}, closed: () => {},
  });
  d.start();
  const data = bytes(64 << 10, 3);
  p.client.write(data);
  await waitFor('every byte in the ring', () => Buffer.concat(got).length >= data.length, 10_000);
  assert.ok(Buffer.concat(got).equals(data), 'the bytes in order');
  assert.ok(blockedSeen > 0, 'reading stopped at a full ring at least once');
  assert.equal(posDiff(slot.load(SW.RX_BASE) >>> 0, tcpPositions(p.handle.fd).consumed), slot.rx.tail, 'the kernel counts what the rx tail says');
  d.detach();
  p.close();
  f.close(true);
});

test('tx: the ring goes out in order, the head follows; reconcile restores what was not stored', { skip }, async () => {
  const { p, f, slot } = await directSlot();
  const d = new DirectSocket(slot, p.handle, { rx: () => {}, eof: () => {}, txDrained: () => {}, closed: () => {} });
  d.start();
  const received: Buffer[] = [];
  p.client.on('data', (b: Buffer) => received.push(b));
  const out = bytes(3000, 5);
  slot.tx.put(0, out);
  slot.tx.setTail(3000);
  d.flush();
  await waitFor('the tx head at the tail', () => slot.tx.head === 3000);
  await waitFor('the client has it all', () => Buffer.concat(received).length === 3000);
  assert.ok(Buffer.concat(received).equals(out));
  // And 1000 host bytes read into the ring.
  p.client.write(bytes(1000, 9));
  await waitFor('rx tail 1000', () => slot.rx.tail === 1000);
  // A reader and a writer that died before storing: the words are behind what the kernel has (this one
  // stays idle: the client sends nothing more and nothing is published).
  slot.rx.setTail(400);
  slot.tx.setHead(1200);
  assert.equal(reconcile(slot, p.handle.fd, log), true);
  assert.equal(slot.rx.tail, 1000, 'rx tail from the kernel');
  assert.equal(slot.tx.head, 3000, 'tx head from the kernel');
  // Counts that do not fit (the tx tail behind what the kernel has) are refused.
  slot.tx.setTail(2000);
  slot.tx.setHead(1000);
  assert.equal(reconcile(slot, p.handle.fd, log), false);
  d.detach();
  p.close();
  f.close(true);
});
