// What a new configuration changes in a running target (issue 20): a pure function from the configuration
// served and the one just read to either the live changes to make or the reasons the new one is refused.
//
// Invariants:
//  - all or nothing: one refusal refuses the whole configuration, and the old one keeps serving;
//  - a namespace's identity never changes in a running target: nsid <-> backing (kind and path), block size,
//    and the configured UUID, NGUID and EUI-64 are what a host recognises the device by (NVMe Base 2.0, 4.7;
//    Linux nvme_ns_ids_equal: a host that sees other identifiers under a known nsid drops the namespace), so
//    a change of any of them is refused, never applied as a remove and an add;
//  - a nsid removed earlier in this process and added back over another backing must not show any identifier
//    hosts knew for the old data (a host that missed the removal would revalidate the same device and keep
//    its cached pages of the old data; Linux nvme_ns_ids_equal): its identifiers must all be new, as the
//    operator's incarnations make them (subsystem/identity.ts). Memory namespaces get random ones anyway;
//  - a namespace only grows: a smaller file would lose acknowledged data (as the CRD says, and as
//    FileBackend.openFile never truncates); a memory namespace's size is fixed for the process;
//  - what only a new process can take is refused, naming it: the metrics address (the HTTP server the
//    operator reads), a subsystem's state file and durability (the mapped file and its lock), its serial
//    and model (Identify Controller: the Linux host compares them when it finds the subsystem again), and
//    any field this file does not list as live (a field added later): a field is live only once this diff
//    says how it applies;
//  - DH-HMAC-CHAP entries (`dhchap`) and TLS PSKs (`tlsPsks`) may come, go and change (their key files are read
//    and checked before anything applies: runtime/reconfigure.ts). New authentications and handshakes use the
//    new set; live connections authenticated under the old one are kept (as a rotated key keeps them:
//    auth/host-keys.ts, tls/key-source.ts), with one exception: a host that gains a `dhchap` entry has its
//    controllers ended (dhchapChange), since its live queues never authenticated. A host whose entry goes
//    but that stays in `hosts` may connect without a key, so it keeps its connections; one that leaves `hosts`
//    is ended by the host-list change. With `fixedTlsKeys` (a front end that cannot reload its TLS keys:
//    FrontEnd.prepareTlsKeys absent) the PSKs cannot change;
//  - a listening address keeps its settings (its TLS mode): it can come or go, not change; one that comes
//    live is plain (tls off): TLS is set up when the target starts (its keys and gate: transport/tcp-front-end.ts,
//    the supervisor's under in-pod resume), and a TLS listener opened without them could take plain hosts;
//  - with `fixedListeners` (a front end that cannot open or close listeners: FrontEnd.prepareListeners absent)
//    the set of listening addresses cannot change either.
// Every refusal names the field (the new configuration's path to it) and the reason, as ConfigError does.
import type { BackingConfig, ListenerConfig, NamespaceConfig, SubsystemConfig, TargetConfig } from './config.js';
import type { DhchapHostConfig } from './dhchap.js';
import { namespaceIds } from '../subsystem/identity.js';

export interface Refusal {
  field: string;
  reason: string;
}

export interface HostListChange {
  /** The host list now (undefined: any host). */
  hosts: string[] | undefined;
  /** Hosts that may connect no more: their controllers are disconnected. */
  removed: string[];
}

export interface SubsystemChanges {
  nqn: string;
  addNamespaces: NamespaceConfig[];
  removeNamespaces: number[];
  /** File namespaces whose configured size grew: the file is extended. */
  growNamespaces: Array<{ nsid: number; fromBytes: number; toBytes: number }>;
  hosts?: HostListChange;
  listeners?: ListenerConfig[];
  dhchap?: DhchapChange;
  /** The TLS PSKs now (every subsystem's are reloaded together: FrontEnd.prepareTlsKeys). */
  tlsPsks?: NonNullable<SubsystemConfig['tlsPsks']>;
}

export interface DhchapChange {
  /** The entries now. */
  entries: DhchapHostConfig[];
  /** Hosts whose entry is new or differs: their key files are read before the change applies. */
  reload: string[];
  /** Hosts that gained an entry: their live controllers never authenticated, so they are ended. */
  end: string[];
}

export interface LiveChanges {
  generation: number;
  addSubsystems: SubsystemConfig[];
  removeSubsystems: string[];
  /** Subsystems kept whose namespaces, hosts or listeners change (none listed when nothing does). */
  subsystems: SubsystemChanges[];
  discoveryListeners?: ListenerConfig[];
  logLevel?: NonNullable<TargetConfig['logLevel']>;
  /** The TLS PSKs served changed (a subsystem's, or one with PSKs came or went): the front end reloads them all. */
  tlsKeysChanged: boolean;
  /** A subsystem, listener or allowed host came or went: discovery controllers are told (Target.discoveryLogChanged). */
  discoveryLogChanged: boolean;
}

export type ConfigDiff = { ok: true; changes: LiveChanges } | { ok: false; refused: Refusal[] };

export interface DiffOptions {
  /** The front end cannot open or close listening sockets (FrontEnd.prepareListeners absent). */
  fixedListeners?: boolean;
  /** The front end cannot reload its TLS keys (FrontEnd.prepareTlsKeys absent): `tlsPsks` cannot change. */
  fixedTlsKeys?: boolean;
  /** Namespaces removed earlier in this process, by removedKey(nqn, nsid): their configuration then. */
  removed?: ReadonlyMap<string, NamespaceConfig>;
}

export const removedKey = (nqn: string, nsid: number) => `${nqn}\0${nsid}`;

/** The identifiers `n` presents in subsystem `nqn` (hex), none for a memory namespace (random at every start). */
function presentedIds(nqn: string, n: NamespaceConfig): string[] {
  if (n.backing.kind === 'memory') return [];
  const ids = namespaceIds(nqn, n.nsid, false, n);
  return [ids.uuid, ids.nguid, ids.eui64].map((b) => b.toString('hex'));
}

/** A refusal if `n`, added to `nqn` as `field`, is a removed nsid back over other data with an identifier hosts knew. */
function reusedIdentity(nqn: string, n: NamespaceConfig, field: string, removed: DiffOptions['removed']): Refusal | undefined {
  const before = removed?.get(removedKey(nqn, n.nsid));
  if (!before || (before.backing.kind === n.backing.kind && backingPath(before.backing) === backingPath(n.backing))) return undefined;
  const old = new Set(presentedIds(nqn, before));
  if (!presentedIds(nqn, n).some((id) => old.has(id))) return undefined;
  return {
    field,
    reason: `nsid ${n.nsid} was removed from ${backingPath(before.backing) ?? 'memory'}; added back over ${backingPath(n.backing) ?? 'memory'} it must not show an identifier hosts knew for the old data: give it a new uuid, nguid and eui64`,
  };
}

const listenerKey = (l: ListenerConfig) => `${l.address}:${l.port}`;

/** Listener lists equal as sets, every setting compared (the order of keys in an object aside). */
function sameListeners(a: readonly ListenerConfig[], b: readonly ListenerConfig[]): boolean {
  const ka = a.map(canonical).sort();
  const kb = b.map(canonical).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

/** JSON with object keys sorted: equal values give equal strings. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)))
    : x));
}

/** Fields of `a` or `b` other than `live` whose values differ, in name order. */
function otherFieldsChanged(a: object, b: object, live: readonly string[]): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => !live.includes(k)));
  return [...keys].sort().filter((k) => canonical((a as Record<string, unknown>)[k]) !== canonical((b as Record<string, unknown>)[k]));
}

/**
 * Listeners at one address whose settings changed (a listener is replaced by coming and going, never changed),
 * and new ones with TLS. `everywhere`: every address the served configuration listens on.
 */
function listenerSettingsChanged(a: readonly ListenerConfig[], b: readonly ListenerConfig[], field: string, out: Refusal[], everywhere: ReadonlySet<string>): void {
  const old = new Map(a.map((l) => [listenerKey(l), l]));
  b.forEach((l, i) => {
    if (!everywhere.has(listenerKey(l)) && (l.tls ?? 'off') !== 'off') {
      out.push({ field: `${field}[${i}].tls`, reason: `a listener opened in a running target is plain: ${listenerKey(l)} with tls ${l.tls} needs a restart` });
    }
    const before = old.get(listenerKey(l));
    if (before && canonical(before) !== canonical(l)) {
      out.push({ field: `${field}[${i}]`, reason: `the listener at ${listenerKey(l)} cannot change its settings in a running target (${canonical(before)} -> ${canonical(l)}): restart it` });
    }
  });
}

/** Subsystem fields a running target changes live; any other field's change is refused. */
const LIVE_SUBSYSTEM_FIELDS = ['nqn', 'namespaces', 'hosts', 'allowAnyHost', 'listeners', 'dhchap', 'tlsPsks'] as const;

/** What a change of a subsystem's `dhchap` entries does (undefined: none changed). */
export function dhchapChange(a: readonly DhchapHostConfig[], b: readonly DhchapHostConfig[]): DhchapChange | undefined {
  const old = new Map(a.map((e) => [e.host, canonical(e)]));
  const reload = b.filter((e) => old.get(e.host) !== canonical(e)).map((e) => e.host);
  if (reload.length === 0 && a.length === b.length) return undefined;
  return { entries: [...b], reload, end: b.filter((e) => !old.has(e.host)).map((e) => e.host) };
}
/** Top-level fields a running target changes live (shutdownGraceSeconds: read when a shutdown begins). */
const LIVE_TARGET_FIELDS = ['apiVersion', 'kind', 'subsystems', 'discoveryListeners', 'logLevel', 'shutdownGraceSeconds', 'generation'] as const;

/** Every address a configuration listens on (subsystems and discovery-only). */
export function listeningAddresses(c: TargetConfig): Set<string> {
  const s = new Set<string>();
  for (const sub of c.subsystems) for (const l of sub.listeners) s.add(listenerKey(l));
  for (const l of c.discoveryListeners ?? []) s.add(listenerKey(l));
  return s;
}

function backingPath(b: BackingConfig): string | undefined {
  return b.kind === 'memory' ? undefined : b.path;
}

/** The refusals of one namespace kept under its nsid; its growth when it grows. */
function diffNamespace(a: NamespaceConfig, b: NamespaceConfig, field: string, out: Refusal[]): { fromBytes: number; toBytes: number } | undefined {
  const nsid = b.nsid;
  if (a.backing.kind !== b.backing.kind) {
    out.push({ field: `${field}.backing.kind`, reason: `nsid ${nsid}'s backing cannot change from ${a.backing.kind} to ${b.backing.kind}: a namespace's identity never changes` });
    return undefined;
  }
  if (backingPath(a.backing) !== backingPath(b.backing)) {
    out.push({ field: `${field}.backing.path`, reason: `nsid ${nsid}'s backing cannot change from ${backingPath(a.backing)} to ${backingPath(b.backing)}: a namespace's identity never changes` });
  }
  if (a.blockSize !== b.blockSize) out.push({ field: `${field}.blockSize`, reason: `nsid ${nsid}'s block size cannot change (${a.blockSize} -> ${b.blockSize})` });
  for (const id of ['uuid', 'nguid', 'eui64'] as const) {
    if (a[id] !== b[id]) out.push({ field: `${field}.${id}`, reason: `nsid ${nsid}'s ${id} cannot change (${a[id] ?? 'derived'} -> ${b[id] ?? 'derived'}): a namespace's identity never changes` });
  }
  const sa = a.backing.kind === 'block' ? undefined : a.backing.size;
  const sb = b.backing.kind === 'block' ? undefined : b.backing.size;
  // A file without a size is used at its size: nothing to grow to.
  if (sa === undefined || sb === undefined || sa === sb) return undefined;
  if (b.backing.kind === 'memory') {
    out.push({ field: `${field}.backing.size`, reason: `nsid ${nsid} is a memory namespace: its size (${sa}) cannot change in a running target` });
    return undefined;
  }
  if (sb < sa) {
    out.push({ field: `${field}.backing.size`, reason: `nsid ${nsid} can only grow (${sa} -> ${sb} bytes would lose data)` });
    return undefined;
  }
  return { fromBytes: sa, toBytes: sb };
}

function diffSubsystem(a: SubsystemConfig, b: SubsystemConfig, field: string, out: Refusal[], everywhere: ReadonlySet<string>, o: DiffOptions): SubsystemChanges {
  const removed = o.removed;
  for (const f of otherFieldsChanged(a, b, LIVE_SUBSYSTEM_FIELDS)) {
    const v = (s: SubsystemConfig) => canonical((s as unknown as Record<string, unknown>)[f]) ?? 'default';
    out.push({ field: `${field}.${f}`, reason: `${f} cannot change in a running target (${v(a)} -> ${v(b)}): restart it` });
  }
  listenerSettingsChanged(a.listeners, b.listeners, `${field}.listeners`, out, everywhere);
  const old = new Map(a.namespaces.map((n) => [n.nsid, n]));
  const now = new Set(b.namespaces.map((n) => n.nsid));
  const c: SubsystemChanges = {
    nqn: b.nqn,
    addNamespaces: b.namespaces.filter((n) => !old.has(n.nsid)),
    removeNamespaces: a.namespaces.filter((n) => !now.has(n.nsid)).map((n) => n.nsid).sort((x, y) => x - y),
    growNamespaces: [],
  };
  b.namespaces.forEach((n, i) => {
    const before = old.get(n.nsid);
    if (!before) {
      const r = reusedIdentity(b.nqn, n, `${field}.namespaces[${i}]`, removed);
      if (r) out.push(r);
      return;
    }
    const g = diffNamespace(before, n, `${field}.namespaces[${i}]`, out);
    if (g) c.growNamespaces.push({ nsid: n.nsid, ...g });
  });
  const hostsOf = (s: SubsystemConfig) => (s.allowAnyHost ? undefined : [...new Set(s.hosts ?? [])].sort());
  const ha = hostsOf(a);
  const hb = hostsOf(b);
  if (JSON.stringify(ha) !== JSON.stringify(hb)) {
    // From any host to a list: every host not on it goes (removed lists what is known to go by name).
    c.hosts = { hosts: hb, removed: ha && hb ? ha.filter((h) => !hb.includes(h)) : [] };
  }
  if (!sameListeners(a.listeners, b.listeners)) c.listeners = b.listeners;
  const dh = dhchapChange(a.dhchap ?? [], b.dhchap ?? []);
  if (dh) c.dhchap = dh;
  if (canonical(a.tlsPsks ?? []) !== canonical(b.tlsPsks ?? [])) {
    if (o.fixedTlsKeys) out.push({ field: `${field}.tlsPsks`, reason: 'this front end cannot reload its TLS keys: the TLS PSKs cannot change in a running target: restart it' });
    c.tlsPsks = b.tlsPsks ?? [];
  }
  return c;
}

function changed(c: SubsystemChanges): boolean {
  return c.addNamespaces.length + c.removeNamespaces.length + c.growNamespaces.length > 0 || c.hosts !== undefined || c.listeners !== undefined
    || c.dhchap !== undefined || c.tlsPsks !== undefined;
}

/** Every subsystem's TLS PSKs, by NQN, in NQN order (none: left out). */
const pskSets = (c: TargetConfig) => c.subsystems.filter((s) => s.tlsPsks?.length).map((s) => [s.nqn, s.tlsPsks]).sort();

/** The live changes from `served` to `next`, or every reason `next` is refused. */
export function diffConfig(served: TargetConfig, next: TargetConfig, o: DiffOptions = {}): ConfigDiff {
  const refused: Refusal[] = [];
  for (const f of otherFieldsChanged(served, next, LIVE_TARGET_FIELDS)) {
    const v = (c: TargetConfig) => canonical((c as unknown as Record<string, unknown>)[f]) ?? 'none';
    const what = f === 'metrics' ? 'the metrics and health address' : f;
    refused.push({ field: f, reason: `${what} cannot change in a running target (${v(served)} -> ${v(next)}): restart it` });
  }
  const everywhere = listeningAddresses(served);
  listenerSettingsChanged(served.discoveryListeners ?? [], next.discoveryListeners ?? [], 'discoveryListeners', refused, everywhere);
  const old = new Map(served.subsystems.map((s) => [s.nqn, s]));
  const nextNqns = new Set(next.subsystems.map((s) => s.nqn));
  const subsystems: SubsystemChanges[] = [];
  const addSubsystems: SubsystemConfig[] = [];
  next.subsystems.forEach((s, i) => {
    const before = old.get(s.nqn);
    if (!before) {
      // Its PSKs are loaded with every subsystem's (FrontEnd.prepareTlsKeys), unless the front end cannot reload them.
      if (s.tlsPsks?.length && o.fixedTlsKeys) refused.push({ field: `subsystems[${i}].tlsPsks`, reason: `this front end cannot reload its TLS keys: a subsystem added to a running target cannot bring TLS PSKs (${s.nqn}): restart it` });
      listenerSettingsChanged([], s.listeners, `subsystems[${i}].listeners`, refused, everywhere);
      s.namespaces.forEach((n, j) => {
        const r = reusedIdentity(s.nqn, n, `subsystems[${i}].namespaces[${j}]`, o.removed);
        if (r) refused.push(r);
      });
      return addSubsystems.push(s);
    }
    const c = diffSubsystem(before, s, `subsystems[${i}]`, refused, everywhere, o);
    if (changed(c)) subsystems.push(c);
  });
  const removeSubsystems = served.subsystems.filter((s) => !nextNqns.has(s.nqn)).map((s) => s.nqn);
  if (o.fixedListeners) {
    const a = [...listeningAddresses(served)].sort().join(', ');
    const b = [...listeningAddresses(next)].sort().join(', ');
    if (a !== b) refused.push({ field: 'subsystems[].listeners', reason: `this front end cannot open or close listening sockets: the listening addresses cannot change in a running target (${a} -> ${b}): restart it` });
  }
  if (refused.length) return { ok: false, refused };
  const discoveryListeners = sameListeners(served.discoveryListeners ?? [], next.discoveryListeners ?? []) ? undefined : next.discoveryListeners ?? [];
  const changes: LiveChanges = {
    generation: next.generation ?? 0,
    addSubsystems, removeSubsystems, subsystems,
    ...(discoveryListeners ? { discoveryListeners } : {}),
    ...((next.logLevel ?? 'info') !== (served.logLevel ?? 'info') ? { logLevel: next.logLevel ?? 'info' } : {}),
    tlsKeysChanged: canonical(pskSets(served)) !== canonical(pskSets(next)),
    discoveryLogChanged: addSubsystems.length > 0 || removeSubsystems.length > 0 || discoveryListeners !== undefined
      || subsystems.some((c) => c.hosts !== undefined || c.listeners !== undefined),
  };
  return { ok: true, changes };
}

/** One line for the log: "subsystems[0].namespaces[1].backing.path: nsid 2's backing cannot change ...; ...". */
export function describeRefusals(refused: readonly Refusal[]): string {
  return refused.map((r) => `${r.field}: ${r.reason}`).join('; ');
}
