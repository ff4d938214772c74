// Where the cluster's parts are: the cache that test/cluster/prepare.sh fills (etcd, the
// Kubernetes components and kubectl are links to one multi-call binary there), the
// binaries named by KUBEBUILDER_ASSETS / TEST_ASSET_*, and Debian's packages.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root (this file runs as dist/test/cluster/paths.js). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** ${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}: build outputs kept across clones. */
export function cacheDir(): string {
  return process.env.NVMEOF_CACHE || join(homedir(), '.cache', 'nvmeof-operator');
}

/** The Kubernetes release the wrapper module builds (its go.mod's require line). */
export function k8sVersion(): string {
  const mod = readFileSync(join(repoRoot, 'test/cluster/k8s/go.mod'), 'utf8');
  const m = /^\s*k8s\.io\/kubernetes\s+(v\S+)/m.exec(mod);
  if (!m) throw new Error('test/cluster/k8s/go.mod names no k8s.io/kubernetes version');
  return m[1];
}

export const HELM_VERSION = 'v3.21.4';

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  kubectl: string;
  helm: string;
  containerd: string;
  ctr: string;
  runc: string;
  cniBinDir: string;
  iptables: string;
  conntrack: string;
  openssl: string;
  nsenter: string;
  setpriv: string;
  ip: string;
  /** the static binary of the sandbox ("pause") image */
  pause: string;
}

/** Thrown when a real part is missing: its message says what to install or run. */
export class MissingPartError extends Error {
  constructor(public readonly missing: string[]) {
    super(
      'the Kubernetes cluster cannot start, these parts are missing:\n' +
        missing.map((m) => `  - ${m}`).join('\n') +
        '\nrun `bash test/cluster/prepare.sh` (as root; `npm test` and `npm start` run it) to install and build them',
    );
  }
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function which(name: string): string | undefined {
  for (const d of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin'])) {
    if (d && executable(join(d, name))) return join(d, name);
  }
  return undefined;
}

/** Finds every part; throws MissingPartError naming all that are missing. */
export function findBinaries(): Binaries {
  const missing: string[] = [];
  const cache = cacheDir();
  const version = k8sVersion();
  const built = join(cache, 'k8s', version, 'bin');
  const envtest = (name: string, envVar: string): string => {
    const given = process.env[envVar];
    if (given) {
      if (!executable(given)) missing.push(`${name}: ${envVar}=${given} is not an executable file`);
      return given;
    }
    const kb = process.env.KUBEBUILDER_ASSETS;
    if (kb && executable(join(kb, name))) return join(kb, name);
    return ours(name);
  };
  const ours = (name: string): string => {
    const p = join(built, name);
    if (!executable(p)) missing.push(`${name}: not built in ${built} (test/cluster/prepare.sh builds it with Go)`);
    return p;
  };
  const debian = (name: string, pkg: string): string => {
    const p = which(name);
    if (!p) missing.push(`${name}: install Debian's ${pkg} (apt-get install ${pkg})`);
    return p ?? name;
  };
  const helm = join(cache, 'helm', HELM_VERSION, 'helm');
  if (!executable(helm)) missing.push(`helm ${HELM_VERSION}: not built in ${dirname(helm)}`);
  const pause = join(cache, 'images', 'pause');
  if (!executable(pause)) missing.push(`pause: the sandbox image's binary is not built in ${dirname(pause)}`);
  const cniBinDir = '/usr/lib/cni';
  if (!existsSync(join(cniBinDir, 'bridge')) || !existsSync(join(cniBinDir, 'host-local'))) {
    missing.push(`CNI plugins (bridge, host-local, loopback, portmap) in ${cniBinDir}: apt-get install containernetworking-plugins`);
  }
  const b: Binaries = {
    etcd: envtest('etcd', 'TEST_ASSET_ETCD'),
    kubeApiserver: envtest('kube-apiserver', 'TEST_ASSET_KUBE_APISERVER'),
    kubeControllerManager: ours('kube-controller-manager'),
    kubeScheduler: ours('kube-scheduler'),
    kubelet: ours('kubelet'),
    kubeProxy: ours('kube-proxy'),
    kubectl: envtest('kubectl', 'TEST_ASSET_KUBECTL'),
    helm,
    containerd: debian('containerd', 'containerd'),
    ctr: debian('ctr', 'containerd'),
    runc: debian('runc', 'runc'),
    cniBinDir,
    iptables: debian('iptables', 'iptables'),
    conntrack: debian('conntrack', 'conntrack'),
    openssl: debian('openssl', 'openssl'),
    nsenter: debian('nsenter', 'util-linux'),
    setpriv: debian('setpriv', 'util-linux'),
    ip: debian('ip', 'iproute2'),
    pause,
  };
  if (missing.length) throw new MissingPartError(missing);
  return b;
}
