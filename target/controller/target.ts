// The target's runtime: its subsystems (and the discovery subsystem), their controllers, and command dispatch.
// Dispatch order for every capsule: check() before any data moves (so a bad command never costs an R2T),
// then execute() once the data is in.
import { AdminOpc, DISCOVERY_NQN, FabricsType, ioOpcodeName } from '../protocol/opcodes.js';
import { Status, statusName } from '../protocol/status.js';
import { AdrFam, SubType, encodeDiscoveryLog, type DiscoveryRecord } from '../protocol/discovery-log.js';
import { Subsystem } from '../subsystem/subsystem.js';
import type { ListenerConfig } from '../config/config.js';
import { Controller } from './controller.js';
import { executeAdmin } from './admin.js';
import { checkIo, executeIo } from './io.js';
import { checkAccess, checkReservationCommand, executeReservation, isReservationCommand, startIo } from './reservations.js';
import { executeConnect, executePropertyGet, executePropertySet, type ConnectOutcome, type ControllerDirectory } from './fabrics.js';
import { MAX_TRANSFER } from './limits.js';
import { AUTH_MAX_TRANSFER, AUTH_TIMEOUT_MS, checkAuthCommand, executeAuthReceive, executeAuthSend } from './auth-cmd.js';
import type { AuthEvent } from '../auth/queue-auth.js';
import { CONNECT_DATA_SIZE } from '../protocol/connect.js';
import type { LogSources } from './log-pages.js';
import type { Qpair, QueueTransport } from './qpair.js';
import type { Request } from './request.js';
import type { IoRecords } from './io-records.js';
import { nullLogger, nullObserver, type Logger, type TargetObserver } from './observer.js';
import { noticeDiscoveryLogChanged } from './discovery-notices.js';
import { noticeNamespacesChanged, takeChangedNamespaces } from './namespace-notices.js';

/** cntlids 1..0xFFEF are valid for the dynamic model (0xFFF0..0xFFFF are reserved). */
export const MAX_CNTLID = 0xffef;

/** Where controllers are remembered across restarts (the state file); absent means in memory only. */
export interface ControllerStore {
  /** The next cntlid to hand out, never one in `live` (nor one a host may still hold from an earlier process). */
  allocCntlid(sub: Subsystem, live: ReadonlySet<number>): number | undefined;
  controllerCreated(ctrl: Controller): void;
  controllerRemoved(ctrl: Controller, reason: string): void;
  /** A controller of an earlier process of this target was rebuilt with its cntlid (in-pod resume). */
  controllerResumed?(ctrl: Controller): void;
}

function inMemoryStore(): ControllerStore {
  const next = new Map<Subsystem, number>();
  return {
    allocCntlid(sub, live) {
      let id = next.get(sub) ?? 1;
      for (let tries = 0; tries < MAX_CNTLID; tries++) {
        const candidate = id;
        id = id >= MAX_CNTLID ? 1 : id + 1;
        if (!live.has(candidate)) {
          next.set(sub, id);
          return candidate;
        }
      }
      return undefined;
    },
    controllerCreated() {},
    controllerRemoved() {},
  };
}

export interface TargetOptions {
  observer?: TargetObserver;
  logger?: Logger;
  discoveryListeners?: ListenerConfig[];
  /** Per subsystem: where its controllers are remembered (default: in memory). */
  stores?: Map<Subsystem, ControllerStore>;
  /** Per subsystem: where its qpairs and in-flight commands are recorded (default: nowhere). */
  records?: Map<Subsystem, IoRecords>;
}

export class Target implements ControllerDirectory {
  readonly discovery: Subsystem;
  private readonly subsystems = new Map<string, Subsystem>();
  private readonly controllers = new Map<Subsystem, Map<number, Controller>>();
  readonly observer: TargetObserver;
  readonly log: Logger;
  private readonly stores = new Map<Subsystem, ControllerStore>();
  private readonly records: Map<Subsystem, IoRecords>;
  /** Connections served so far: the epoch recorded with each qpair. */
  private epoch = 0;
  private discoveryListeners: ListenerConfig[];
  private genctr = 1n;
  /** Commands received and not yet completed, on every connection (for a graceful shutdown). */
  inflight = 0;

  constructor(subsystems: Subsystem[], opts: TargetOptions = {}) {
    this.observer = opts.observer ?? nullObserver;
    this.log = opts.logger ?? nullLogger;
    this.records = opts.records ?? new Map();
    this.discoveryListeners = opts.discoveryListeners ?? [];
    this.discovery = new Subsystem('discovery', DISCOVERY_NQN, 'discovery', 'nvmeof-operator discovery', [], undefined);
    for (const s of [...subsystems, this.discovery]) {
      if (s.kind === 'nvm') this.subsystems.set(s.nqn, s);
      this.controllers.set(s, new Map());
      this.stores.set(s, opts.stores?.get(s) ?? inMemoryStore());
    }
  }

  /**
   * A subsystem added by a live configuration change, with where its controllers are remembered and its I/O
   * recorded (a state file of its own), if any.
   */
  addSubsystem(sub: Subsystem, store?: ControllerStore, records?: IoRecords): void {
    if (this.subsystems.has(sub.nqn)) throw new Error(`subsystem ${sub.nqn} is served already`);
    this.subsystems.set(sub.nqn, sub);
    this.controllers.set(sub, new Map());
    this.stores.set(sub, store ?? inMemoryStore());
    if (records) this.records.set(sub, records);
  }

  /**
   * A subsystem removed by a live configuration change: no host may connect to it from now on, and each of
   * its controllers is ended (its queues closed, as nvmet's nvmet_subsys_del_ctrls).
   */
  removeSubsystem(sub: Subsystem, reason: string): void {
    if (this.subsystems.get(sub.nqn) !== sub) return;
    this.subsystems.delete(sub.nqn);
    for (const c of this.controllersOf(sub)) c.destroy(reason);
    this.controllers.delete(sub);
    this.stores.delete(sub);
    this.records.delete(sub);
  }

  /**
   * The host list of `sub` changed: each controller whose host may connect no more is ended (its queues
   * closed; a Connect from it is refused from now on). Returns how many.
   */
  disconnectDisallowedHosts(sub: Subsystem, reason: string): number {
    let ended = 0;
    for (const c of this.controllersOf(sub)) {
      if (sub.allowsHost(c.hostnqn)) continue;
      c.destroy(reason);
      ended++;
    }
    // A discovery controller's log lists only what its host may reach: its log changed (discoveryLogChanged).
    return ended;
  }

  setDiscoveryListeners(listeners: ListenerConfig[]): void {
    this.discoveryListeners = listeners;
  }

  allSubsystems(): Subsystem[] {
    return [...this.subsystems.values()];
  }

  findSubsystem(nqn: string): Subsystem | undefined {
    return nqn === DISCOVERY_NQN ? this.discovery : this.subsystems.get(nqn);
  }

  controllersOf(sub: Subsystem): Controller[] {
    return [...(this.controllers.get(sub)?.values() ?? [])];
  }

  createController(sub: Subsystem, hostnqn: string, hostid: Buffer, kato: number): Controller | undefined {
    const table = this.controllers.get(sub)!;
    const store = this.stores.get(sub)!;
    const cntlid = store.allocCntlid(sub, new Set(table.keys()));
    if (cntlid === undefined) return undefined;
    const ctrl = this.newController(sub, cntlid, hostnqn, hostid, kato);
    store.controllerCreated(ctrl);
    this.log.info('controller created', { subnqn: sub.nqn, cntlid, hostnqn, kato });
    return ctrl;
  }

  /**
   * Rebuilds a controller that an earlier process of this target served, with the same cntlid (in-pod resume:
   * its queues' connections survived the process). Undefined when that cntlid is taken.
   */
  resumeController(sub: Subsystem, cntlid: number, hostnqn: string, hostid: Buffer, kato: number): Controller | undefined {
    const table = this.controllers.get(sub);
    if (!table || table.has(cntlid)) return undefined;
    const ctrl = this.newController(sub, cntlid, hostnqn, hostid, kato);
    this.stores.get(sub)!.controllerResumed?.(ctrl);
    this.log.info('controller resumed', { subnqn: sub.nqn, cntlid, hostnqn, kato });
    return ctrl;
  }

  private newController(sub: Subsystem, cntlid: number, hostnqn: string, hostid: Buffer, kato: number): Controller {
    const table = this.controllers.get(sub)!;
    const store = this.stores.get(sub)!;
    const ctrl = new Controller(cntlid, sub, hostnqn, hostid, kato, {
      removed: (c, reason) => {
        if (table.get(c.cntlid) === c) table.delete(c.cntlid);
        store.controllerRemoved(c, reason);
        this.observer.controllerRemoved(c, reason);
        this.log.info('controller removed', { subnqn: sub.nqn, cntlid: c.cntlid, hostnqn: c.hostnqn, reason });
      },
      backendError: (c, e) => {
        this.observer.backendError?.(e);
        this.log.error('backend error', {
          subnqn: e.subnqn, nsid: e.nsid, ...(e.path !== undefined ? { path: e.path } : {}), op: ioOpcodeName(e.opcode), offset: e.offset,
          length: e.length, errno: e.errno, error: e.message, status: statusName(e.status), cntlid: c.cntlid, hostnqn: c.hostnqn,
        });
      },
    });
    table.set(cntlid, ctrl);
    return ctrl;
  }

  recordsFor(sub: Subsystem): IoRecords | undefined {
    return this.records.get(sub);
  }

  nextEpoch(): number {
    this.epoch = (this.epoch + 1) >>> 0;
    return this.epoch;
  }

  findController(sub: Subsystem, cntlid: number): Controller | undefined {
    return this.controllers.get(sub)?.get(cntlid);
  }

  queueConnected(q: Qpair): void {
    this.observer.queueConnected(q);
    this.log.info('queue connected', { subnqn: q.ctrl.subsys.nqn, cntlid: q.ctrl.cntlid, qid: q.qid, sqsize: q.sqsize, peer: q.transport.peer });
    if (q.auth) {
      // A host that never authenticates (no key, or it stopped halfway) does not keep its queue; one that
      // failed was reported and closed already. (The Linux host without a key gives up at once: "qid 0: no key".)
      setTimeout(() => {
        if (!q.awaitingAuth || q.auth!.failed) return;
        const gone = q.qid === 0 ? q.ctrl.destroyed : q.ctrl.ioQueues.get(q.qid) !== q;
        const reason = gone ? 'the host closed the queue without authenticating' : `not authenticated within ${AUTH_TIMEOUT_MS} ms of Connect`;
        this.authFinished(q, { result: 'failure', reason });
        q.transport.close('not authenticated in time');
      }, AUTH_TIMEOUT_MS).unref();
    }
  }

  /** One DH-HMAC-CHAP transaction ended: counted, and a failure logged with the host and the reason (never a key). */
  readonly authFinished = (q: Qpair, event: AuthEvent): void => {
    this.observer.authFinished?.('dhchap', event.result);
    const where = { subnqn: q.ctrl.subsys.nqn, hostnqn: q.ctrl.hostnqn, cntlid: q.ctrl.cntlid, qid: q.qid, peer: q.transport.peer };
    for (const notice of q.auth?.keyNotices() ?? []) this.log[/previous keys/.test(notice) ? 'error' : 'info']('DH-HMAC-CHAP keys', { ...where, notice });
    if (event.result === 'failure') this.log.warn('authentication failed', { ...where, reason: event.reason });
    else this.log.info('queue authenticated', where);
  };

  /** Validates a command before its data moves; 0 or the status to complete it with. */
  check(req: Request, q: Qpair | undefined): number {
    if (req.opcode === AdminOpc.Fabrics) {
      const t = req.fctype;
      // Only Connect (its 1024 bytes) and the AUTH messages carry data; anything longer is refused before any buffer exists.
      const isAuth = t === FabricsType.AuthSend || t === FabricsType.AuthReceive;
      if (req.transferLen > (t === FabricsType.Connect ? CONNECT_DATA_SIZE : isAuth ? AUTH_MAX_TRANSFER : 0)) return Status.SglDataLengthInvalid;
      if (!q) return t === FabricsType.Connect ? 0 : Status.CommandSequenceError;
      if (isAuth) return checkAuthCommand(req, q);
      // Until the queue authenticated, nothing but Authentication Send/Receive and Disconnect (NVMe Base 2.1,
      // 8.3.4.4: Authentication Required). Stricter than nvmet, which also takes Property Get/Set before it;
      // the Linux host (nvmf_connect_admin_queue) and SPDK authenticate right after Connect, before anything else.
      if (q.awaitingAuth && t !== FabricsType.Disconnect) return Status.AuthRequired;
      switch (t) {
        case FabricsType.Connect: return Status.CommandSequenceError;
        case FabricsType.PropertyGet:
        case FabricsType.PropertySet: return q.qid === 0 ? 0 : Status.InvalidField;
        case FabricsType.Disconnect: return 0;
        default: return Status.InvalidOpcode;
      }
    }
    if (req.transferLen > MAX_TRANSFER) return Status.SglDataLengthInvalid;
    if (!q) return Status.CommandSequenceError;
    if (q.awaitingAuth) return Status.AuthRequired;
    if (!q.ctrl.ready) return Status.CommandSequenceError;
    if (q.qid === 0) return 0;
    if (isReservationCommand(req.opcode)) return checkReservationCommand(req, q.ctrl.subsys);
    // Reservation Conflict before the command's own checks, as nvmet.
    return checkAccess(req, q.ctrl) || checkIo(req, q.ctrl.subsys);
  }

  /** Executes a checked command whose data (if any) has arrived. Returns the queue a Connect bound. */
  execute(req: Request, q: Qpair | undefined, transport: QueueTransport): ConnectOutcome | undefined {
    if (req.opcode === AdminOpc.Fabrics) {
      switch (req.fctype) {
        case FabricsType.Connect:
          return executeConnect(req, this, transport);
        case FabricsType.PropertyGet:
          q!.ctrl.touch();
          executePropertyGet(req, q!.ctrl);
          return undefined;
        case FabricsType.PropertySet:
          q!.ctrl.touch();
          executePropertySet(req, q!.ctrl);
          return undefined;
        case FabricsType.Disconnect:
          req.complete(0);
          transport.close('host disconnected the queue');
          return undefined;
        case FabricsType.AuthSend:
          q!.ctrl.touch();
          // The host refused the controller's response (AUTH_Failure2): the queue ends.
          if (executeAuthSend(req, q!, this.authFinished)) transport.close('authentication failed');
          return undefined;
        case FabricsType.AuthReceive:
          q!.ctrl.touch();
          // A failed transaction ends the queue once its AUTH_Failure1 is out (nvmet_ctrl_fatal_error).
          if (executeAuthReceive(req, q!, this.authFinished)) transport.close('authentication failed');
          return undefined;
      }
      req.complete(Status.InvalidOpcode);
      return undefined;
    }
    const ctrl = q!.ctrl;
    ctrl.touch();
    if (q!.qid === 0) executeAdmin(req, ctrl, this.logSources(ctrl.subsys));
    else if (isReservationCommand(req.opcode)) executeReservation(req, ctrl, () => this.controllersOf(ctrl.subsys));
    else if (startIo(req, ctrl)) executeIo(req, ctrl.subsys, ctrl.subsys.smart);
    return undefined;
  }

  private logSources(sub: Subsystem): LogSources {
    return {
      smart: sub.smart,
      discoveryLog: (ctrl, localAddress) => this.discoveryLog(ctrl.hostnqn, localAddress),
      takeChangedNamespaces,
    };
  }

  /** Discovery log for a host: every subsystem it may connect to, on every listener, plus this discovery service. */
  discoveryLog(hostnqn: string, localAddress: string): Buffer {
    const records: DiscoveryRecord[] = [];
    const addr = (a: string) => (a === '0.0.0.0' || a === '::' ? localAddress.replace(/^::ffff:/, '') : a);
    const fam = (a: string) => (a.includes(':') ? AdrFam.Ipv6 : AdrFam.Ipv4);
    let portid = 1;
    const ports = new Map<string, number>();
    const portOf = (l: ListenerConfig) => {
      const key = `${l.address}:${l.port}`;
      if (!ports.has(key)) ports.set(key, portid++);
      return ports.get(key)!;
    };
    for (const sub of this.subsystems.values()) {
      if (!sub.allowsHost(hostnqn)) continue;
      for (const l of sub.listeners) {
        const a = addr(l.address);
        records.push({ subtype: SubType.Nvme, portid: portOf(l), subnqn: sub.nqn, traddr: a, trsvcid: String(l.port), adrfam: fam(a), ...(l.tls ? { tls: l.tls } : {}) });
      }
    }
    const discoveryPorts = new Map<string, ListenerConfig>();
    for (const sub of this.subsystems.values()) for (const l of sub.listeners) discoveryPorts.set(`${l.address}:${l.port}`, l);
    for (const l of this.discoveryListeners) discoveryPorts.set(`${l.address}:${l.port}`, l);
    for (const l of discoveryPorts.values()) {
      const a = addr(l.address);
      records.push({ subtype: SubType.CurrentDiscovery, portid: portOf(l), subnqn: DISCOVERY_NQN, traddr: a, trsvcid: String(l.port), adrfam: fam(a), ...(l.tls ? { tls: l.tls } : {}) });
    }
    return encodeDiscoveryLog(this.genctr, records);
  }

  /**
   * The discovery log changed (a subsystem, listener or allowed host came or went): its generation counter
   * moves, and every discovery controller whose host enabled Discovery Log Page Change Notices and read the
   * log since its last one is told (discovery-notices.ts). Returns how many were told. Called by a live
   * configuration change (runtime/reconfigure.ts).
   */
  discoveryLogChanged(): number {
    this.genctr++;
    let told = 0;
    for (const ctrl of this.controllersOf(this.discovery)) if (noticeDiscoveryLogChanged(ctrl)) told++;
    return told;
  }

  /**
   * Namespaces `nsids` of `sub` came, went or changed size: every controller of it records them in its
   * Changed Namespace List and those whose host enabled the notice are told (namespace-notices.ts).
   * Returns how many were told.
   */
  namespacesChanged(sub: Subsystem, nsids: readonly number[]): number {
    let told = 0;
    for (const ctrl of this.controllersOf(sub)) if (noticeNamespacesChanged(ctrl, nsids)) told++;
    return told;
  }

  /** Ends every controller (shutdown). */
  shutdown(reason: string): void {
    for (const table of this.controllers.values()) for (const c of [...table.values()]) c.destroy(reason);
  }
}
