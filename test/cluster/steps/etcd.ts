// etcd, on the namespace's loopback.
import { join } from 'node:path';
import type { StepContext } from './context.js';

export function startEtcd(ctx: StepContext): void {
  const { l, bins, startProc } = ctx;
  startProc('etcd', bins.etcd, [
    '--name=nvmeof', `--data-dir=${join(l.stateDir, 'etcd')}`,
    '--listen-client-urls=http://127.0.0.1:2379', '--advertise-client-urls=http://127.0.0.1:2379',
    '--listen-peer-urls=http://127.0.0.1:2380', '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster=nvmeof=http://127.0.0.1:2380', '--listen-metrics-urls=http://127.0.0.1:2381',
    '--unsafe-no-fsync=true', '--log-level=warn',
  ]);
}
