// The supervisor of in-pod resume: PID 1 of the target's container in this mode. It owns the listening
// sockets and every accepted socket, moves bytes between each socket and its slot's rings, and forks the
// worker (all NVMe logic) again whenever it exits. It never parses NVMe: a killed worker loses no byte,
// because bytes are in the mapping before the worker sees them, and the host never notices, because its
// socket stays open.
// Direct sockets (plain TCP, the default; --proxied-sockets turns them off): the supervisor accepts without
// reading (pauseOnConnect), hands each worker the socket's handle and keeps its own, and moves no byte: the
// worker reads into and writes from the rings itself (resume/direct-socket.ts). Sockets with TLS (ended
// here, tls/gate.ts) are always proxied as below.
// Invariants (proxied sockets):
//  - rx: socket bytes go into the ring only below head + size; when they do not fit the socket is paused
//    and the rest kept here until the worker moves the head (RX_BLOCKED asks it to say so);
//  - tx: bytes between the tx head and tail are sent in order, straight from the mapping (the worker never
//    writes there until the head moves past them, which happens only once the socket took them);
//  - a slot is reused only after the worker released it (or no worker ever saw it), and every message about
//    a slot names its generation;
//  - a worker that serves but sent nothing (a pong at least) for hangTimeoutMs is hung: it is SIGKILLed and
//    replaced as if it had crashed. The watchdog never judges across a stall of the supervisor's own loop.
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../controller/observer.js';
import { TARGET_NODE_FLAGS } from '../node-flags.js';
import { STANDBY_NODE_FLAG } from './standby-compaction.js';
import { SUPERVISOR_DEFAULTS } from './defaults.js';
import { SlotNotices } from './slot-notices.js';
import { FH, SW, SlotState, TLS_RESULT_FIELD, posDiff, slotFileSize } from './layout.js';
import { RingsFile, type SlotView } from './rings-file.js';
import { writeSocketInfo } from './slot-journal.js';
import { listenWhenFree } from '../transport/port-wait.js';
import type { ListenerEntry, SupervisorMessage, WorkerMessage } from './messages.js';
import { gateSocket, type GateContext } from '../tls/gate.js';
import type { PskSubsystems, TlsKeys } from '../tls/keys.js';
import type { TlsPeer } from '../controller/qpair.js';
import { socketHandle, type NativeHandle } from './node-socket.js';
import { writeCorked } from './direct-socket.js';
import { tcpPositions, tcpPositionsMissing } from './tcp-positions.js';

export { SUPERVISOR_DEFAULTS };

export interface SupervisorOptions {
  /** The worker's entry point and its arguments (the target's own). */
  workerPath: string;
  workerArgs: string[];
  listeners: ListenerEntry[];
  rings: { path: string; slots: number; rxSize: number; txSize: number; records: number };
  log: Logger;
  /** Environment of the first worker only (fault injection); later workers get the plain environment. */
  firstWorkerEnv?: NodeJS.ProcessEnv;
  /** Delay before forking a worker again after one that had served (ms). */
  restartDelayMs?: number;
  /** Delay cap for a worker that keeps dying before it serves (doubling from restartDelayMs). */
  maxRestartDelayMs?: number;
  /** Keep a standby worker loaded to take over at once (default true; it costs one idle process). */
  standby?: boolean;
  /** A serving worker silent this long (ms) is killed (default 3000; 0: never). */
  hangTimeoutMs?: number;
  /**
   * For listeners with `tls` required or allowed: the handshake and the record layer run here, so the rings
   * carry plaintext and a worker that dies never breaks a TLS session (a supervisor that dies ends them all).
   * Each handshake's result is counted in the rings file's header, which the worker's /metrics reads.
   */
  tlsKeys?: () => TlsKeys;
  /** A change of the PSKs (the worker's 'tls-keys'): reads and checks them now (throws), returns how to use them. */
  prepareTlsKeys?: (subsystems: PskSubsystems) => () => void;
  /** Plain TCP sockets proxied through the rings as TLS ones are, not handed to the worker (default false). */
  proxiedSockets?: boolean;
}

interface SockEntry {
  slot: SlotView;
  gen: number;
  sock: Socket;
  /** Bytes that did not fit the rx ring; the socket is paused while there are any. */
  pending: Buffer[];
  /** Tx position up to which bytes were handed to the socket. */
  txSent: number;
  closed: boolean;
  /** The host sent FIN; the worker is told once every byte before it is in the ring. */
  peerEnded: boolean;
  eofSignalled: boolean;
  /** A direct socket: the worker reads and writes it; this process only holds it (never reads, never writes). */
  direct: boolean;
}

export class Supervisor {
  readonly rings: RingsFile;
  /** By listener index; undefined once a live change closed it (an index is never reused). */
  private readonly servers: Array<Server | undefined> = [];
  /** The listener table now: the configuration's at start, grown by live changes (listenersMessage). */
  private table: ListenerEntry[];
  private pendingListeners: { id: number; opened: number[]; closing: number[] } | undefined;
  private pendingTlsKeys: { id: number; commit: () => void } | undefined;
  private readonly entries: Array<SockEntry | undefined>;
  private readonly free: number[] = [];
  private worker: ChildProcess | undefined;
  /** A worker forked ahead, its modules loaded, waiting to take over (NVMEOF_WORKER_STANDBY). */
  private standby: ChildProcess | undefined;
  private standbyTimer: NodeJS.Timeout | undefined;
  /** Children that said they are loaded and waiting for 'go'. */
  private readonly readyChildren = new Set<ChildProcess>();
  /** The worker said it is ready and was sent the slots: notifications go to it. */
  private attached = false;
  private workerServed = false;
  private restartDelay: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopResolve: ((code: number) => void) | undefined;
  /** Byte notifications to the worker: every slot whose rx ring filled or whose tx ring drained in a turn. */
  private readonly notices = new SlotNotices(['rx', 'txh'] as const, (t, s) => this.notify({ t, s }));
  private readonly log: Logger;
  private starts = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private pings = 0;
  /** When the worker last sent anything (any message shows its event loop turns). */
  private lastHeard = 0;
  private lastTick = 0;
  /** The worker the watchdog killed, until its exit. */
  private hungKilled: ChildProcess | undefined;
  /** When a worker first said it is ready: it had opened its subsystems' state files, so held their locks. */
  private workerReadyAtMs: number | undefined;
  /** Plain TCP sockets are direct (the addon that reads the kernel's byte counts is there, and not turned off). */
  private readonly direct: boolean;

  constructor(private readonly o: SupervisorOptions) {
    this.log = o.log;
    this.rings = RingsFile.create(o.rings);
    this.entries = new Array(o.rings.slots).fill(undefined);
    for (let i = o.rings.slots - 1; i >= 0; i--) this.free.push(i);
    this.restartDelay = o.restartDelayMs ?? SUPERVISOR_DEFAULTS.restartDelayMs;
    this.table = [...o.listeners];
    const missing = o.proxiedSockets ? undefined : tcpPositionsMissing();
    this.direct = !o.proxiedSockets && missing === undefined;
    if (missing !== undefined) this.log.warn('direct sockets off: plain TCP connections are proxied through the supervisor', { reason: missing });
  }

  /**
   * Forks the first worker and listens, waiting for a port in use as the target does (transport/port-wait.ts):
   * rejects with a StartupError for a port another process keeps.
   */
  async start(): Promise<void> {
    this.forkWorker();
    for (let i = 0; i < this.o.listeners.length; i++) {
      const l = this.o.listeners[i];
      // The worker holds the state-file locks: until it is ready a port in use may be the old container's.
      this.servers.push(await listenWhenFree(() => this.listen(l, i), {
        what: 'NVMe/TCP listener', address: l.address, port: l.port, log: this.log,
        locksHeldSinceMs: () => this.workerReadyAtMs, stopped: () => this.stopping,
      }));
    }
    this.log.info('supervisor listening', {
      listeners: this.o.listeners.map((l) => `${l.address}:${l.port}`), rings: this.o.rings.path, slots: this.o.rings.slots,
      bytesPerConnection: slotFileSize(this.rings.geometry), plainSockets: this.direct ? 'direct' : 'proxied',
    });
  }

  private listen(l: ListenerEntry, index: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      // Half-open: after the host's FIN the worker still answers what came before it (a C2HTermReq for a bad
      // last PDU, as the direct target does), then ends the socket.
      const mode = l.tls ?? 'off';
      const keys = this.o.tlsKeys;
      const tls: GateContext | undefined = keys && { keys, log: this.log, counted: (r) => this.rings.addF64(TLS_RESULT_FIELD[r], 1) };
      // A direct socket is never read here: paused on connect, its handle does not read ahead.
      const direct = this.direct && mode === 'off';
      const server = createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: direct }, mode === 'off' || !tls
        ? (sock) => this.accept(sock, index, undefined, direct)
        : (sock) => gateSocket(sock, mode, tls, (s, tlsPeer) => this.accept(s, index, tlsPeer)));
      server.once('error', reject);
      server.listen({ host: l.address, port: l.port, exclusive: true, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  /** The port a listener got (port 0 in tests). */
  port(i: number): number {
    const a = this.servers[i]?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  get workerPid(): number | undefined {
    return this.worker?.pid;
  }

  // ---- sockets ----

  private accept(sock: Socket, listener: number, tlsPeer?: TlsPeer, direct = false): void {
    const s = this.free.pop();
    if (s === undefined || this.stopping) {
      this.log.warn('connection refused: every connection slot is in use', { peer: `${sock.remoteAddress}:${sock.remotePort}`, slots: this.o.rings.slots });
      sock.destroy();
      if (s !== undefined) this.free.push(s);
      return;
    }
    let slot: SlotView;
    try {
      slot = this.rings.slot(s);
    } catch (e) {
      // Its file could not be made (ENOSPC in a small /dev/shm, say): this connection is refused, no other.
      this.log.error('connection refused: no room for its rings', { peer: `${sock.remoteAddress}:${sock.remotePort}`, rings: this.o.rings.path, error: String(e) });
      sock.destroy();
      this.free.push(s);
      return;
    }
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 10_000);
    // The kernel's byte counts now: ring position 0 of both rings (the worker reconciles from them).
    let base: { consumed: number; written: number } | undefined;
    const handle = direct ? socketHandle(sock) : undefined;
    if (direct) {
      try {
        base = tcpPositions(handle!.fd);
      } catch (err) {
        this.log.warn('connection refused: its byte counts cannot be read', { peer: `${sock.remoteAddress}:${sock.remotePort}`, error: String(err) });
        sock.destroy();
        this.free.push(s);
        return;
      }
    }
    slot.reset();
    const gen = (slot.load(SW.GEN) + 1) | 0;
    slot.store(SW.GEN, gen);
    writeSocketInfo(slot, `${sock.remoteAddress}:${sock.remotePort}`, sock.localAddress ?? '', sock.localPort ?? 0, listener, tlsPeer);
    if (base) {
      slot.store(SW.RX_BASE, base.consumed);
      slot.store(SW.TX_BASE, base.written);
      slot.store(SW.DIRECT, 1);
    }
    slot.store(SW.STATE, SlotState.OPEN);
    const e: SockEntry = { slot, gen, sock, pending: [], txSent: 0, closed: false, peerEnded: false, eofSignalled: false, direct };
    this.entries[s] = e;
    if (direct) {
      // Never read here: the worker's socket sees the host's FIN and errors. This one closes when told.
      sock.on('error', () => { /* the worker's side sees it */ });
      sock.on('close', () => this.onClose(e));
      this.notify({ t: 'open', s, g: gen }, handle);
      return;
    }
    sock.on('data', (chunk: Buffer) => this.onData(e, chunk));
    sock.on('end', () => {
      e.peerEnded = true;
      if (e.pending.length === 0) this.signalEof(e);
    });
    sock.on('error', () => { /* a reset by the peer ends like a close */ });
    sock.on('close', () => this.onClose(e));
    this.notify({ t: 'open', s, g: gen });
  }

  private onData(e: SockEntry, chunk: Buffer): void {
    if (e.pending.length > 0) {
      e.pending.push(chunk);
      return;
    }
    const n = this.copyIn(e, chunk);
    if (n < chunk.length) {
      e.pending.push(chunk.subarray(n));
      e.sock.pause();
      e.slot.store(SW.RX_BLOCKED, 1);
      // The worker may have moved the head before it could see the flag: look again.
      this.drainPending(e);
    }
    this.markRx(e.slot.index);
  }

  /** Copies what fits of `chunk` into the rx ring; returns how much. */
  private copyIn(e: SockEntry, chunk: Buffer): number {
    const rx = e.slot.rx;
    const tail = rx.tail;
    const room = rx.size - posDiff(rx.head, tail);
    const n = Math.min(room, chunk.length);
    if (n === 0) return 0;
    rx.put(tail, chunk, 0, n);
    rx.setTail((tail + n) >>> 0);
    return n;
  }

  private drainPending(e: SockEntry): void {
    while (e.pending.length > 0) {
      const c = e.pending[0];
      const n = this.copyIn(e, c);
      if (n > 0) this.markRx(e.slot.index);
      if (n < c.length) {
        e.pending[0] = c.subarray(n);
        return;
      }
      e.pending.shift();
    }
    e.slot.store(SW.RX_BLOCKED, 0);
    if (e.peerEnded) this.signalEof(e);
    else if (!e.closed) e.sock.resume();
  }

  /** Every byte the host sent before its FIN is in the ring: the worker answers them, then ends the socket. */
  private signalEof(e: SockEntry): void {
    if (e.eofSignalled || e.closed) return;
    e.eofSignalled = true;
    e.slot.store(SW.PEER_ENDED, 1);
    const s = e.slot.index;
    if (this.notices.take('rx', s)) this.notify({ t: 'rx', s: [s] });
    this.notify({ t: 'eof', s, g: e.gen });
  }

  private sendTx(e: SockEntry): void {
    if (e.closed) return;
    const tx = e.slot.tx;
    const tail = tx.tail;
    if (tail === e.txSent) return;
    writeCorked(e.sock, tx.views(e.txSent, tail), () => this.txDone(e, tail));
    e.txSent = tail;
  }

  /** The socket took the bytes up to `end`: the worker may write over them. */
  private txDone(e: SockEntry, end: number): void {
    if (this.entries[e.slot.index] !== e) return;
    e.slot.tx.setHead(end);
    if (e.slot.load(SW.TX_BLOCKED) !== 0) this.markTxh(e.slot.index);
  }

  private onClose(e: SockEntry): void {
    e.closed = true;
    e.pending.length = 0;
    e.slot.store(SW.STATE, SlotState.CLOSED);
    const s = e.slot.index;
    if (this.worker === undefined && !this.attached) {
      // No worker to tell: the next one is sent this slot as closed and releases it.
    }
    this.notify({ t: 'closed', s, g: e.gen });
    if (this.stopping) this.release(s, e.gen);
  }

  private release(s: number, g: number): void {
    const e = this.entries[s];
    const slot = this.rings.slot(s);
    if (slot.load(SW.GEN) !== g || slot.load(SW.STATE) !== SlotState.CLOSED) return;
    if (e && !e.closed) return;
    slot.store(SW.STATE, SlotState.FREE);
    this.entries[s] = undefined;
    // Last in, first out: the next connection reuses this slot's file, so files follow peak connections.
    this.free.push(s);
  }

  // ---- the worker ----

  /** Forks the active worker (at start, or after one exited with no standby to take over). */
  private forkWorker(): void {
    this.restartTimer = undefined;
    if (this.stopping) return;
    const child = this.forkChild('active');
    this.activate(child);
  }

  private forkChild(role: 'active' | 'standby'): ChildProcess {
    const first = this.starts === 0;
    this.starts++;
    this.rings.setF64(FH.WORKER_STARTS, this.starts);
    // The listener table as it is now: a worker started after a live change numbers connections as this
    // process does (a standby gets it again with 'go', the table may change while it waits).
    const env: NodeJS.ProcessEnv = { ...process.env, ...(first ? this.o.firstWorkerEnv : {}), NVMEOF_RINGS: this.o.rings.path, NVMEOF_LISTENERS: JSON.stringify(this.table) };
    if (!first) delete env.NVMEOF_RESUME_FAULT;
    if (role === 'standby') env.NVMEOF_WORKER_STANDBY = '1';
    else delete env.NVMEOF_WORKER_STANDBY;
    // The standby gets gc() to compact its heap once its modules are loaded (worker.ts, standby()).
    const execArgv = role === 'standby' ? [...TARGET_NODE_FLAGS, STANDBY_NODE_FLAG] : [...TARGET_NODE_FLAGS];
    const child = fork(this.o.workerPath, this.o.workerArgs, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    child.on('error', (e) => this.log.warn('worker process error', { pid: child.pid, error: String(e) }));
    child.on('message', (m: WorkerMessage | { t: 'standby' }) => {
      if (m.t === 'standby') {
        if (child !== this.standby && child !== this.worker) return;
        this.readyChildren.add(child);
        // Promoted before it was ready: it goes now.
        if (child === this.worker) this.go(child);
        return;
      }
      if (this.worker === child) {
        this.lastHeard = Date.now();
        this.onWorkerMessage(m);
      }
    });
    child.on('exit', (code, signal) => this.childExited(child, code, signal));
    return child;
  }

  private activate(child: ChildProcess): void {
    this.worker = child;
    this.attached = false;
    this.workerServed = false;
  }

  /** Tells a standby worker it is the worker now: it opens the state files and asks for the slots. */
  private go(child: ChildProcess): void {
    if (!this.readyChildren.has(child)) return;
    child.send({ t: 'go', listeners: this.table }, () => { /* its exit, if it died, is handled there */ });
  }

  private childExited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.readyChildren.delete(child);
    if (child === this.standby) {
      this.standby = undefined;
      if (!this.stopping) this.log.warn('standby worker exited', { pid: child.pid, code, signal });
      return;
    }
    if (child !== this.worker) return;
    this.worker = undefined;
    this.hungKilled = undefined;
    this.attached = false;
    this.rings.setF64(FH.LAST_WORKER_EXIT_MS, Date.now());
    // What it published before it died (its last notification may not have left) goes out now; a direct
    // socket's next worker sends it (the kernel tells it what the dead one wrote).
    for (const e of this.entries) if (e && !e.direct) this.sendTx(e);
    if (this.stopping) {
      this.finishStop(code ?? 1);
      return;
    }
    this.rings.addF64(FH.WORKER_RESTARTS, 1);
    const connections = this.entries.filter((e) => e && !e.closed).length;
    if (this.standby && this.workerServed) {
      // The standby has loaded everything already: it takes over at once.
      const next = this.standby;
      this.standby = undefined;
      this.log.warn('worker exited; the standby takes over', { pid: child.pid, code, signal, standby: next.pid, connections });
      this.activate(next);
      this.go(next);
      return;
    }
    const delay = this.workerServed ? (this.o.restartDelayMs ?? SUPERVISOR_DEFAULTS.restartDelayMs) : this.restartDelay;
    this.restartDelay = this.workerServed
      ? (this.o.restartDelayMs ?? SUPERVISOR_DEFAULTS.restartDelayMs)
      : Math.min(Math.max(2 * this.restartDelay, 100), this.o.maxRestartDelayMs ?? SUPERVISOR_DEFAULTS.maxRestartDelayMs);
    this.log.warn('worker exited; starting another', { pid: child.pid, code, signal, afterMs: delay, connections });
    this.restartTimer = setTimeout(() => this.forkWorker(), delay);
  }

  /** Once a worker serves, a standby is forked to take over from it (unless standby workers are off). */
  private forkStandbySoon(): void {
    if (!(this.o.standby ?? SUPERVISOR_DEFAULTS.standbyWorker) || this.standby || this.standbyTimer || this.stopping) return;
    this.standbyTimer = setTimeout(() => {
      this.standbyTimer = undefined;
      if (this.stopping || this.standby || !this.attached) return;
      this.standby = this.forkChild('standby');
    }, 200);
  }

  private onWorkerMessage(m: WorkerMessage): void {
    switch (m.t) {
      case 'ready': {
        const slots: Array<[number, number]> = [];
        for (let s = 0; s < this.entries.length; s++) {
          if (!this.rings.hasSlot(s)) continue;
          const slot = this.rings.slot(s);
          if (slot.load(SW.STATE) !== SlotState.FREE) slots.push([s, slot.load(SW.GEN)]);
        }
        this.attached = true;
        this.workerServed = true;
        this.workerReadyAtMs ??= Date.now();
        this.notices.clear();
        // Each direct socket's handle, before the slots (messages keep their order, handles included).
        for (const [s, g] of slots) {
          const e = this.entries[s];
          const handle = e && e.direct && !e.closed && e.gen === g ? socketHandle(e.sock) : undefined;
          if (handle) this.send(this.worker!, { t: 'sock', s, g }, handle);
        }
        this.send(this.worker!, { t: 'attach', slots });
        this.forkStandbySoon();
        this.startWatchdog();
        return;
      }
      case 'tx':
        for (const s of m.s) {
          const e = this.entries[s];
          if (e && !e.direct) this.sendTx(e);
        }
        return;
      case 'rxh':
        for (const s of m.s) {
          const e = this.entries[s];
          if (e && e.pending.length > 0) this.drainPending(e);
        }
        return;
      case 'end': {
        const e = this.entries[m.s];
        if (!e || e.gen !== m.g || e.closed) return;
        // A direct socket: the worker wrote and ended it; its handle here goes when the worker's closes.
        if (!e.direct) {
          this.sendTx(e);
          e.sock.end();
        }
        setTimeout(() => e.sock.destroy(), 2000).unref();
        return;
      }
      case 'destroy': {
        const e = this.entries[m.s];
        if (e && e.gen === m.g) e.sock.destroy();
        return;
      }
      case 'release':
        this.release(m.s, m.g);
        return;
      case 'pong':
        return;
      case 'listeners':
        void this.listenersMessage(m);
        return;
      case 'tls-keys':
        this.tlsKeysMessage(m);
        return;
    }
  }

  /**
   * A change of the TLS PSKs, told by the worker, which reads the configuration. Without a TLS listener no
   * key is read (as at start) and none can be opened live (config/diff.ts): there is nothing to reload.
   */
  private tlsKeysMessage(m: Extract<WorkerMessage, { t: 'tls-keys' }>): void {
    if (m.op === 'prepare' || m.op === 'set') {
      let commit: () => void;
      try {
        commit = this.o.prepareTlsKeys?.(m.subsystems) ?? (() => {});
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        if (m.op === 'set') this.log.error('TLS: the worker\'s configuration names keys that cannot be used; the keys in use stay', { error });
        else this.worker?.send({ t: 'tls-keys-prepared', id: m.id, error } satisfies SupervisorMessage);
        return;
      }
      if (m.op === 'set') return commit();
      this.pendingTlsKeys = { id: m.id, commit };
      this.worker?.send({ t: 'tls-keys-prepared', id: m.id } satisfies SupervisorMessage);
      return;
    }
    const p = this.pendingTlsKeys;
    if (!p || p.id !== m.id) return;
    this.pendingTlsKeys = undefined;
    if (m.op === 'commit') p.commit();
  }

  /**
   * A live change of the listening addresses, asked by the worker (its RingFrontEnd.prepareListeners): this
   * process owns the sockets, so it opens and closes them. Prepare opens what is missing at once (no waiting
   * for a port in use: the change is then refused whole), commit closes what is no longer listed with its
   * connections, undo closes what prepare opened.
   */
  private async listenersMessage(m: Extract<WorkerMessage, { t: 'listeners' }>): Promise<void> {
    const reply = (r: { table?: ListenerEntry[]; error?: string }) => this.worker?.send({ t: 'listeners-prepared', id: m.id, ...r } satisfies SupervisorMessage);
    const key = (l: { address: string; port: number }) => `${l.address}:${l.port}`;
    if (m.op === 'prepare') {
      const live = new Map<string, number>();
      this.table.forEach((l, i) => { if (this.servers[i]) live.set(key(l), i); });
      const wanted = new Set(m.entries.map(key));
      const opened: number[] = [];
      try {
        for (const e of m.entries) {
          if (live.has(key(e))) continue;
          // TLS keys are loaded at start only when a listener had TLS then (target/supervisor.ts), and listen()
          // would take plain hosts on a TLS port without them: a first TLS listener needs a restart.
          if ((e.tls ?? 'off') !== 'off' && !this.o.tlsKeys) throw new Error(`${key(e)}: a TLS listener in a target started without one needs a restart (its keys are loaded at start)`);
          const i = this.table.length;
          this.table.push(e);
          this.servers[i] = await this.listen(e, i);
          opened.push(i);
        }
      } catch (err) {
        for (const i of opened) this.closeListener(i);
        reply({ error: String(err) });
        return;
      }
      this.pendingListeners = { id: m.id, opened, closing: [...live].filter(([k]) => !wanted.has(k)).map(([, i]) => i) };
      reply({ table: this.table });
      return;
    }
    const p = this.pendingListeners;
    if (!p || p.id !== m.id) return;
    this.pendingListeners = undefined;
    for (const i of m.op === 'commit' ? p.closing : p.opened) this.closeListener(i);
    if (m.op === 'commit') {
      this.log.info('listeners changed', { opened: p.opened.map((i) => key(this.table[i])), closed: p.closing.map((i) => key(this.table[i])) });
    }
  }

  /** Stops listener `i` and ends the connections that came through it. */
  private closeListener(i: number): void {
    this.servers[i]?.close();
    this.servers[i] = undefined;
    for (const e of this.entries) if (e && !e.closed && e.slot.load(SW.LISTENER) === i) e.sock.destroy();
  }

  // ---- the watchdog ----

  private startWatchdog(): void {
    const hang = this.o.hangTimeoutMs ?? SUPERVISOR_DEFAULTS.workerHangTimeoutSeconds * 1000;
    if (hang <= 0 || this.watchdog) return;
    const period = Math.min(500, hang / 4);
    this.lastTick = Date.now();
    this.watchdog = setInterval(() => this.watch(hang, period), period);
    this.watchdog.unref();
  }

  private watch(hang: number, period: number): void {
    const now = Date.now();
    const late = now - this.lastTick > period + hang / 2;
    this.lastTick = now;
    const w = this.worker;
    if (!w || !this.attached || this.stopping || w === this.hungKilled) return;
    // This loop itself stalled: the worker's answers may be waiting unread, so it is not judged now.
    if (late) this.lastHeard = now;
    if (now - this.lastHeard > hang) {
      this.hungKilled = w;
      this.rings.addF64(FH.WORKER_HANGS, 1);
      this.log.error('worker stopped answering: killing it', { pid: w.pid, silentMs: now - this.lastHeard });
      w.kill('SIGKILL');
      return;
    }
    this.send(w, { t: 'ping', n: ++this.pings });
  }

  private notify(m: SupervisorMessage, handle?: NativeHandle): void {
    if (this.attached && this.worker?.connected) this.send(this.worker, m, handle);
  }

  /**
   * A message to a worker that may be dying: failing to reach it is how its exit begins, never an error. A
   * handle goes as child_process's 'net.Native': the worker gets its own descriptor, this one stays open.
   */
  private send(w: ChildProcess, m: SupervisorMessage, handle?: NativeHandle): void {
    const done = (e: Error | null) => {
      if (e && this.worker === w) this.log.debug('worker unreachable', { error: String(e) });
    };
    if (handle) w.send(m, handle as never, done);
    else w.send(m, done);
  }

  private markRx(s: number): void {
    this.notices.mark('rx', s);
  }

  private markTxh(s: number): void {
    this.notices.mark('txh', s);
  }

  // ---- stopping ----

  /**
   * SIGTERM: stop accepting, let the worker shut down (it waits for commands in flight, ends its
   * controllers and marks its state files clean), then close every socket. Resolves with the worker's code.
   */
  stop(): Promise<number> {
    if (this.stopping) return new Promise((r) => { this.stopResolve = r; });
    this.stopping = true;
    for (const s of this.servers) s?.close();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.standby?.kill('SIGKILL');
    return new Promise((resolve) => {
      this.stopResolve = resolve;
      if (this.worker) this.worker.kill('SIGTERM');
      else this.finishStop(0);
    });
  }

  private finishStop(code: number): void {
    for (const e of this.entries) e?.sock.destroy();
    this.rings.close(true);
    this.stopResolve?.(code);
  }

  /** Kills the worker with `signal` (tests). */
  killWorker(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    return this.worker?.kill(signal) ?? false;
  }
}
