// A subsystem's state file, wired to the controller layer: controllers and the cntlid allocator are
// remembered in it, qpairs and commands in flight are recorded in it, SMART counters are kept in it,
// and the recovery that opened it is settled and reported from it.
import type { Registry } from 'prom-client';
import type { SubsystemConfig } from '../config/config.js';
import type { Controller } from '../controller/controller.js';
import type { Logger } from '../controller/observer.js';
import type { ControllerStore } from '../controller/target.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import type { Namespace } from '../subsystem/namespace.js';
import { openStateFile, type StateFile } from '../state/state-file.js';
import { controllersToKeep, describeInflight, settleInflight } from '../state/recovery-policy.js';
import { buildRecoveryReport, type RecoveryReport } from '../state/recovery-report.js';
import { RecoveryMetrics } from '../state/recovery-metrics.js';
import type { ControllerRecord, NamespaceIdentity, SubsystemIdentity } from '../state/types.js';
import { stateFileAndSidecarsBackend } from '../subsystem/reservation-store.js';
import { ReservationSidecar } from '../state/reservation-sidecar.js';

/**
 * How long a restored controller's record is kept for its host to come back: the Linux host's default
 * ctrl_loss_tmo (600 s). A host that reconnects gets a new association (and cntlid) anyway; the record
 * only keeps its old cntlid from being handed out again while the host may still hold it.
 */
export const CONTROLLER_LOSS_MS = 600_000;
/** Live controllers' last-seen times are stored at most this often (never per command). */
const TOUCH_INTERVAL_MS = 5_000;
const COUNTER_FLUSH_MS = 10_000;

/**
 * What the identity digest covers: NQN and each persistent namespace. Memory namespaces are new at every
 * start. A change of the namespaces keeps the state (state/namespace-changes.ts); a change of NQN does not.
 */
export function subsystemIdentity(sub: Subsystem): SubsystemIdentity {
  return {
    nqn: sub.nqn,
    namespaces: [...sub.namespaces.values()]
      .filter((n) => n.backend.kind !== 'memory')
      .map(namespaceIdentity),
  };
}

/** What identifies a namespace to its hosts, as the state file records it. */
export function namespaceIdentity(n: Namespace): NamespaceIdentity {
  return { nsid: n.nsid, size: n.backend.size, blockSize: n.blockSize, uuid: n.ids.uuid, nguid: n.ids.nguid, eui64: n.ids.eui64 };
}

export interface OpenPersistenceOptions {
  sub: Subsystem;
  cfg: SubsystemConfig;
  log: Logger;
  registry: Registry;
  /** Called while another process holds the lock (a force-deleted pod's container still running). */
  onWaitingForLock(holder: string | undefined): void;
  bootId?: string;
}

export class SubsystemPersistence implements ControllerStore {
  private readonly slots = new Map<Controller, number>();
  /** Restored controllers still waiting for their host, by slot. */
  private readonly waiting = new Map<number, ControllerRecord>();
  private readonly metrics: RecoveryMetrics;
  private servingAt = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Namespaces added live since the start: their reservation records, until the next start imports them. */
  private readonly sidecars = new Map<number, ReservationSidecar>();
  readonly inflightAbandoned: number;

  private constructor(readonly sf: StateFile, private readonly sub: Subsystem, private readonly log: Logger, registry: Registry) {
    this.metrics = new RecoveryMetrics(registry, sub.nqn);
    const r = sf.restored;
    // Settle what the previous process had in flight: abandon (never replay), log and count each.
    const { abandon } = settleInflight(r.inflight, 'abandon');
    for (const rec of abandon) log.warn('in-flight command abandoned at recovery; the host retries it', { subnqn: sub.nqn, ...describeInflight(rec) });
    if (r.unknownInflight > 0) log.warn('in-flight records torn by the kill (contents unknown), abandoned', { subnqn: sub.nqn, count: r.unknownInflight });
    this.inflightAbandoned = abandon.length + r.unknownInflight;
    // Controllers whose host has been silent for longer than the controller-loss time are gone.
    const { keep, drop } = controllersToKeep(r.controllers, Date.now(), CONTROLLER_LOSS_MS);
    for (const d of drop) {
      sf.freeControllerSlot(d.slot);
      log.info('restored controller dropped: its host did not return within the controller-loss time', { subnqn: sub.nqn, cntlid: d.record.cntlid, hostnqn: d.record.hostNqn });
    }
    for (const k of keep) this.waiting.set(k.slot, k.record);
    // SMART counters carry over.
    const c = r.counters;
    sub.smart.unitsRead = c.dataUnitsRead;
    sub.smart.unitsWritten = c.dataUnitsWritten;
    sub.smart.hostReads = c.hostReadCommands;
    sub.smart.hostWrites = c.hostWriteCommands;
    sub.smart.powerCycles = r.bootCount;
    sub.smart.unsafeShutdowns = sf.header.outcomes.restored;
    // Reservations always survive a restart; a node reboot clears those without Persist Through Power Loss.
    sub.reservations.attach(stateFileAndSidecarsBackend(sf, this.sidecars), sub.namespaces.keys(), { nodeRebooted: r.nodeRebooted, log });
  }

  static async open(o: OpenPersistenceOptions): Promise<SubsystemPersistence> {
    const sf = await openStateFile({
      path: o.cfg.stateFile!,
      identity: subsystemIdentity(o.sub),
      durability: o.cfg.durability ?? 'process',
      log: o.log,
      bootId: o.bootId,
      onWaitingForLock: (info) => o.onWaitingForLock(info.holder),
    });
    if (sf.restored.outcome === 'corrupt') {
      o.log.error('state file was unusable: kept aside, starting fresh', { subnqn: o.sub.nqn, reason: sf.restored.corruptReason, keptAs: sf.restored.asidePath });
    }
    return new SubsystemPersistence(sf, o.sub, o.log, o.registry);
  }

  get restoredControllers(): number {
    return this.waiting.size;
  }

  /** Serving began: record the recovery (process start to now) and start the periodic stores. */
  serving(processStartMs: number): void {
    this.servingAt = Date.now();
    const r = this.sf.restored;
    this.sf.recordRecovery(r.outcome, this.servingAt - processStartMs, this.waiting.size, this.inflightAbandoned, processStartMs);
    const h = this.sf.header;
    this.metrics.syncFromHeader(h);
    if (h.last) this.metrics.observeRecovery(h.last, r.namespaceChanges);
    this.log.info('recovery finished', { subnqn: this.sub.nqn, ...this.report().last, bootCount: h.bootCount, nodeRebooted: r.nodeRebooted });
    this.timers.push(setInterval(() => this.touchLive(), TOUCH_INTERVAL_MS));
    this.timers.push(setInterval(() => this.flushCounters(), COUNTER_FLUSH_MS));
    if (this.waiting.size > 0) this.timers.push(setTimeout(() => this.dropWaiting(), CONTROLLER_LOSS_MS));
    for (const t of this.timers) t.unref();
  }

  /** The header's last start is this process's once serving: then its namespace changes go with it. */
  report(): RecoveryReport {
    return buildRecoveryReport(this.sf.header, this.servingAt ? this.sf.restored.namespaceChanges : undefined);
  }

  // ---- namespaces added and removed live ----

  /**
   * Creates the reservation sidecar of a namespace about to be added live (the prepare phase: may throw).
   * Undefined when the state file holds the namespace already (removed and added back since the start:
   * its record there was emptied at the removal).
   */
  prepareNamespace(ns: NamespaceIdentity): ReservationSidecar | undefined {
    if (this.sf.restored.namespaces.some((n) => n.nsid === ns.nsid)) return undefined;
    return ReservationSidecar.create(this.sf.path, ns);
  }

  /** The namespace is served from now on: its reservations are stored in `sc` (commit phase: cannot fail). */
  namespaceAdded(sc: ReservationSidecar): void {
    this.sidecars.set(sc.nsid, sc);
  }

  /** A namespace removed live, its reservations forgotten: its sidecar goes too. */
  namespaceRemoved(nsid: number): void {
    const sc = this.sidecars.get(nsid);
    if (!sc) return;
    this.sidecars.delete(nsid);
    try {
      sc.remove();
    } catch (e) {
      this.log.warn('reservation sidecar of a removed namespace could not be deleted (the next start discards it)', { subnqn: this.sub.nqn, nsid, path: sc.path, error: String(e) });
    }
  }

  // ---- ControllerStore ----

  allocCntlid(_sub: Subsystem, live: ReadonlySet<number>): number | undefined {
    for (let tries = 0; tries < 0xffef; tries++) {
      let id: number;
      try {
        id = this.sf.allocateCntlid();
      } catch {
        return undefined;
      }
      if (!live.has(id)) return id;
    }
    return undefined;
  }

  controllerCreated(ctrl: Controller): void {
    // A returning host: the restored record it left is replaced by this new association.
    for (const [slot, rec] of this.waiting) {
      if (rec.hostNqn === ctrl.hostnqn && rec.hostId.equals(ctrl.hostid)) {
        this.waiting.delete(slot);
        this.sf.freeControllerSlot(slot);
        this.metrics.observeHostReconnect((Date.now() - this.servingAt) / 1000);
        this.log.info('host returned after recovery', { subnqn: this.sub.nqn, hostnqn: ctrl.hostnqn, oldCntlid: rec.cntlid, cntlid: ctrl.cntlid, afterSeconds: (Date.now() - this.servingAt) / 1000 });
        break;
      }
    }
    let slot = this.sf.allocateControllerSlot();
    if (slot < 0 && this.waiting.size > 0) {
      // Full: the restored record seen longest ago makes room.
      const [oldest] = [...this.waiting.entries()].sort((a, b) => a[1].lastSeenMs - b[1].lastSeenMs);
      this.waiting.delete(oldest[0]);
      this.sf.freeControllerSlot(oldest[0]);
      slot = this.sf.allocateControllerSlot();
    }
    if (slot < 0) {
      this.log.warn('state file has no free controller slot; controller not persisted', { subnqn: this.sub.nqn, cntlid: ctrl.cntlid });
      return;
    }
    this.slots.set(ctrl, slot);
    this.sf.writeController(slot, this.record(ctrl, Date.now()));
  }

  controllerResumed(ctrl: Controller): void {
    // In-pod resume: the record the earlier process kept for this controller is its own again.
    for (const [slot, rec] of this.waiting) {
      if (rec.cntlid === ctrl.cntlid && rec.hostNqn === ctrl.hostnqn) {
        this.waiting.delete(slot);
        this.slots.set(ctrl, slot);
        this.sf.writeController(slot, this.record(ctrl, Date.now()));
        return;
      }
    }
    const slot = this.sf.allocateControllerSlot();
    if (slot < 0) return;
    this.slots.set(ctrl, slot);
    this.sf.writeController(slot, this.record(ctrl, Date.now()));
  }

  controllerRemoved(ctrl: Controller, _reason: string): void {
    const slot = this.slots.get(ctrl);
    if (slot === undefined) return;
    this.slots.delete(ctrl);
    this.sf.freeControllerSlot(slot);
  }

  private record(ctrl: Controller, now: number): ControllerRecord {
    return {
      cntlid: ctrl.cntlid, hostNqn: ctrl.hostnqn, hostId: ctrl.hostid, subnqn: this.sub.nqn, katoMs: ctrl.kato,
      aenConfig: ctrl.features.asyncEventConfig, cc: ctrl.cc, csts: ctrl.csts, savedFeatures: [], lastSeenMs: now,
      createdMs: this.sf.controller(this.slots.get(ctrl) ?? -1)?.createdMs ?? now,
    };
  }

  private touchLive(): void {
    const now = Date.now();
    for (const [ctrl, slot] of this.slots) if (!ctrl.destroyed) this.sf.writeController(slot, this.record(ctrl, now));
  }

  private dropWaiting(): void {
    for (const [slot, rec] of this.waiting) {
      this.sf.freeControllerSlot(slot);
      this.log.info('restored controller dropped: its host did not return within the controller-loss time', { subnqn: this.sub.nqn, cntlid: rec.cntlid, hostnqn: rec.hostNqn });
    }
    this.waiting.clear();
  }

  private flushCounters(): void {
    const s = this.sub.smart;
    this.sf.setCounters({ dataUnitsRead: s.unitsRead, dataUnitsWritten: s.unitsWritten, hostReadCommands: s.hostReads, hostWriteCommands: s.hostWrites });
    this.sf.flushCounters();
  }

  /** SIGTERM: counters stored, the clean flag set, the file synced, the lock released. */
  closeClean(): void {
    for (const t of this.timers) clearInterval(t);
    this.flushCounters();
    this.sf.markCleanShutdown();
    this.sf.close();
    for (const sc of this.sidecars.values()) sc.close();
  }
}
