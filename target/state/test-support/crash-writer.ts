// Child process of crash-point.test.ts: opens the state file at argv[2] and updates it without end
// (controllers, cntlid allocator, counters, reservation, header, qpair and in-flight records), every
// value derived from an iteration number k, until the parent SIGKILLs it at a random instant.
// It opens the file when it reads a line on stdin, and prints "ready <k>" when it starts updating.
import { writeSync } from 'node:fs';
import { openStateFile } from '../state-file.js';
import { Stage } from '../layout.js';
import {
  CRASH_BOOT_ID, CRASH_CAPACITY, CRASH_IDENTITY, controllerAt, countersAt, recoveryAt, reservationAt,
} from './crash-values.js';

const quiet = { error() {}, warn() {}, info() {} };
// Loaded: the parent starts the next writer while checking the last one, and says "go" when the
// file is free, so Node's start-up is not on the critical path of every kill.
writeSync(1, 'loaded\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const sf = await openStateFile({
  path: process.argv[2], identity: CRASH_IDENTITY, durability: 'process', bootId: CRASH_BOOT_ID, log: quiet, capacity: CRASH_CAPACITY,
});
// Continue from the newest iteration the file shows.
const r = sf.restored;
let k = Math.max(
  0,
  ...r.controllers.map((c) => c.record.katoMs),
  r.counters.dataUnitsRead,
  ...r.reservations.map((x) => x.generation),
  sf.header.last?.durationMs ?? 0,
);
const C = CRASH_CAPACITY.controllers;
const c = sf.connections;
const q = c.allocateQpair();
c.writeQpair(q, { cntlid: 1, qid: 1, sqsize: 31, sqhd: 0, hdgst: true, ddgst: false, epoch: sf.restored.bootCount });
const fifo: number[] = [];
writeSync(1, `ready ${k}\n`);
for (;;) {
  k++;
  const cntlid = sf.allocateCntlid();
  sf.writeController(k % C, controllerAt(k, cntlid));
  sf.setCounters(countersAt(k));
  sf.flushCounters();
  sf.writeReservation(reservationAt(k));
  const rec = recoveryAt(k);
  sf.recordRecovery('restored', rec.durationMs, rec.restoredControllers, rec.inflightAbandoned, rec.startedAtMs);
  if (fifo.length === CRASH_CAPACITY.inflightPerQpair - 1) c.end(fifo.shift()!);
  const h = c.begin(q, k & 0xffff, 1 + (k & 1), 1, k, 0, k & 0xff);
  c.storeSqhd(q, k & 0xffff);
  c.stage(h, Stage['data-in']);
  c.stage(h, Stage.executing);
  c.stage(h, Stage['done-but-unsent']);
  fifo.push(h);
}
