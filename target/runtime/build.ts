// Builds subsystems, namespaces and backends from a validated configuration.
import type { NamespaceConfig, SubsystemConfig } from '../config/config.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Namespace } from '../subsystem/namespace.js';
import { namespaceIds, deriveSerial } from '../subsystem/identity.js';
import { MemoryBackend } from '../subsystem/backends/memory.js';
import { FileBackend } from '../subsystem/backends/file.js';
import type { Backend } from '../subsystem/backends/backend.js';
import { MODEL_NUMBER } from '../version.js';
import { describeFailure, errnoText, StartupError } from '../startup-error.js';
import { HostKeyError, loadHostAuths } from '../auth/host-keys.js';

async function openBackend(n: NamespaceConfig): Promise<Backend> {
  switch (n.backing.kind) {
    case 'memory':
      try {
        return new MemoryBackend(n.backing.size);
      } catch (e) {
        throw describeFailure(`cannot allocate ${n.backing.size} bytes for a memory namespace`, e);
      }
    case 'file': return FileBackend.openFile(n.backing.path, n.backing.size);
    case 'block': return FileBackend.openBlock(n.backing.path);
  }
}

/**
 * A namespace whose backing cannot be opened, sized or allocated is the configuration's or the
 * environment's problem, never a bug: the process exits saying which namespace and why (a StartupError).
 */
async function openNamespaceBackend(n: NamespaceConfig): Promise<Backend> {
  try {
    return await openBackend(n);
  } catch (e) {
    throw new StartupError(`nsid ${n.nsid}: ${errnoText(e)}`, { cause: e });
  }
}

/** Opens namespace `n` of subsystem `nqn` (at start-up, or added by a live configuration change). */
export async function buildNamespace(nqn: string, n: NamespaceConfig): Promise<Namespace> {
  const backend = await openNamespaceBackend(n);
  if (backend.size % n.blockSize !== 0) {
    await backend.close();
    throw new StartupError(`namespace ${n.nsid} of ${nqn}: size ${backend.size} is not a multiple of block size ${n.blockSize}`);
  }
  return new Namespace(n.nsid, n.blockSize, namespaceIds(nqn, n.nsid, n.backing.kind === 'memory', n), backend);
}

/** The host list of a subsystem's configuration: undefined means any host. */
function allowedHosts(cfg: SubsystemConfig): Set<string> | undefined {
  return cfg.allowAnyHost ? undefined : new Set(cfg.hosts ?? []);
}

/** The DH-HMAC-CHAP keys a subsystem's configuration names, read now: a bad one stops the start, naming the host. */
export function hostAuthOf(cfg: SubsystemConfig): ReturnType<typeof loadHostAuths> {
  try {
    return loadHostAuths(cfg.nqn, cfg.dhchap ?? []);
  } catch (e) {
    if (e instanceof HostKeyError) throw new StartupError(e.message, { cause: e });
    throw e;
  }
}

export async function buildSubsystem(cfg: SubsystemConfig): Promise<Subsystem> {
  const sub = new Subsystem('nvm', cfg.nqn, cfg.serial ?? deriveSerial(cfg.nqn), cfg.model ?? MODEL_NUMBER, cfg.listeners, allowedHosts(cfg));
  sub.hostAuth = hostAuthOf(cfg);
  try {
    for (const n of cfg.namespaces) sub.addNamespace(await buildNamespace(cfg.nqn, n));
  } catch (e) {
    // A live change that adds this subsystem is refused whole: what was opened is closed again.
    for (const ns of sub.namespaces.values()) await ns.backend.close();
    throw e;
  }
  return sub;
}
