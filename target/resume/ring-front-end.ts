// The worker's side of in-pod resume: it serves connections whose sockets the supervisor holds, reading
// their bytes from the rx rings and publishing PDUs into the tx rings, and when it starts it takes over
// every connection an earlier worker served (controllers first, then each queue, then its commands).
// Invariants:
//  - a connection's journal and wire are detached before its slot is released, so nothing a late completion
//    does reaches a slot the supervisor gave to a new socket;
//  - a controller is rebuilt only from its admin queue's slot, before any connection resumes, so I/O
//    queues find it; a queue whose controller did not come back is closed (the host then reconnects);
//  - a subsystem with a memory namespace is never resumed: its data died with the worker, and the host must
//    see new identifiers, which only a new association shows it.
import type { Logger } from '../controller/observer.js';
import type { Target } from '../controller/target.js';
import { Qpair } from '../controller/qpair.js';
import { QueueAuth } from '../auth/queue-auth.js';
import type { Controller } from '../controller/controller.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import { Connection } from '../transport/connection.js';
import type { DataBudget } from '../transport/data-budget.js';
import type { FrontEnd, FrontEndContext, ListenerChange, TlsKeysChange } from '../transport/front-end.js';
import type { ListenerConfig, SubsystemConfig } from '../config/config.js';
import { TlsKeyError, type PskSubsystems } from '../tls/keys.js';
import { listenerEntries } from './listeners.js';
import { FH, SW, SlotState } from './layout.js';
import type { RingsFile, SlotView } from './rings-file.js';
import { RingWire } from './ring-wire.js';
import { SlotJournal, lastCommandMs, readBinding, readController } from './slot-journal.js';
import { JournalRecorder } from './journal-recorder.js';
import type { ListenerEntry, SupervisorMessage, WorkerMessage } from './messages.js';
import { faultPoint, faultsArmed } from './faults.js';
import { observeResume, registerResumeMetrics, resumeReport } from './metrics.js';
import { SlotNotices } from './slot-notices.js';
import { DirectSocket, reconcile } from './direct-socket.js';
import type { NativeHandle } from './node-socket.js';

/** How long a listener change waits for the supervisor's answer before it is refused. */
const LISTENER_ANSWER_MS = 10_000;

interface Attached {
  slot: SlotView;
  gen: number;
  conn: Connection;
  wire: RingWire;
  journal: SlotJournal;
  recorder: JournalRecorder;
  /** Rx bytes given to the connection so far. */
  fed: number;
  /** A direct socket: this process reads and writes it (the supervisor only holds it). */
  direct?: DirectSocket;
}

export interface RingFrontEndOptions {
  rings: RingsFile;
  listeners: ListenerEntry[];
  /** This worker's configuration's TLS PSKs: told to the supervisor at start (its keys may be older). */
  tlsPsks: PskSubsystems;
  log: Logger;
  send(m: WorkerMessage): void;
}

/** Only what the supervisor reads the keys from (TlsKeys.load): the NQN and the PSKs, in order. */
const pskSubsystems = (subsystems: PskSubsystems): PskSubsystems => subsystems.map((s) => ({ nqn: s.nqn, ...(s.tlsPsks ? { tlsPsks: s.tlsPsks } : {}) }));

export class RingFrontEnd implements FrontEnd {
  readonly addresses: string[];
  readonly perConnectionBudget: number;
  private target: Target | undefined;
  private budget: DataBudget | undefined;
  private readonly conns: Array<Attached | undefined>;
  /** Byte notifications to the supervisor: every slot whose tx ring was published or rx ring consumed in a turn. */
  private readonly notices = new SlotNotices(['tx', 'rxh'] as const, (t, s) => this.o.send({ t, s }));
  /** Direct sockets' handles from the supervisor ('sock', 'open'), until their slot is attached. */
  private readonly handles = new Map<number, { g: number; handle: NativeHandle }>();
  private attachedResolve: (() => void) | undefined;
  private stopping = false;
  private readonly rings: RingsFile;
  private readonly log: Logger;
  /** The supervisor's listener table (SW.LISTENER indexes it); grows with live changes. */
  private listeners: ListenerEntry[];
  private readonly listenerRequests = new Map<number, (r: { table?: ListenerEntry[]; error?: string }) => void>();
  private readonly tlsKeyRequests = new Map<number, (r: { error?: string; keys?: boolean }) => void>();
  private nextListenerRequest = 1;

  constructor(private readonly o: RingFrontEndOptions) {
    this.rings = o.rings;
    this.log = o.log;
    this.listeners = o.listeners;
    this.addresses = o.listeners.map((l) => `${l.address}:${l.port}`);
    this.conns = new Array(o.rings.slotCount).fill(undefined);
    // A connection's host data in the rx ring must fit beside what else the ring holds (its capsules and
    // the bytes between): half of the ring for R2T data keeps room for the rest.
    this.perConnectionBudget = Math.max(1 << 20, o.rings.geometry.rxSize / 2);
  }

  start(ctx: FrontEndContext): Promise<void> {
    this.target = ctx.target;
    this.budget = ctx.budget;
    registerResumeMetrics(ctx.registry, this.rings, ctx.subsystems.map((s) => s.nqn));
    return new Promise((resolve) => {
      this.attachedResolve = resolve;
      // A worker started after a live change (or killed before its commit) serves the newest file: the
      // supervisor's handshakes must use its PSKs (a no-op when they are the same).
      this.o.send({ t: 'tls-keys', op: 'set', id: 0, subsystems: pskSubsystems(this.o.tlsPsks) });
      this.o.send({ t: 'ready' });
    });
  }

  /**
   * A live change of the listening addresses: the supervisor owns the sockets, so it opens the new ones
   * (answering with its table, which this process then numbers connections by), and at commit closes those
   * no longer listed with their connections (supervisor.ts listenersMessage).
   */
  async prepareListeners(subsystemListeners: ListenerConfig[], discoveryOnly: ListenerConfig[]): Promise<ListenerChange> {
    const entries = listenerEntries(subsystemListeners, discoveryOnly);
    const id = this.nextListenerRequest++;
    const r = await new Promise<{ table?: ListenerEntry[]; error?: string }>((resolve) => {
      this.listenerRequests.set(id, resolve);
      this.o.send({ t: 'listeners', op: 'prepare', id, entries });
      setTimeout(() => {
        if (this.listenerRequests.delete(id)) resolve({ error: `the supervisor did not answer within ${LISTENER_ANSWER_MS} ms` });
      }, LISTENER_ANSWER_MS).unref();
    });
    if (!r.table) throw new Error(`the supervisor could not open the listeners: ${r.error ?? 'no answer'}`);
    const key = (l: { address: string; port: number }) => `${l.address}:${l.port}`;
    const before = new Set(this.listeners.map(key));
    const wanted = new Set(entries.map(key));
    // Grown at once: a connection the supervisor accepts on a new address before the commit is numbered right.
    this.listeners = r.table;
    return {
      opened: entries.map(key).filter((k) => !before.has(k)),
      closing: [...before].filter((k) => !wanted.has(k)),
      commit: () => this.o.send({ t: 'listeners', op: 'commit', id }),
      undo: async () => this.o.send({ t: 'listeners', op: 'undo', id }),
    };
  }

  recovery(): Record<string, unknown> {
    return { workerRestarts: this.rings.getF64(FH.WORKER_RESTARTS), resume: resumeReport(this.rings) };
  }

  async stopAccepting(): Promise<void> {
    this.stopping = true;
  }

  closeConnections(): void {
    for (const e of this.conns) e?.conn.close('target shutting down');
  }

  /**
   * A live change of the TLS PSKs: TLS ends in the supervisor, so it reads and checks the new key files
   * (answering with an error that names the field and host) and at commit uses them for new handshakes
   * (supervisor.ts tlsKeysMessage).
   */
  async prepareTlsKeys(subsystems: SubsystemConfig[]): Promise<TlsKeysChange> {
    const id = this.nextListenerRequest++;
    const r = await new Promise<{ error?: string; keys?: boolean }>((resolve) => {
      this.tlsKeyRequests.set(id, (m) => resolve({ ...m, keys: m.error !== undefined }));
      this.o.send({ t: 'tls-keys', op: 'prepare', id, subsystems: pskSubsystems(subsystems) });
      setTimeout(() => {
        if (this.tlsKeyRequests.delete(id)) resolve({ error: `the supervisor did not answer within ${LISTENER_ANSWER_MS} ms` });
      }, LISTENER_ANSWER_MS).unref();
    });
    if (r.error) throw r.keys ? new TlsKeyError('the supervisor', r.error) : new Error(`the supervisor cannot use the TLS keys: ${r.error}`);
    return {
      commit: () => this.o.send({ t: 'tls-keys', op: 'commit', id }),
      undo: () => this.o.send({ t: 'tls-keys', op: 'undo', id }),
    };
  }

  onMessage(m: SupervisorMessage, handle?: NativeHandle): void {
    switch (m.t) {
      case 'attach': return this.attach(m.slots);
      case 'sock':
        if (handle) this.handles.set(m.s, { g: m.g, handle });
        return;
      case 'open':
        if (handle) this.handles.set(m.s, { g: m.g, handle });
        return this.open(m.s, m.g);
      case 'rx': for (const s of m.s) this.pump(s); return;
      case 'txh': for (const s of m.s) this.conns[s]?.wire.drain(); return;
      case 'eof': return this.eof(m.s, m.g);
      case 'closed': return this.closed(m.s, m.g);
      case 'ping': return this.o.send({ t: 'pong', n: m.n });
      case 'listeners-prepared': {
        const answer = this.listenerRequests.get(m.id);
        this.listenerRequests.delete(m.id);
        return answer?.(m);
      }
      case 'tls-keys-prepared': {
        const answer = this.tlsKeyRequests.get(m.id);
        this.tlsKeyRequests.delete(m.id);
        return answer?.(m);
      }
    }
  }

  // ---- taking over ----

  private attach(slots: Array<[number, number]>): void {
    const target = this.target!;
    const t0 = Date.now();
    const resumable: SlotView[] = [];
    for (const [s, g] of slots) {
      const slot = this.rings.slot(s);
      const state = slot.load(SW.STATE);
      if (slot.load(SW.GEN) !== g) continue;
      if (state === SlotState.CLOSED) {
        this.handles.delete(s);
        this.o.send({ t: 'release', s, g });
      } else if (state === SlotState.OPEN && slot.load(SW.DIRECT) !== 0) {
        // A direct socket: the kernel says how far the killed worker read and wrote (direct-socket.ts).
        const h = this.takeHandle(s, g);
        if (!h || !reconcile(slot, h.fd, this.log)) {
          this.o.send({ t: 'destroy', s, g });
        } else if (slot.load(SW.WORKER_ENDING) !== 0) {
          // It was ending the socket: what it published goes out, then the end.
          const d = new DirectSocket(slot, h, { rx: () => {}, eof: () => {}, txDrained: () => {}, closed: () => this.o.send({ t: 'destroy', s, g }) });
          d.end();
        } else {
          resumable.push(slot);
          this.handles.set(s, { g, handle: h });
        }
      } else if (state === SlotState.OPEN && slot.load(SW.WORKER_ENDING) !== 0) {
        this.o.send({ t: 'end', s, g });
      } else if (state === SlotState.OPEN) {
        resumable.push(slot);
      }
    }
    // Controllers first (from their admin queues), with keep-alive counted from their last command anywhere.
    const lastSeen = new Map<string, number>();
    for (const slot of resumable) {
      const b = readBinding(slot);
      if (!b) continue;
      const key = `${b.subnqn}\0${b.cntlid}`;
      lastSeen.set(key, Math.max(lastSeen.get(key) ?? 0, lastCommandMs(slot)));
    }
    const restored: Array<[Controller, number]> = [];
    for (const slot of resumable) {
      const rc = readController(slot);
      if (!rc) continue;
      const sub = target.findSubsystem(rc.subnqn);
      if (!sub || !this.resumable(sub) || target.findController(sub, rc.cntlid)) continue;
      const ctrl = target.resumeController(sub, rc.cntlid, rc.hostnqn, rc.hostid, rc.kato);
      if (!ctrl) continue;
      ctrl.cc = rc.cc;
      ctrl.csts = rc.csts;
      ctrl.features.asyncEventConfig = rc.asyncEventConfig;
      ctrl.features.volatileWriteCache = rc.volatileWriteCache;
      ctrl.features.temperatureThreshold = rc.temperatureThreshold;
      restored.push([ctrl, lastSeen.get(`${rc.subnqn}\0${rc.cntlid}`) ?? rc.lastCommandMs]);
    }
    for (const [ctrl, last] of restored) ctrl.resumeKeepAlive(last || Date.now());
    let resumed = 0;
    let redone = 0;
    let republished = 0;
    for (const slot of resumable) {
      const earlier = slot.load(SW.IC) !== 0;
      const r = this.resumeSlot(slot);
      if (earlier && r) {
        resumed++;
        redone += r.redone;
        republished += r.republished;
      }
    }
    const rings = this.rings;
    const exitMs = rings.getF64(FH.LAST_WORKER_EXIT_MS);
    if (resumed > 0) {
      const seconds = (Date.now() - (exitMs > 0 ? exitMs : t0)) / 1000;
      rings.addF64(FH.CONNECTIONS_RESUMED, resumed);
      rings.addF64(FH.COMMANDS_REDONE, redone);
      rings.addF64(FH.COMPLETIONS_REPUBLISHED, republished);
      rings.setF64(FH.LAST_RESUME_AT_MS, Date.now());
      rings.setF64(FH.LAST_RESUME_SECONDS, seconds);
      rings.setF64(FH.LAST_RESUME_CONNECTIONS, resumed);
      observeResume(rings, seconds);
      this.log.info('connections resumed', { connections: resumed, controllers: restored.length, commandsRedone: redone, completionsRepublished: republished, seconds });
    }
    this.attachedResolve?.();
    this.attachedResolve = undefined;
  }

  /** Memory namespaces die with the worker: their subsystem's hosts must reconnect and see new identifiers. */
  private resumable(sub: Subsystem): boolean {
    for (const n of sub.namespaces.values()) if (n.backend.kind === 'memory') return false;
    return true;
  }

  private resumeSlot(slot: SlotView): { redone: number; republished: number } | undefined {
    const target = this.target!;
    const s = slot.index;
    const { journal, state } = SlotJournal.resume(slot, () => this.markRxh(s));
    const e = this.attachConnection(slot, journal, state.head);
    e.direct?.flush();
    const b = readBinding(slot);
    let q: Qpair | undefined;
    if (b) {
      const sub = target.findSubsystem(b.subnqn);
      const ctrl = sub && this.resumable(sub) ? target.findController(sub, b.cntlid) : undefined;
      const taken = ctrl && (b.qid === 0 ? ctrl.admin !== undefined : ctrl.ioQueues.has(b.qid));
      if (!ctrl || ctrl.destroyed || taken) {
        this.log.warn('connection not resumed: its controller did not come back', { peer: e.wire.peer, subnqn: b.subnqn, cntlid: b.cntlid, qid: b.qid });
        e.conn.close('controller not resumed');
        return undefined;
      }
      q = new Qpair(ctrl, b.qid, b.sqsize, e.conn, b.sqFlowControl);
      if (b.auth) {
        // Authenticated before the swap, authenticated after. A host whose key is gone from the configuration
        // while it stays allowed keeps an authenticated queue, without a key, as the running target keeps it
        // (runtime/reconfigure.ts); one that had not authenticated yet is closed (it reconnects).
        const keys = sub!.hostAuth.get(ctrl.hostnqn);
        if (keys) q.auth = QueueAuth.resumed(keys, ctrl.hostnqn, sub!.nqn, b.authenticated);
        else if (!b.authenticated || !sub!.allowsHost(ctrl.hostnqn)) {
          this.log.warn('connection not resumed: its host must authenticate and has no key any more', { peer: e.wire.peer, subnqn: b.subnqn, hostnqn: ctrl.hostnqn, qid: b.qid });
          e.conn.close('host key gone');
          return undefined;
        }
      } else if (sub!.hostAuth.has(ctrl.hostnqn)) {
        // Its host gained a key in a configuration no worker applied before this one read it: the queue never
        // authenticated, so it ends, as a live change ends it (runtime/reconfigure.ts); the host reconnects.
        this.log.warn('connection not resumed: its host must authenticate now', { peer: e.wire.peer, subnqn: b.subnqn, hostnqn: ctrl.hostnqn, qid: b.qid });
        e.conn.close('host must authenticate');
        return undefined;
      }
      if (b.qid === 0) ctrl.admin = q;
      else ctrl.ioQueues.set(b.qid, q);
      target.queueConnected(q);
    }
    this.log.debug('resuming connection', {
      slot: s, peer: e.wire.peer, qid: b?.qid, cntlid: b?.cntlid, head: state.head, replayEnd: state.replayEnd, rxTail: slot.rx.tail, txTail: slot.tx.tail,
      txHead: slot.tx.head, sqhd: state.sqhd, ic: state.ic, commands: state.commands.map((c) => ({ cid: c.sqe.readUInt16LE(2), opcode: c.sqe[0], stage: c.stage, r2t: c.r2t, result: c.result })),
    });
    const out = e.recorder.resume(e.conn, state, q);
    this.pump(s);
    if (slot.load(SW.PEER_ENDED) !== 0) e.conn.close('connection closed by host');
    else e.direct?.start();
    return out;
  }

  private open(s: number, g: number): void {
    const slot = this.rings.slot(s);
    if (slot.load(SW.GEN) !== g || slot.load(SW.STATE) !== SlotState.OPEN || this.conns[s]) return;
    if (this.stopping) {
      this.o.send({ t: 'destroy', s, g });
      return;
    }
    const e = this.attachConnection(slot, SlotJournal.fresh(slot, () => this.markRxh(s)), 0);
    if (slot.load(SW.DIRECT) !== 0 && !e.direct) {
      this.log.warn('direct socket without its handle: closed', { slot: s });
      this.o.send({ t: 'destroy', s, g });
      return;
    }
    e.direct?.start();
  }

  /** The handle the supervisor sent for slot `s` of generation `g` (taken: it is used once). */
  private takeHandle(s: number, g: number): NativeHandle | undefined {
    const h = this.handles.get(s);
    this.handles.delete(s);
    return h && h.g === g ? h.handle : undefined;
  }

  private attachConnection(slot: SlotView, journal: SlotJournal, fed: number): Attached {
    const s = slot.index;
    const gen = slot.load(SW.GEN);
    const handle = slot.load(SW.DIRECT) !== 0 ? this.takeHandle(s, gen) : undefined;
    let direct: DirectSocket | undefined;
    const wire = new RingWire(slot, handle
      ? {
          published: () => direct!.flushSoon(),
          // The worker's own side ends; the supervisor drops its handle once this socket closed.
          end: () => direct!.end(),
          destroy: () => direct!.destroy(),
        }
      : {
          published: () => this.markTx(s),
          end: () => this.o.send({ t: 'end', s, g: gen }),
          destroy: () => this.o.send({ t: 'destroy', s, g: gen }),
        });
    if (handle) {
      direct = new DirectSocket(slot, handle, {
        rx: () => this.pump(s),
        eof: () => this.eof(s, gen),
        txDrained: () => this.conns[s]?.wire.drain(),
        closed: () => this.o.send({ t: 'destroy', s, g: gen }),
      });
    }
    const l = this.listeners[slot.load(SW.LISTENER)];
    const recorder = new JournalRecorder(journal, this.rings.geometry.records);
    const conn = new Connection(wire, this.target!, { discoveryOnly: l?.discoveryOnly ?? false, budget: this.budget, recorder });
    const e: Attached = { slot, gen, conn, wire, journal, recorder, fed, direct };
    this.conns[s] = e;
    return e;
  }

  /** The host sent FIN: what it sent before is answered, then the connection ends (as the direct target does). */
  private eof(s: number, g: number): void {
    const e = this.conns[s];
    if (!e || e.gen !== g) return;
    this.pump(s);
    e.conn.close('connection closed by host');
  }

  private closed(s: number, g: number): void {
    const e = this.conns[s];
    if (e && e.gen === g) {
      this.conns[s] = undefined;
      e.conn.wireClosed();
      e.wire.detach();
      e.journal.detach();
      e.direct?.detach();
    }
    const h = this.handles.get(s);
    if (h && h.g === g) this.handles.delete(s);
    this.o.send({ t: 'release', s, g });
  }

  // ---- bytes ----

  private pump(s: number): void {
    const e = this.conns[s];
    if (!e) return;
    const tail = e.slot.rx.tail;
    if (tail === e.fed) return;
    const views = e.slot.rx.views(e.fed, tail);
    e.fed = tail;
    for (const v of views) {
      if (e.conn.isClosed) return;
      e.conn.feed(v);
    }
    if (faultsArmed) {
      const p = e.conn.receiving;
      if (p === 'header') faultPoint('pdu-partial-header');
      else if (p === 'data') faultPoint('pdu-partial-data');
    }
  }

  private markTx(s: number): void {
    this.notices.mark('tx', s);
  }

  private markRxh(s: number): void {
    const d = this.conns[s]?.direct;
    if (d) d.headMoved();
    else this.notices.mark('rxh', s);
  }
}
