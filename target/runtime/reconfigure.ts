// Applies a new configuration to a running target (issue 20): the changes config/diff.ts computed, all or
// nothing. Two phases:
//  - prepare: everything that can fail, undone if anything does (new namespaces' backings opened, files
//    grown, block devices' sizes read, new subsystems built and their state files opened, new listening
//    addresses bound). A failure refuses the configuration whole; the old one keeps serving. A file grown
//    before a later step failed stays grown: harmless, the namespace keeps its old size until a change
//    that grows it applies;
//  - commit: nothing that can fail, in one turn of the event loop (no command runs half under the old
//    configuration and half under the new): namespaces added, grown and removed, host lists, listeners,
//    subsystems, the discovery log and the log level. Then the hosts are told: a Namespace Attribute Changed
//    notice to each I/O controller of a subsystem whose namespaces changed (namespace-notices.ts), a
//    Discovery Log Change notice when the discovery log changed (discovery-notices.ts).
// A removed namespace is inactive at commit (a new command on it gets Invalid Namespace, as a command whose
// data was moving: io.ts executeIo); its commands already at the backend complete, then it is flushed and
// closed and its reservations forgotten, in the state file too. A removed host's controllers are ended at
// commit (their queues closed). Linux nvmet keeps them when a host leaves allowed_hosts (configfs
// nvmet_allowed_hosts_drop_link only unlinks; nvmet_subsys_del_ctrls runs when the subsystem goes): here a
// host its owner removed must not keep writing.
// DH-HMAC-CHAP and TLS PSKs (config/diff.ts says which connections a change ends): the key files of every
// entry new or changed are read and checked in prepare (a missing or malformed key refuses the whole change,
// the message naming the subsystem, host and field, never the key; auth/host-keys.ts, tls/keys.ts); at commit
// new authentications and handshakes use the new set, and the controllers of a host that gained a key are
// ended (they never authenticated: the host reconnects and authenticates).
// A namespace added to a subsystem that has a state file keeps its reservations in a sidecar file, created in
// prepare (state/reservation-sidecar.ts), until the next start sizes the state file for it and imports them
// (state/prepare.ts, "namespaces changed"); a namespace removed live loses its sidecar with its reservations.
import type { NamespaceConfig, TargetConfig } from '../config/config.js';
import { diffConfig, describeRefusals, removedKey, type LiveChanges } from '../config/diff.js';
import type { Logger } from '../controller/observer.js';
import type { Target } from '../controller/target.js';
import type { FrontEnd, ListenerChange, TlsKeysChange } from '../transport/front-end.js';
import { HostKeyError, HostKeyFiles } from '../auth/host-keys.js';
import { TlsKeyError } from '../tls/keys.js';
import type { HostAuth } from '../auth/queue-auth.js';
import type { Namespace } from '../subsystem/namespace.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import { buildNamespace, buildSubsystem } from './build.js';
import { namespaceIdentity, type SubsystemPersistence } from './persistence.js';
import type { ReservationSidecar } from '../state/reservation-sidecar.js';

/** What a live change works on: the running target's parts, and the configuration it serves. */
export interface LiveTarget {
  config: TargetConfig;
  readonly target: Target;
  readonly frontEnd: FrontEnd;
  /** The subsystems served (changed in place). */
  readonly subsystems: Subsystem[];
  readonly persistence: Map<Subsystem, SubsystemPersistence>;
  readonly log: Logger;
  /** Opens a new subsystem's state file (runtime/run.ts). */
  openPersistence(sub: Subsystem, cfg: TargetConfig['subsystems'][number]): Promise<SubsystemPersistence>;
  setLogLevel(level: NonNullable<TargetConfig['logLevel']>): void;
  /** Namespaces removed by live changes in this process (config/diff.ts removedKey): an nsid back over other data needs new identifiers. */
  readonly removedNamespaces: Map<string, NamespaceConfig>;
}

/**
 * `retry`: refused for a key file missing or malformed. A Kubernetes Secret's update may reach the pod after
 * the ConfigMap naming its new keys (the kubelet refreshes each volume on its own), so the same content is
 * tried again until the keys are there (config-watch.ts).
 */
export type ApplyResult = { ok: true; summary: string } | { ok: false; error: string; retry?: boolean };

/** A DH-HMAC-CHAP or TLS key file that cannot be used (a subsystem added live wraps it in a StartupError). */
function keyFileProblem(e: unknown): boolean {
  return [e, e instanceof Error ? e.cause : undefined].some((x) => x instanceof HostKeyError || x instanceof TlsKeyError);
}

interface Prepared {
  added: Map<Subsystem, Namespace[]>;
  grown: Map<Subsystem, number[]>;
  newSubsystems: Array<{ sub: Subsystem; persistence?: SubsystemPersistence }>;
  listeners?: ListenerChange;
  /** The DH-HMAC-CHAP keys of subsystems whose entries changed, as they will be, and the entries replaced in place. */
  hostAuth: Map<Subsystem, { keys: ReadonlyMap<string, HostAuth>; replace: Array<() => void> }>;
  tlsKeys?: TlsKeysChange;
  /** Reservation sidecars of added persistent namespaces, by namespace. */
  sidecars: Map<Namespace, ReservationSidecar>;
}

/** The whole of one change as one line for the log. */
export function describeChanges(c: LiveChanges): string {
  const parts: string[] = [];
  if (c.addSubsystems.length) parts.push(`subsystems added: ${c.addSubsystems.map((s) => s.nqn).join(', ')}`);
  if (c.removeSubsystems.length) parts.push(`subsystems removed: ${c.removeSubsystems.join(', ')}`);
  for (const s of c.subsystems) {
    const p: string[] = [];
    if (s.addNamespaces.length) p.push(`added nsid ${s.addNamespaces.map((n) => n.nsid).join(', ')}`);
    if (s.removeNamespaces.length) p.push(`removed nsid ${s.removeNamespaces.join(', ')}`);
    for (const g of s.growNamespaces) p.push(`nsid ${g.nsid} grew ${g.fromBytes} -> ${g.toBytes} bytes`);
    if (s.hosts) p.push(s.hosts.hosts ? `hosts now ${s.hosts.hosts.length}${s.hosts.removed.length ? ` (removed ${s.hosts.removed.join(', ')})` : ''}` : 'any host');
    if (s.listeners) p.push(`listeners ${s.listeners.map((l) => `${l.address}:${l.port}`).join(', ')}`);
    if (s.dhchap) p.push(`DH-HMAC-CHAP hosts now ${s.dhchap.entries.length}${s.dhchap.reload.length ? ` (keys read for ${s.dhchap.reload.join(', ')})` : ''}`);
    if (s.tlsPsks) p.push(`TLS PSKs now ${s.tlsPsks.length}`);
    parts.push(`${s.nqn}: ${p.join('; ')}`);
  }
  if (c.discoveryListeners) parts.push(`discovery listeners ${c.discoveryListeners.map((l) => `${l.address}:${l.port}`).join(', ') || 'none'}`);
  if (c.logLevel) parts.push(`log level ${c.logLevel}`);
  return parts.length ? parts.join('; ') : 'nothing to change';
}

function listenersChange(c: LiveChanges): boolean {
  return c.addSubsystems.length > 0 || c.removeSubsystems.length > 0 || c.discoveryListeners !== undefined || c.subsystems.some((s) => s.listeners !== undefined);
}

async function prepare(t: LiveTarget, c: LiveChanges, next: TargetConfig): Promise<Prepared> {
  const p: Prepared = { added: new Map(), grown: new Map(), newSubsystems: [], hostAuth: new Map(), sidecars: new Map() };
  const byNqn = new Map(t.subsystems.map((s) => [s.nqn, s]));
  try {
    for (const sc of c.subsystems) {
      const sub = byNqn.get(sc.nqn)!;
      const added: Namespace[] = [];
      p.added.set(sub, added);
      for (const n of sc.addNamespaces) {
        const ns = await buildNamespace(sub.nqn, n);
        added.push(ns);
        const side = ns.backend.kind === 'memory' ? undefined : t.persistence.get(sub)?.prepareNamespace(namespaceIdentity(ns));
        if (side) p.sidecars.set(ns, side);
      }
      for (const g of sc.growNamespaces) {
        const ns = sub.namespaces.get(g.nsid)!;
        const size = await ns.backend.resize!(g.toBytes);
        if (size % ns.blockSize !== 0) throw new Error(`nsid ${g.nsid}: size ${size} is not a multiple of block size ${ns.blockSize}`);
        p.grown.set(sub, [...(p.grown.get(sub) ?? []), g.nsid]);
      }
      if (sc.dhchap) {
        // Entries unchanged keep their keys (and a rotation in progress); a changed one is replaced in the object
        // its live queues hold (their re-authentications use it); a new one is read. Throws HostKeyError.
        const keys = new Map<string, HostAuth>();
        const replace: Array<() => void> = [];
        for (const e of sc.dhchap.entries) {
          const have = sub.hostAuth.get(e.host);
          const reload = sc.dhchap.reload.includes(e.host);
          if (have instanceof HostKeyFiles && reload) replace.push(have.prepareReplace(e));
          keys.set(e.host, have && (!reload || have instanceof HostKeyFiles) ? have : new HostKeyFiles(sub.nqn, e));
        }
        p.hostAuth.set(sub, { keys, replace });
      }
    }
    for (const cfg of c.addSubsystems) {
      const sub = await buildSubsystem(cfg);
      const entry: Prepared['newSubsystems'][number] = { sub };
      p.newSubsystems.push(entry);
      if (cfg.stateFile) entry.persistence = await t.openPersistence(sub, cfg);
    }
    if (c.tlsKeysChanged && t.frontEnd.prepareTlsKeys) p.tlsKeys = await t.frontEnd.prepareTlsKeys(next.subsystems);
    if (listenersChange(c) && t.frontEnd.prepareListeners) {
      const all = next.subsystems.flatMap((s) => s.listeners);
      p.listeners = await t.frontEnd.prepareListeners(all, next.discoveryListeners ?? []);
    }
    return p;
  } catch (e) {
    await undo(p);
    throw e;
  }
}

async function undo(p: Prepared): Promise<void> {
  for (const list of p.added.values()) for (const ns of list) await ns.backend.close().catch(() => {});
  for (const side of p.sidecars.values()) {
    try {
      side.remove();
    } catch {
      // left over: the next start discards it (its namespace is not configured)
    }
  }
  for (const { sub, persistence } of p.newSubsystems) {
    for (const ns of sub.namespaces.values()) await ns.backend.close().catch(() => {});
    persistence?.closeClean();
  }
  await p.listeners?.undo();
  p.tlsKeys?.undo();
}

/** A removed namespace: its commands at the backend complete, then it is flushed and closed, its reservations forgotten. */
async function retire(t: LiveTarget, sub: Subsystem, ns: Namespace): Promise<void> {
  try {
    await sub.reservations.drainNamespace(ns.nsid);
    await ns.backend.flush();
    await ns.backend.close();
  } catch (e) {
    t.log.error('removed namespace: flush or close failed', { subnqn: sub.nqn, nsid: ns.nsid, error: String(e) });
  } finally {
    sub.reservations.forget(ns.nsid);
    t.persistence.get(sub)?.namespaceRemoved(ns.nsid);
    sub.retiring.delete(ns.nsid);
  }
}

/** A removed subsystem: its controllers are gone already; its commands complete, then its namespaces and state file close. */
async function retireSubsystem(t: LiveTarget, sub: Subsystem): Promise<void> {
  for (const ns of [...sub.namespaces.values()]) {
    sub.removeNamespace(ns.nsid);
    await retire(t, sub, ns);
  }
  const p = t.persistence.get(sub);
  t.persistence.delete(sub);
  p?.closeClean();
}

function commit(t: LiveTarget, c: LiveChanges, p: Prepared, next: TargetConfig): void {
  // Every namespace the served configuration has and the next one lacks (its subsystem's removal included).
  const nextKeys = new Set(next.subsystems.flatMap((s) => s.namespaces.map((n) => removedKey(s.nqn, n.nsid))));
  for (const s of t.config.subsystems) {
    for (const n of s.namespaces) if (!nextKeys.has(removedKey(s.nqn, n.nsid))) t.removedNamespaces.set(removedKey(s.nqn, n.nsid), n);
  }
  const byNqn = new Map(t.subsystems.map((s) => [s.nqn, s]));
  const notices = new Map<Subsystem, number[]>();
  for (const sc of c.subsystems) {
    const sub = byNqn.get(sc.nqn)!;
    const changed: number[] = [];
    for (const ns of p.added.get(sub) ?? []) {
      const side = p.sidecars.get(ns);
      if (side) t.persistence.get(sub)!.namespaceAdded(side);
      sub.addNamespace(ns);
      changed.push(ns.nsid);
    }
    for (const nsid of p.grown.get(sub) ?? []) {
      sub.namespaces.get(nsid)!.resized();
      changed.push(nsid);
    }
    for (const nsid of sc.removeNamespaces) {
      const ns = sub.removeNamespace(nsid);
      if (ns) void retire(t, sub, ns);
      changed.push(nsid);
    }
    if (sc.listeners) sub.listeners = sc.listeners;
    if (sc.hosts) {
      sub.setHosts(sc.hosts.hosts ? new Set(sc.hosts.hosts) : undefined);
      const ended = t.target.disconnectDisallowedHosts(sub, 'host removed from the subsystem\'s host list by a configuration change');
      if (ended) t.log.info('controllers of removed hosts ended', { subnqn: sub.nqn, controllers: ended, hosts: sc.hosts.removed });
    }
    const auth = p.hostAuth.get(sub);
    if (sc.dhchap && auth) {
      for (const r of auth.replace) r();
      sub.hostAuth = auth.keys;
      const end = new Set(sc.dhchap.end);
      let ended = 0;
      for (const ctrl of t.target.controllersOf(sub)) {
        if (!end.has(ctrl.hostnqn)) continue;
        ctrl.destroy('host must now authenticate (DH-HMAC-CHAP key added by a configuration change)');
        ended++;
      }
      if (ended) t.log.info('controllers of hosts that must now authenticate ended', { subnqn: sub.nqn, controllers: ended, hosts: sc.dhchap.end });
    }
    if (changed.length) notices.set(sub, changed);
  }
  for (const nqn of c.removeSubsystems) {
    const sub = byNqn.get(nqn);
    if (!sub) continue;
    t.target.removeSubsystem(sub, 'subsystem removed by a configuration change');
    t.subsystems.splice(t.subsystems.indexOf(sub), 1);
    void retireSubsystem(t, sub);
  }
  for (const { sub, persistence } of p.newSubsystems) {
    t.target.addSubsystem(sub, persistence, persistence?.sf.connections);
    t.subsystems.push(sub);
    if (persistence) {
      t.persistence.set(sub, persistence);
      persistence.serving(Date.now());
    }
  }
  p.listeners?.commit('listener removed by a configuration change');
  p.tlsKeys?.commit();
  if (c.discoveryListeners) t.target.setDiscoveryListeners(c.discoveryListeners);
  if (c.logLevel) t.setLogLevel(c.logLevel);
  t.config = next;
  for (const [sub, nsids] of notices) {
    const told = t.target.namespacesChanged(sub, nsids);
    t.log.info('namespaces changed: hosts told', { subnqn: sub.nqn, nsids, controllersTold: told });
  }
  if (c.discoveryLogChanged) t.target.discoveryLogChanged();
}

/**
 * Applies `next` to the running target, or refuses it whole. Never throws: a failure is the refusal's
 * message, naming the field (config/diff.ts) or the step that failed.
 */
export async function applyConfig(t: LiveTarget, next: TargetConfig): Promise<ApplyResult> {
  const d = diffConfig(t.config, next, {
    fixedListeners: t.frontEnd.prepareListeners === undefined, fixedTlsKeys: t.frontEnd.prepareTlsKeys === undefined, removed: t.removedNamespaces,
  });
  if (!d.ok) return { ok: false, error: describeRefusals(d.refused) };
  let p: Prepared;
  try {
    p = await prepare(t, d.changes, next);
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e), ...(keyFileProblem(e) ? { retry: true } : {}) };
  }
  commit(t, d.changes, p, next);
  await recheckBlockDevices(t);
  return { ok: true, summary: describeChanges(d.changes) };
}

/**
 * Block devices grown under the target (a volume expanded, an LV extended): their size is read again at
 * each configuration change and every BLOCK_RECHECK_MS (one fstat and one lseek per block namespace), and
 * each grown one is told to the hosts as a namespace attribute change. Returns the nsids grown, per subsystem.
 */
export const BLOCK_RECHECK_MS = 10_000;

export async function recheckBlockDevices(t: Pick<LiveTarget, 'target' | 'subsystems' | 'log'>): Promise<Map<Subsystem, number[]>> {
  const grown = new Map<Subsystem, number[]>();
  for (const sub of t.subsystems) {
    for (const ns of sub.namespaces.values()) {
      if (ns.backend.kind !== 'block' || !ns.backend.resize) continue;
      const before = ns.nsze;
      try {
        await ns.backend.resize();
      } catch (e) {
        t.log.warn('cannot read a block device\'s size', { subnqn: sub.nqn, nsid: ns.nsid, path: ns.backend.path, error: String(e) });
        continue;
      }
      ns.resized();
      if (ns.nsze !== before) grown.set(sub, [...(grown.get(sub) ?? []), ns.nsid]);
    }
  }
  for (const [sub, nsids] of grown) {
    const told = t.target.namespacesChanged(sub, nsids);
    t.log.info('block device grew: hosts told', { subnqn: sub.nqn, nsids, controllersTold: told });
  }
  return grown;
}

