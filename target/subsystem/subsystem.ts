import type { Namespace } from './namespace.js';
import type { ListenerConfig } from '../config/config.js';
import { SmartCounters } from './smart.js';
import { ReservationStore } from './reservation-store.js';
import type { HostAuth } from '../auth/queue-auth.js';

export type SubsystemKind = 'nvm' | 'discovery';

/** An NVM subsystem (or the discovery subsystem): identity, namespaces and who may connect. */
export class Subsystem {
  readonly namespaces = new Map<number, Namespace>();
  /**
   * Namespaces removed by a live configuration change whose commands at the backend have not all completed:
   * new commands see the nsid inactive, but a failing one still finds its namespace for the error it reports.
   */
  readonly retiring = new Map<number, Namespace>();
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
    public listeners: ListenerConfig[],
    /** Allowed host NQNs; undefined means any host. */
    private hosts: ReadonlySet<string> | undefined,
  ) {
    this.reservations = new ReservationStore(nqn);
  }

  allowsHost(hostnqn: string): boolean {
    return this.hosts === undefined || this.hosts.has(hostnqn);
  }

  /** A live configuration change: who may connect from now on (undefined: any host). */
  setHosts(hosts: ReadonlySet<string> | undefined): void {
    this.hosts = hosts;
  }

  /** Makes `nsid` inactive at once; it stays in `retiring` until its commands in flight are done. */
  removeNamespace(nsid: number): Namespace | undefined {
    const ns = this.namespaces.get(nsid);
    if (!ns) return undefined;
    this.namespaces.delete(nsid);
    this.retiring.set(nsid, ns);
    return ns;
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
