// Builds subsystems, namespaces and backends from a validated configuration.
import type { NamespaceConfig, SubsystemConfig } from '../config/config.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Namespace } from '../subsystem/namespace.js';
import { namespaceIds, deriveSerial } from '../subsystem/identity.js';
import { MemoryBackend } from '../subsystem/backends/memory.js';
import { FileBackend } from '../subsystem/backends/file.js';
import type { Backend } from '../subsystem/backends/backend.js';
import { MODEL_NUMBER } from '../version.js';

async function openBackend(n: NamespaceConfig): Promise<Backend> {
  switch (n.backing.kind) {
    case 'memory': return new MemoryBackend(n.backing.size);
    case 'file': return FileBackend.openFile(n.backing.path, n.backing.size);
    case 'block': return FileBackend.openBlock(n.backing.path);
  }
}

export async function buildSubsystem(cfg: SubsystemConfig): Promise<Subsystem> {
  const hosts = cfg.allowAnyHost ? undefined : new Set(cfg.hosts ?? []);
  const sub = new Subsystem('nvm', cfg.nqn, cfg.serial ?? deriveSerial(cfg.nqn), cfg.model ?? MODEL_NUMBER, cfg.listeners, hosts);
  for (const n of cfg.namespaces) {
    const backend = await openBackend(n);
    if (backend.size % n.blockSize !== 0) {
      await backend.close();
      throw new Error(`namespace ${n.nsid} of ${cfg.nqn}: size ${backend.size} is not a multiple of block size ${n.blockSize}`);
    }
    const ids = namespaceIds(cfg.nqn, n.nsid, n.backing.kind === 'memory', n);
    sub.addNamespace(new Namespace(n.nsid, n.blockSize, ids, backend));
  }
  return sub;
}
