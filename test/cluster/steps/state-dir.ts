// The start's first step: what an earlier run with this name left goes, then an empty state directory.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Layout } from '../layout.js';
import type { Binaries } from '../paths.js';
import { mountsUnder, stopLayout } from '../stop.js';

export function clearStateDir(l: Layout, bins: Binaries, log: (m: string) => void): void {
  // Leftovers of an earlier run with this name (a crash, a SIGKILL) go first.
  stopLayout(l, bins, log);
  const stuck = mountsUnder(l.stateDir);
  if (stuck.length) throw new Error(`cannot reuse ${l.stateDir}: still mounted there (umount them first): ${stuck.join(' ')}`);
  rmSync(l.stateDir, { recursive: true, force: true });
  for (const d of ['pids', 'logs', 'pki', 'etcd', 'containerd', 'kubelet', 'cni/net.d', 'cni/ipam', 'pod-logs', 'config']) {
    mkdirSync(join(l.stateDir, d), { recursive: true });
  }
}
