// The reservation state of a subsystem's namespaces, kept in memory and, for namespaces the state file
// holds, in the state file (for namespaces added live since the start, in their sidecars:
// state/reservation-sidecar.ts): a state is stored before it is used, so a command that changed it completes
// only once its change would survive a kill of the process (and, with PTPL, a crash of the node: msync).
// Also what Preempt and Abort needs: the I/O commands each host has executing.
import { MAX_REGISTRANTS } from '../state/layout.js';
import type { StateFile } from '../state/state-file.js';
import type { ReservationSidecar } from '../state/reservation-sidecar.js';
import type { ReservationRecord } from '../state/types.js';
import { afterRestart, EMPTY_RESERVATION, sanitize, type HostKey, type Limits, type ReservationState } from './reservation-state-machine.js';

/** Where reservation states survive the process. */
export interface ReservationBackend {
  /** Namespaces whose state it keeps. */
  keeps(nsid: number): boolean;
  load(nsid: number): ReservationState | undefined;
  /** Stores the state; `sync` makes it durable (on stable storage) before returning. */
  save(nsid: number, s: ReservationState, sync: boolean): void;
}

export interface AttachOptions {
  /** The node rebooted since the state was stored (its boot id changed). */
  nodeRebooted: boolean;
  log?: { info(msg: string, meta?: Record<string, unknown>): void; warn(msg: string, meta?: Record<string, unknown>): void };
}

/** A command executing at a backend, as far as Preempt and Abort cares. */
export interface ExecutingCommand {
  readonly nsid: number;
  readonly completed: boolean;
}

/** How often Preempt and Abort looks whether the commands it waits for have completed. */
const ABORT_POLL_MS = 1;

export class ReservationStore {
  private readonly states = new Map<number, ReservationState>();
  private backend: ReservationBackend | undefined;
  /** Per host, commands handed to a backend; completed ones are pruned lazily (no hook on completion). */
  private readonly executing = new Map<HostKey, { cmds: ExecutingCommand[]; pruneAt: number }>();

  constructor(private readonly nqn = '') {}

  /** Restores what the backend kept (applying the reboot rule) and stores every later change in it. */
  attach(backend: ReservationBackend, nsids: Iterable<number>, o: AttachOptions): void {
    this.backend = backend;
    for (const nsid of nsids) {
      if (!backend.keeps(nsid)) continue;
      const stored = backend.load(nsid);
      if (!stored) continue;
      const { state, cleared } = afterRestart(sanitize(stored), o.nodeRebooted);
      if (cleared) {
        backend.save(nsid, state, true);
        o.log?.info('reservations cleared: the node rebooted and Persist Through Power Loss is off', { subnqn: this.nqn, nsid, generation: stored.generation, registrants: stored.registrants.length });
      } else if (o.nodeRebooted && stored.registrants.length > 0) {
        o.log?.info('reservations kept across a node reboot (Persist Through Power Loss)', { subnqn: this.nqn, nsid });
      }
      this.states.set(nsid, state);
    }
  }

  get(nsid: number): ReservationState {
    return this.states.get(nsid) ?? EMPTY_RESERVATION;
  }

  limits(nsid: number): Limits {
    return { maxRegistrants: MAX_REGISTRANTS, ptplCapable: this.ptplCapable(nsid) };
  }

  /** PTPL can be honoured: the namespace's state is kept in a state file. */
  ptplCapable(nsid: number): boolean {
    return this.backend?.keeps(nsid) ?? false;
  }

  /**
   * Makes `next` the namespace's state: stored first (synced when PTPL is or was on), then used.
   * Throws if it cannot be stored; the old state then stays.
   */
  commit(nsid: number, next: ReservationState): void {
    const prev = this.get(nsid);
    if (next === prev) return;
    if (this.backend?.keeps(nsid)) this.backend.save(nsid, next, next.ptpl || prev.ptpl);
    this.states.set(nsid, next);
  }

  // ---- commands executing, for Preempt and Abort ----

  /** A command of `host` was handed to a backend. */
  executingFor(host: HostKey, cmd: ExecutingCommand): void {
    let e = this.executing.get(host);
    if (!e) this.executing.set(host, (e = { cmds: [], pruneAt: 64 }));
    e.cmds.push(cmd);
    if (e.cmds.length >= e.pruneAt) {
      e.cmds = e.cmds.filter((c) => !c.completed);
      e.pruneAt = Math.max(64, e.cmds.length * 2);
    }
  }

  /**
   * Resolves once every command of `hosts` on namespace `nsid` (or on all namespaces) that was executing
   * when called has completed. Commands that had not reached a backend yet are refused when they do (the
   * conflict check runs again at execution), so these are the only ones that could still change data.
   */
  async drain(hosts: Iterable<HostKey>, nsid: number): Promise<void> {
    const pending: ExecutingCommand[] = [];
    for (const h of [...hosts]) {
      for (const c of this.executing.get(h)?.cmds ?? []) {
        if (!c.completed && (c.nsid === nsid || c.nsid === 0xffffffff)) pending.push(c);
      }
    }
    await settled(pending);
  }

  /**
   * Resolves once every command of any host on namespace `nsid` that was executing when called has completed
   * (a namespace removed by a live configuration change: its backend closes after).
   */
  async drainNamespace(nsid: number): Promise<void> {
    await this.drain(this.executing.keys(), nsid);
  }

  /** A namespace is gone (a live configuration change): its reservations go with it, in the state file too. */
  forget(nsid: number): void {
    if (this.states.has(nsid) || this.backend?.keeps(nsid)) this.commit(nsid, EMPTY_RESERVATION);
    this.states.delete(nsid);
  }
}

async function settled(pending: ExecutingCommand[]): Promise<void> {
  while (pending.some((c) => !c.completed)) await new Promise((r) => setTimeout(r, ABORT_POLL_MS));
}

// ---- the state file as a backend ----

export function toRecord(nsid: number, s: ReservationState): ReservationRecord {
  return {
    nsid, generation: s.generation, rtype: s.rtype, ptpl: s.ptpl,
    holderHostId: s.holder === undefined ? Buffer.alloc(16) : Buffer.from(s.holder, 'hex'),
    registrants: s.registrants.map((r) => ({ hostId: Buffer.from(r.host, 'hex'), key: r.key })),
  };
}

export function fromRecord(r: ReservationRecord): ReservationState {
  return {
    generation: r.generation, rtype: r.rtype, ptpl: r.ptpl,
    // The holder field is meaningful only for a single-holder type (sanitize() checks it is a registrant).
    holder: r.rtype === 0 ? undefined : r.holderHostId.toString('hex'),
    registrants: r.registrants.map((g) => ({ host: g.hostId.toString('hex'), key: g.key })),
  };
}

/** The reservation records of a subsystem's state file (persistent namespaces only). */
export function stateFileBackend(sf: StateFile): ReservationBackend {
  const kept = new Set(sf.restored.namespaces.map((n) => n.nsid));
  return {
    keeps: (nsid) => kept.has(nsid),
    load: (nsid) => {
      const r = sf.reservation(nsid);
      return r ? fromRecord(r) : undefined;
    },
    save: (nsid, s, sync) => sf.writeReservation(toRecord(nsid, s), { sync }),
  };
}

/**
 * The state file's records, and the sidecars of namespaces added live (state/reservation-sidecar.ts; the map is
 * the caller's, grown and shrunk by live changes). A sidecar is stored as the state file is: msync'd when
 * `sync` asks and, in durability node, always.
 */
export function stateFileAndSidecarsBackend(sf: StateFile, sidecars: ReadonlyMap<number, ReservationSidecar>): ReservationBackend {
  const file = stateFileBackend(sf);
  return {
    keeps: (nsid) => sidecars.has(nsid) || file.keeps(nsid),
    load: (nsid) => {
      const sc = sidecars.get(nsid);
      if (!sc) return file.load(nsid);
      const r = sc.read();
      return r ? fromRecord(r) : undefined;
    },
    save: (nsid, s, sync) => {
      const sc = sidecars.get(nsid);
      if (sc) sc.write(toRecord(nsid, s), sync || sf.durability === 'node');
      else file.save(nsid, s, sync);
    },
  };
}
