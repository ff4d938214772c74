// Start-up, before the file is mapped: read what is there, decide (recovery-policy.ts), and leave a
// layout-2 file of the asked capacities at `path`, holding what recovery needs. Runs under the lock.
//
// Every change of the file here is atomic (files.ts replaceFile / rename): a kill during start-up
// leaves either the old file or the new one, so start-up itself can be killed and repeated.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { LAYOUT_2, LAYOUT_VERSION } from './layout.js';
import { decodeHeader, probeHeader } from './header.js';
import { formatImage, NEW_HEADER_SEED, parseImage, type HeaderSeed } from './image.js';
import { parseV1Image, V1_LAYOUT_VERSION } from './layout-v1.js';
import { classifyStateFile, type FileDecision, type FileFacts } from './recovery-policy.js';
import { replaceFile, setAside } from './files.js';
import { sidecarsAtStart } from './reservation-sidecar.js';
import { identityDigest, identityDigestV1, sortedNamespaces } from './identity-digest.js';
import { describeNamespaceChanges, diffNamespaces, hasNamespaceChanges, namespaceChangesOf, nsidsLosingState, type NamespaceChanges } from './namespace-changes.js';
import {
  emptyContents, type Capacity, type ControllerRecord, type StateContents, type StateLog, type SubsystemIdentity,
} from './types.js';

export class StateFileError extends Error {
  constructor(readonly code: 'newer-layout' | 'unreadable-after-write', message: string) {
    super(message);
    this.name = 'StateFileError';
  }
}

export interface Prepared {
  decision: Exclude<FileDecision, { action: 'refuse' }>;
  /** What the previous file held (empty for fresh and corrupt), controller slots as in the new file. */
  contents: StateContents;
  unknownQpairs: number;
  unknownInflight: number;
  tornSlots: number;
  previousBootId?: string;
  previousBootCount: number;
  migratedFrom?: number;
  asidePath?: string;
  /** Controllers that did not fit a smaller capacity (least recently seen first to go). */
  droppedForCapacity: ControllerRecord[];
}

interface Found {
  facts: FileFacts;
  seed?: HeaderSeed;
  contents?: StateContents;
  unknownQpairs?: number;
  unknownInflight?: number;
  tornSlots?: number;
  bootId?: string;
}

function inspect(path: string, identity: SubsystemIdentity, capacity: Capacity, nowMs: number): Found {
  if (!existsSync(path)) return { facts: { exists: false } };
  const data = readFileSync(path);
  const probe = probeHeader(data);
  if (!probe.ok) return { facts: { exists: true, headerProblem: probe.problem } };
  if (probe.layoutVersion === LAYOUT_VERSION || probe.layoutVersion === LAYOUT_2) {
    // Layout 3: digest v2 (the NQN); the namespaces are compared record by record. Layout 2 (the same bytes,
    // digest v1 over the namespaces too): recognised as layout 1 is, then migrated.
    const current = probe.layoutVersion === LAYOUT_VERSION;
    const h = decodeHeader(data, probe.off);
    const digest = current ? identityDigest(identity) : identityDigestV1(identity);
    const facts: FileFacts = {
      exists: true, layoutVersion: probe.layoutVersion, identityMatches: h.identityDigest.equals(digest), fileNqn: h.nqn,
      nqnMatches: h.nqn === identity.nqn, cleanShutdown: h.cleanShutdown,
    };
    const parsed = parseImage(data);
    if (!parsed.ok) return { facts: { ...facts, bodyProblem: parsed.problem } };
    const img = parsed.image;
    if (current && facts.identityMatches) {
      const changes = diffNamespaces(img.contents.namespaces, identity.namespaces);
      if (hasNamespaceChanges(changes)) facts.namespaceChanges = changes;
    } else if (!current && !facts.identityMatches && facts.nqnMatches) {
      facts.namespaceChanges = namespaceChangesOf(h.identityDigest, img.contents.namespaces, identity);
    }
    const c = img.header.capacity;
    facts.capacityMatches = c.controllers === capacity.controllers && c.qpairs === capacity.qpairs
      && c.inflightPerQpair === capacity.inflightPerQpair && c.namespaces === identity.namespaces.length;
    return {
      facts, seed: img.header, contents: img.contents, bootId: img.header.bootId,
      unknownQpairs: img.unknownQpairs, unknownInflight: img.unknownInflight, tornSlots: img.tornSlots,
    };
  }
  if (probe.layoutVersion === V1_LAYOUT_VERSION) {
    const parsed = parseV1Image(data, identity, nowMs);
    if (!parsed.ok) return { facts: { exists: true, layoutVersion: probe.layoutVersion, bodyProblem: parsed.problem } };
    const img = parsed.image;
    const identityMatches = img.identityDigest.equals(identityDigestV1(identity));
    // Layout 1 did not record the NQN: the digest over its namespace records says whether it is ours.
    const namespaceChanges = identityMatches ? undefined : namespaceChangesOf(img.identityDigest, img.namespaces, identity);
    return {
      facts: { exists: true, layoutVersion: probe.layoutVersion, identityMatches, namespaceChanges, cleanShutdown: img.seed.cleanShutdown },
      seed: img.seed, contents: img.contents,
    };
  }
  return { facts: { exists: true, layoutVersion: probe.layoutVersion } };
}

/**
 * Drops the per-namespace state of namespaces removed or replaced (namespace-changes.ts): reservations are
 * the only state kept per namespace (in-flight records are abandoned at every start whatever their nsid).
 */
function dropNamespaceState(c: StateContents, changes: NamespaceChanges | undefined): { contents: StateContents; dropped: number[] } {
  if (!changes) return { contents: c, dropped: [] };
  const losing = nsidsLosingState(changes);
  const dropped = c.reservations.filter((r) => losing.has(r.nsid)).map((r) => r.nsid);
  return { contents: { ...c, reservations: c.reservations.filter((r) => !losing.has(r.nsid)) }, dropped };
}

/** Keeps at most `max` controllers, the most recently seen; packs them into slots 0.. in slot order. */
function fitControllers(c: StateContents, max: number): { contents: StateContents; dropped: ControllerRecord[] } {
  const bySeen = [...c.controllers].sort((a, b) => b.record.lastSeenMs - a.record.lastSeenMs);
  const kept = new Set(bySeen.slice(0, max));
  const dropped = bySeen.slice(max).map((x) => x.record);
  const controllers = c.controllers.filter((x) => kept.has(x)).map((x, i) => ({ slot: i, record: x.record }));
  return { contents: { ...c, controllers }, dropped };
}

export function prepareFile(path: string, identity: SubsystemIdentity, capacity: Capacity, nowMs: number, log: StateLog): Prepared {
  const found = inspect(path, identity, capacity, nowMs);
  const decision = classifyStateFile(found.facts);
  const namespaces = sortedNamespaces(identity);
  // Sidecars of namespaces added live (reservation-sidecar.ts): imported only into a file resized for them.
  const added = decision.action === 'migrate' || decision.action === 'resize' ? decision.namespaceChanges?.added ?? [] : [];
  const sidecars = decision.action === 'refuse' ? undefined : sidecarsAtStart(path, added, namespaces, nowMs, log);
  const base = { unknownQpairs: 0, unknownInflight: 0, tornSlots: 0, previousBootCount: 0, droppedForCapacity: [] as ControllerRecord[] };
  switch (decision.action) {
    case 'refuse':
      log.error('state file refused', { path, reason: decision.reason });
      throw new StateFileError('newer-layout', `${path}: ${decision.reason}`);
    case 'create':
    case 'set-aside': {
      let asidePath: string | undefined;
      if (decision.action === 'set-aside') {
        const r = setAside(path, nowMs);
        asidePath = r.asidePath;
        log.warn('state file is corrupt: set aside, starting fresh', { path, reason: decision.reason, asidePath, deleted: r.deleted });
      }
      const contents = emptyContents(namespaces);
      replaceFile(path, formatImage(identity, capacity, NEW_HEADER_SEED, contents));
      sidecars!.settle();
      return { ...base, decision, contents, asidePath };
    }
    case 'migrate':
    case 'resize': {
      const changes = decision.namespaceChanges;
      const ns = dropNamespaceState(found.contents!, changes);
      if (changes) {
        log.warn(`namespaces changed: ${describeNamespaceChanges(changes)}`, {
          path, ...changes, reservationsDropped: ns.dropped, kept: 'controllers, cntlid allocator, recovery and SMART counters',
        });
      }
      const fitted = fitControllers(ns.contents, capacity.controllers);
      const { dropped } = fitted;
      const contents = { ...fitted.contents, reservations: [...fitted.contents.reservations, ...sidecars!.imports] };
      if (dropped.length) log.warn('controllers dropped: more than the controller capacity', { path, dropped: dropped.map((d) => d.cntlid) });
      if (decision.action === 'migrate') {
        const backup = `${path}.layout-${found.facts.layoutVersion}`;
        copyFileSync(path, backup);
        log.info('migrating state file', { path, from: found.facts.layoutVersion, to: LAYOUT_VERSION, backup });
      } else {
        log.info(`resizing state file to new capacities${changes ? ' (namespaces changed)' : ''}`, { path, capacity, namespaces: namespaces.length });
      }
      replaceFile(path, formatImage(identity, capacity, found.seed!, { ...contents, namespaces }));
      // Stored and synced (replaceFile): only now may the imported sidecars go.
      sidecars!.settle();
      return {
        ...base, decision, contents, droppedForCapacity: dropped,
        unknownQpairs: found.unknownQpairs ?? 0, unknownInflight: found.unknownInflight ?? 0, tornSlots: found.tornSlots ?? 0,
        previousBootId: found.bootId || undefined, previousBootCount: found.seed!.bootCount,
        migratedFrom: decision.action === 'migrate' ? found.facts.layoutVersion : undefined,
      };
    }
    case 'use':
      sidecars!.settle();
      return {
        ...base, decision, contents: found.contents!,
        unknownQpairs: found.unknownQpairs ?? 0, unknownInflight: found.unknownInflight ?? 0, tornSlots: found.tornSlots ?? 0,
        previousBootId: found.bootId || undefined, previousBootCount: found.seed!.bootCount,
      };
  }
}
