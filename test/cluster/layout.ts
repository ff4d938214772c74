// The cluster's names and addresses, derived from its name alone, and the fixed parts of its network.
import { join } from 'node:path';
import type { ClusterOptions } from './cluster.js';
import { cacheDir } from './paths.js';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy'] as const;
export type Component = (typeof COMPONENTS)[number];

export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.96.0.0/24';
export const SERVICE_IP = '10.96.0.1';
export const CGROUP_ROOT = '/sys/fs/cgroup';

function defaultSubnetIndex(name: string): number {
  if (name === 'test') return 1;
  if (name === 'start') return 2;
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 247;
  return h + 3;
}

/** Paths the cluster uses, derived from its name alone: enough to clean up after a crash. */
export class Layout {
  readonly netns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostIP: string;
  readonly nodeIP: string;
  readonly cgroupName: string;
  readonly cniNetwork: string;
  constructor(
    readonly name: string,
    readonly stateDir: string,
    readonly subnetIndex: number,
  ) {
    this.netns = `nvmeof-${name}`;
    this.hostIf = `nvk${subnetIndex}h`;
    this.nsIf = `nvk${subnetIndex}n`;
    this.hostIP = `10.213.${subnetIndex}.1`;
    this.nodeIP = `10.213.${subnetIndex}.2`;
    this.cgroupName = `nvmeof-${name}`;
    this.cniNetwork = `nvmeof-${name}`;
  }
  get pidDir() {
    return join(this.stateDir, 'pids');
  }
  get logDir() {
    return join(this.stateDir, 'logs');
  }
  get containerdSock() {
    return join(this.stateDir, 'containerd', 'containerd.sock');
  }
}

export function layoutFor(opts: ClusterOptions): Layout {
  const name = opts.name ?? 'test';
  if (!/^[a-z0-9]{1,12}$/.test(name)) throw new Error(`cluster name ${JSON.stringify(name)}: 1-12 lowercase letters or digits`);
  return new Layout(name, opts.stateDir ?? join(cacheDir(), 'run', name), opts.subnetIndex ?? defaultSubnetIndex(name));
}
