import type { Namespace } from './namespace.js';
import type { ListenerConfig } from '../config/config.js';
import { SmartCounters } from './smart.js';
import { ReservationStore } from './reservation-store.js';
import type { HostAuth } from '../auth/queue-auth.js';

export type SubsystemKind = 'nvm' | 'discovery';

/** An NVM subsystem (or the discovery subsystem): identity, namespaces and who may connect. */
export class Subsystem {
  readonly namespaces = new Map<number, Namespace>();
  readonly smart = new SmartCounters();
  /** Reservations of its namespaces (in memory until a state file is attached). */
  readonly reservations: ReservationStore;
  /** Hosts that must authenticate (DH-HMAC-CHAP), with their keys; a host without an entry connects without. */
  hostAuth: ReadonlyMap<string, HostAuth> = new Map();

  constructor(
    readonly kind: SubsystemKind,
    readonly nqn: string,
    readonly serial: string,
    readonly model: string,
    readonly listeners: ListenerConfig[],
    /** Allowed host NQNs; undefined means any host. */
    private readonly hosts: ReadonlySet<string> | undefined,
  ) {
    this.reservations = new ReservationStore(nqn);
  }

  allowsHost(hostnqn: string): boolean {
    return this.hosts === undefined || this.hosts.has(hostnqn);
  }

  addNamespace(ns: Namespace): void {
    if (this.namespaces.has(ns.nsid)) throw new Error(`duplicate nsid ${ns.nsid} in ${this.nqn}`);
    this.namespaces.set(ns.nsid, ns);
  }

  /** Active namespace IDs in increasing order. */
  activeNsids(): number[] {
    return [...this.namespaces.keys()].sort((a, b) => a - b);
  }
}
