// Pinned exchanges through a Connection: the bytes a host sends (capsules, H2CData) and, after each, every
// byte the target answered (ICResp, R2T, C2HData, CapsuleResp, C2HTermReq), with what the connection asked
// the state file's records, the observer and the log, and, for the in-pod-resume journal, its slot (records
// and header words) and tx ring; one scenario kills the journaled connection mid-stream and resumes it.
// The expected values in testdata/connection-4k.jsonl were written by the build of commit c54a9f0, before
// the transport was restructured: `PIN_WRITE=1 node --test dist/target/transport/connection-vectors.test.js`
// writes them again from the build under test (never needed: they pin that build's behaviour).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from './connection.js';
import type { Wire } from './wire.js';
import { DataBudget } from './data-budget.js';
import { Target } from '../controller/target.js';
import { Qpair } from '../controller/qpair.js';
import type { IoRecords } from '../controller/io-records.js';
import type { Logger, TargetObserver } from '../controller/observer.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Namespace } from '../subsystem/namespace.js';
import { MemoryBackend } from '../subsystem/backends/memory.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { PduType } from '../protocol/pdu.js';
import { buildSqe, SglId } from '../protocol/sqe.js';
import { DISCOVERY_NQN, IoOpc } from '../protocol/opcodes.js';
import { capsulePdu, connectPdu, enablePdu, h2cDataPdu, icReqPdu, type HostLink } from './test-support/host-pdus.js';
import { RingsFile, type SlotView } from '../resume/rings-file.js';
import { RingWire } from '../resume/ring-wire.js';
import { SlotJournal, readBinding } from '../resume/slot-journal.js';
import { JournalRecorder } from '../resume/journal-recorder.js';
import { StateFileRecorder } from './state-recorder.js';
import { RECORD_SIZE, SW } from '../resume/layout.js';

const NQN = 'nqn.2026-01.io.example:pinned';
const HOST = 'nqn.2026-01.io.example:pinned-host';
const FILE = fileURLToPath(new URL('../../../target/transport/testdata/connection-4k.jsonl', import.meta.url));
const WRITE = process.env.PIN_WRITE === '1';
/** As runTarget sizes it: 16 MiB, a quarter per connection. */
const BUDGET = 16 << 20;

const dir = mkdtempSync(join(tmpdir(), 'nvmeof-pinned-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// ---- what a host sends ----

const PLAIN: HostLink = {};

const pattern = (seed: number) => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + seed) & 0xff));
const read4k = (l: HostLink, cid: number, slba: number) => capsulePdu(buildSqe({ opc: IoOpc.Read, cid, nsid: 1, sglLen: 4096, cdw10: slba, cdw12: 7 }), undefined, l);
const writeInCapsule = (l: HostLink, cid: number, slba: number, data: Buffer, corrupt = false) =>
  capsulePdu(buildSqe({ opc: IoOpc.Write, cid, nsid: 1, sglId: SglId.InCapsule, sglLen: 4096, cdw10: slba, cdw12: 7 }), data, l, corrupt);
const writeR2T = (l: HostLink, cid: number, slba: number) => capsulePdu(buildSqe({ opc: IoOpc.Write, cid, nsid: 1, sglLen: 4096, cdw10: slba, cdw12: 7 }), undefined, l);
const connectCapsule = (l: HostLink, qid: number, cntlid: number, subnqn = NQN, cattr = 0) => connectPdu(qid, cntlid, subnqn, HOST, { cattr, link: l });

/** The I/O queue's exchange: in-capsule write, R2T write (its H2CData answers the R2T's tag), two reads back. */
function ioSteps(l: HostLink, cattr = 0): Step[] {
  return [
    { name: 'ICReq', pdu: icReqPdu(l) },
    { name: 'Connect I/O queue 1', pdu: connectCapsule(l, 1, 1, NQN, cattr) },
    { name: '4 KiB write, in-capsule', pdu: writeInCapsule(l, 10, 8, pattern(1)) },
    { name: '4 KiB write, R2T', pdu: writeR2T(l, 11, 16) },
    { name: 'its H2CData', pdu: (ttag) => h2cDataPdu(11, ttag, 0, pattern(2), true, l) },
    { name: '4 KiB read', pdu: read4k(l, 12, 8) },
    { name: '4 KiB read of the R2T write', pdu: read4k(l, 13, 16) },
  ];
}

interface Step {
  name: string;
  /** A PDU, or one built from the transfer tag of the last R2T the target sent. */
  pdu: Buffer | ((ttag: number) => Buffer);
  /** Journal scenarios: only these first bytes arrive before the worker is killed (killAfter). */
  firstBytes?: number;
  /** Journal scenarios: the worker is killed after this step and a new one resumes the connection. */
  killAfter?: boolean;
}

// ---- what the target does ----

class MemWire implements Wire {
  readonly peer = '192.0.2.1:50000';
  readonly localAddress = '127.0.0.1';
  readonly localPort = 4420;
  out: Buffer[] = [];
  ended = false;
  write(b: Buffer, sent?: () => void): void {
    this.out.push(Buffer.from(b));
    if (sent) queueMicrotask(sent);
  }
  end(): void { this.ended = true; }
  destroy(): void { this.ended = true; }
  take(): Buffer {
    const b = Buffer.concat(this.out);
    this.out = [];
    return b;
  }
}

/** Every call the state file's records were asked to make. */
class LoggingRecords implements IoRecords {
  log: string[] = [];
  private next = 0;
  allocateQpair(): number { this.log.push('allocateQpair'); return 3; }
  writeQpair(slot: number, q: object): void { this.log.push(`writeQpair ${slot} ${JSON.stringify(q)}`); }
  storeSqhd(slot: number, sqhd: number): void { this.log.push(`storeSqhd ${slot} ${sqhd}`); }
  freeQpair(slot: number): void { this.log.push(`freeQpair ${slot}`); }
  begin(q: number, cid: number, opc: number, nsid: number, cdw10: number, cdw11: number, cdw12: number, stage: number): number {
    this.log.push(`begin ${q} cid ${cid} opc ${opc} nsid ${nsid} cdw10-12 ${cdw10} ${cdw11} ${cdw12} stage ${stage} -> ${this.next}`);
    return this.next++;
  }
  stage(h: number, stage: number): void { this.log.push(`stage ${h} ${stage}`); }
  end(h: number): void { this.log.push(`end ${h}`); }
}

function recordingObserver(log: string[]): TargetObserver {
  return {
    connectionOpened: () => log.push('connectionOpened'),
    connectionClosed: () => log.push('connectionClosed'),
    queueConnected: (q) => log.push(`queueConnected ${q.ctrl.cntlid}/${q.qid}`),
    queueDisconnected: (q) => log.push(`queueDisconnected ${q.ctrl.cntlid}/${q.qid}`),
    controllerRemoved: (c, reason) => log.push(`controllerRemoved ${c.cntlid} ${reason}`),
    commandCompleted: (q, req) => log.push(`commandCompleted ${q ? `${q.ctrl.cntlid}/${q.qid}` : '-'} opc ${req.opcode} cid ${req.cid} status ${req.status}`),
    protocolError: (subnqn, kind) => log.push(`protocolError ${subnqn ?? '-'} ${kind}`),
  };
}

function recordingLogger(log: string[]): Logger {
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => { log.push(`${level} ${msg} ${JSON.stringify(meta ?? {})}`); };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

interface Rig {
  target: Target;
  events: string[];
  records: LoggingRecords | undefined;
  budget: DataBudget;
}

function rig(withRecords: boolean): Rig {
  const sub = new Subsystem('nvm', NQN, 'SERIAL', 'MODEL', [{ address: '127.0.0.1', port: 4420 }], undefined);
  sub.addNamespace(new Namespace(1, 512, deriveNamespaceIds(NQN, 1), new MemoryBackend(1 << 20)));
  const events: string[] = [];
  const records = withRecords ? new LoggingRecords() : undefined;
  const target = new Target([sub], {
    observer: recordingObserver(events), logger: recordingLogger(events),
    records: records ? new Map([[sub, records]]) : undefined,
  });
  return { target, events, records, budget: new DataBudget(BUDGET, BUDGET / 4) };
}

/** The admin queue of controller 1, enabled, on a connection of its own. */
function adminQueue(r: Rig): Connection {
  const w = new MemWire();
  const c = new Connection(w, r.target, { budget: r.budget, recorder: new StateFileRecorder(r.target) });
  for (const pdu of [icReqPdu(PLAIN), connectCapsule(PLAIN, 0, 0xffff), enablePdu()]) c.feed(pdu);
  return c;
}

interface Result {
  scenario: string;
  step: number;
  name: string;
  in: string;
  out: string;
  events: string[];
  records?: string[];
  slot?: string;
}

const tick = () => new Promise((r) => setImmediate(r));

/** The last R2T's transfer tag in `out` (PDUs back to back). */
function lastTtag(out: Buffer, prev: number): number {
  let ttag = prev;
  for (let at = 0; at + 8 <= out.length; at += out.readUInt32LE(at + 4)) if (out[at] === PduType.R2T) ttag = out.readUInt16LE(at + 10);
  return ttag;
}

async function runPlain(scenario: string, steps: Step[], o: { records?: boolean; discoveryOnly?: boolean; admin?: boolean } = {}): Promise<Result[]> {
  const r = rig(o.records ?? false);
  if (o.admin ?? true) adminQueue(r);
  r.events.length = 0;
  if (r.records) r.records.log = [];
  const wire = new MemWire();
  const conn = new Connection(wire, r.target, { budget: r.budget, discoveryOnly: o.discoveryOnly, recorder: new StateFileRecorder(r.target) });
  const out: Result[] = [];
  let ttag = -1;
  for (const [i, s] of steps.entries()) {
    const pdu = typeof s.pdu === 'function' ? s.pdu(ttag) : s.pdu;
    conn.feed(pdu);
    await tick();
    const bytes = wire.take();
    ttag = lastTtag(bytes, ttag);
    out.push({
      scenario, step: i, name: s.name, in: pdu.toString('hex'), out: bytes.toString('hex'), events: r.events.splice(0),
      ...(r.records ? { records: r.records.log.splice(0) } : {}),
    });
  }
  conn.close('test over');
  await tick();
  out.push({ scenario, step: steps.length, name: 'close', in: '', out: wire.take().toString('hex'), events: r.events.splice(0), ...(r.records ? { records: r.records.log.splice(0) } : {}) });
  return out;
}

// ---- the journal (in-pod resume) ----

let ringsN = 0;
function newSlot(): SlotView {
  const rings = RingsFile.create({ path: join(dir, `rings${ringsN++}`), slots: 1, rxSize: 1 << 21, txSize: 1 << 21, records: 16 });
  return rings.slot(0);
}

/** The slot's header words (the last-command time zeroed: a clock), its NQNs and host ID, and its records. */
function slotImage(slot: SlotView): string {
  const words = Array.from({ length: 48 }, (_, w) => (w === SW.LAST_CMD_MS_LO || w === SW.LAST_CMD_MS_HI ? 0 : slot.load(w) >>> 0));
  const strings = createHash('sha256').update(slot.buf.subarray(slot.headerOff + 256, slot.headerOff + 1152)).digest('hex').slice(0, 16);
  const at = slot.recordByte(0, 0);
  const records = slot.buf.subarray(at, at + 16 * RECORD_SIZE).toString('hex');
  return `${words.map((w) => w.toString(16)).join(',')} ${strings} ${records}`;
}

interface JournaledConn {
  conn: Connection;
  recorder: JournalRecorder;
  wire: RingWire;
  journal: SlotJournal;
  fed: number;
  sent: number;
}

function attach(r: Rig, slot: SlotView, journal: SlotJournal, fed: number): JournaledConn {
  const wire = new RingWire(slot, { published() {}, end() {}, destroy() {} });
  const recorder = new JournalRecorder(journal, slot.file.geometry.records);
  const conn = new Connection(wire, r.target, { budget: r.budget, recorder });
  return { conn, recorder, wire, journal, fed, sent: slot.tx.tail };
}

/** Puts `bytes` into the rx ring, then feeds the connection what it has not seen, as the rings front end does. */
function deliver(slot: SlotView, c: JournaledConn, bytes: Buffer): void {
  const tail = slot.rx.tail;
  slot.rx.put(tail, bytes);
  slot.rx.setTail((tail + bytes.length) >>> 0);
  pump(slot, c);
}

function pump(slot: SlotView, c: JournaledConn): void {
  const tail = slot.rx.tail;
  const views = slot.rx.views(c.fed, tail);
  c.fed = tail;
  for (const v of views) c.conn.feed(v);
}

function published(slot: SlotView, c: JournaledConn): Buffer {
  const tail = slot.tx.tail;
  const b = slot.tx.copyOut(c.sent, (tail - c.sent) >>> 0);
  c.sent = tail;
  slot.tx.setHead(tail); // the supervisor sent it
  return b;
}

async function runJournal(scenario: string, steps: Step[]): Promise<Result[]> {
  const r = rig(false);
  adminQueue(r);
  r.events.length = 0;
  const slot = newSlot();
  let c = attach(r, slot, SlotJournal.fresh(slot, () => {}), 0);
  const out: Result[] = [];
  let ttag = -1;
  const record = (i: number, name: string, pdu: Buffer | undefined) => {
    const bytes = published(slot, c);
    ttag = lastTtag(bytes, ttag);
    out.push({ scenario, step: i, name, in: pdu?.toString('hex') ?? '', out: bytes.toString('hex'), events: r.events.splice(0), slot: slotImage(slot) });
  };
  for (const [i, s] of steps.entries()) {
    const pdu = typeof s.pdu === 'function' ? s.pdu(ttag) : s.pdu;
    const first = s.firstBytes ?? pdu.length;
    deliver(slot, c, pdu.subarray(0, first));
    await tick();
    record(i, s.name, pdu.subarray(0, first));
    if (!s.killAfter) continue;
    // The worker dies here (its journal and wire are simply abandoned); the next one resumes the slot, then
    // the rest of a PDU cut short arrives.
    const { journal, state } = SlotJournal.resume(slot, () => {});
    const b = readBinding(slot)!;
    const ctrl = r.target.findController(r.target.findSubsystem(b.subnqn)!, b.cntlid)!;
    c = attach(r, slot, journal, state.head);
    const q = new Qpair(ctrl, b.qid, b.sqsize, c.conn, b.sqFlowControl);
    ctrl.ioQueues.set(b.qid, q);
    r.target.queueConnected(q);
    const res = c.recorder.resume(c.conn, state, q);
    pump(slot, c);
    r.events.push(`resumed ${JSON.stringify(res)}`);
    deliver(slot, c, pdu.subarray(first));
    await tick();
    record(i, 'resumed; the rest of the PDU', pdu.subarray(first));
  }
  return out;
}

// ---- the scenarios ----

async function scenarios(): Promise<Result[]> {
  const digests: HostLink = { hdgst: true, ddgst: true, hpda: 3 };
  const all: Result[] = [];
  all.push(...await runPlain('plain', ioSteps(PLAIN)));
  all.push(...await runPlain('digests, HPDA 3', [
    ...ioSteps(digests),
    { name: 'in-capsule write whose data digest is wrong', pdu: writeInCapsule(digests, 14, 24, pattern(3), true) },
  ]));
  all.push(...await runPlain('SQ flow control disabled', ioSteps(PLAIN, 0x04)));
  all.push(...await runPlain('state-file records', ioSteps(PLAIN), { records: true }));
  all.push(...await runPlain('discovery-only listener, another subsystem', [
    { name: 'ICReq', pdu: icReqPdu(PLAIN) },
    { name: 'Connect to an NVM subsystem', pdu: connectCapsule(PLAIN, 0, 0xffff) },
  ], { discoveryOnly: true, admin: false }));
  all.push(...await runPlain('discovery-only listener, discovery', [
    { name: 'ICReq', pdu: icReqPdu(PLAIN) },
    { name: 'Connect to discovery', pdu: connectCapsule(PLAIN, 0, 0xffff, DISCOVERY_NQN) },
  ], { discoveryOnly: true, admin: false }));
  all.push(...await runPlain('H2CData out of range: C2HTermReq', [
    ...ioSteps(PLAIN).slice(0, 2),
    { name: '4 KiB write, R2T', pdu: writeR2T(PLAIN, 11, 16) },
    { name: 'H2CData at offset 512', pdu: (ttag) => h2cDataPdu(11, ttag, 512, pattern(2).subarray(0, 512), false) },
  ]));
  all.push(...await runJournal('journal', ioSteps(PLAIN)));
  // Killed once the R2T is out and a read's capsule is half in the ring: the next worker answers the R2T's
  // H2CData without a second R2T and reads the capsule from the ring.
  const resumeSteps = ioSteps(PLAIN);
  all.push(...await runJournal('journal, killed after the R2T', [
    ...resumeSteps.slice(0, 4),
    { name: '4 KiB read, its first 40 bytes', pdu: read4k(PLAIN, 15, 8), firstBytes: 40, killAfter: true },
    { name: 'its H2CData', pdu: (ttag) => h2cDataPdu(11, ttag, 0, pattern(2), true) },
    { name: '4 KiB read of the R2T write', pdu: read4k(PLAIN, 13, 16) },
  ]));
  return all;
}

test('4 KiB reads and writes through a Connection: bytes, records, events and journal as pinned', async () => {
  const got = await scenarios();
  if (WRITE) {
    writeFileSync(FILE, got.map((g) => JSON.stringify(g)).join('\n') + '\n');
    return;
  }
  const want = readFileSync(FILE, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l) as Result);
  assert.equal(got.length, want.length, 'steps');
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    assert.deepEqual(got[i], w, `${w.scenario}, step ${w.step} (${w.name})`);
  }
});
