// A real single-node Kubernetes cluster on this machine: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd + runc, kubelet and
// kube-proxy, all started here and stopped by PID. See test/README.md,
// "Kubernetes cluster", for the layout and why it is built this way.
//
// Every component runs inside a network namespace made for the cluster
// (`nvmeof-<name>`), joined to the host by a veth pair: the host side is
// 10.213.<n>.1, the cluster side 10.213.<n>.2, which is the node's IP and the API
// server's advertised address. The namespace has no default route, so nothing a
// pod sends can leave the machine. Pods reach the API server through the
// `kubernetes` Service (10.96.0.1:443, DNAT by kube-proxy to 10.213.<n>.2:6443);
// host-network pods can also use 127.0.0.1:6443. The host reaches the API server
// at https://10.213.<n>.2:6443 (the kubeconfig says so).
//
// startCluster runs its steps in order, each in its own file under steps/ (sharing a StepContext,
// steps/context.ts); stop.ts stops a cluster by what its state directory records; handle.ts is the
// Cluster a start returns.
import { clusterHandle } from './handle.js';
import { buildImages, type ImageSet } from './images.js';
import { layoutFor } from './layout.js';
import { findBinaries, k8sVersion, type Binaries } from './paths.js';
import { startApiserver } from './steps/apiserver.js';
import { issueCertificates } from './steps/certificates.js';
import { containerdCtr, startContainerd } from './steps/containerd.js';
import { newContext, stopOnExit } from './steps/context.js';
import { startControllers } from './steps/controllers.js';
import { startEtcd } from './steps/etcd.js';
import { importImages } from './steps/images.js';
import { startKubeProxy } from './steps/kube-proxy.js';
import { startKubelet } from './steps/kubelet.js';
import { createNetwork } from './steps/network.js';
import { waitForNode } from './steps/node.js';
import { clearStateDir } from './steps/state-dir.js';
import { stopLayout } from './stop.js';

export interface ClusterOptions {
  /** names the state directory, the network namespace and the veth pair (default "test") */
  name?: string;
  /** working files; wiped at start (default ${NVMEOF_CACHE}/run/<name>) */
  stateDir?: string;
  /** third octet of the veth subnet 10.213.<n>.0/30 (default: derived from name, 1..250) */
  subnetIndex?: number;
  /** progress lines (default: console.log with a prefix) */
  log?: (msg: string) => void;
  /** stop the cluster on SIGINT/SIGTERM/SIGHUP, then exit (default true) */
  handleSignals?: boolean;
  /** how long to wait for each component to become ready (default 120 s) */
  timeoutMs?: number;
}

export interface KubectlOptions {
  /** fed to kubectl's standard input (for `apply -f -`) */
  input?: string;
  timeoutMs?: number;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  name: string;
  /** admin kubeconfig (system:masters) */
  kubeconfig: string;
  /** https://10.213.<n>.2:6443 */
  server: string;
  nodeName: string;
  /** the node's IP, the API server's advertised address, inside the cluster's network namespace */
  nodeIP: string;
  /** the API server as pods see it: the `kubernetes` Service */
  serviceIP: string;
  podCIDR: string;
  serviceCIDR: string;
  /** the network namespace every component runs in (`ip netns exec <netns> ...` reaches pods) */
  netns: string;
  stateDir: string;
  /** logs of each component: <logDir>/<component>.log */
  logDir: string;
  /** the project's images, imported into containerd */
  images: ImageSet;
  binaries: Binaries;
  /** seconds each start phase took */
  timings: Record<string, number>;
  /** runs kubectl against the cluster; resolves to stdout, rejects (with stderr) on a non-zero exit */
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  /** the same, resolving to the exit code and both outputs whatever the exit code */
  kubectlResult(args: string[], opts?: KubectlOptions): Promise<CommandResult>;
  /** runs helm against the cluster (KUBECONFIG set) */
  helm(args: string[], opts?: KubectlOptions): Promise<string>;
  /** runs `ctr` against the cluster's containerd in the k8s.io namespace */
  ctr(args: string[]): Promise<string>;
  /** GET on the API server as admin; resolves to the parsed JSON (rejects on a status >= 400) */
  apiGet(path: string): Promise<unknown>;
  /** (re)builds the images and imports them (for code that changed dist/ after start) */
  reloadImages(): Promise<ImageSet>;
  /**
   * Restarts kube-apiserver alone (etcd and every other component keep running): SIGTERM, waits for it
   * to exit (SIGKILL after `graceMs`, default 30 s), optionally stays down `downMs`, starts it again with
   * the same flags and waits for /readyz. Resolves to the milliseconds it took to stop, the time without
   * an API server (from SIGTERM to ready again) and the time from its start to ready.
   * (Here, 1.34 drains its requests within ~0.1 s of SIGTERM but its process then lingers for 30 s or
   * more: callers that care about time pass a short graceMs.)
   */
  restartApiserver(opts?: { downMs?: number; graceMs?: number }): Promise<{ stopMs: number; downMs: number; readyMs: number }>;
  /** stops everything started, by PID, and unmounts what was mounted; safe to call twice */
  stop(): Promise<void>;
}

/** The state directory a cluster of these options uses (wiped when it starts). */
export function clusterStateDir(opts: ClusterOptions = {}): string {
  return layoutFor(opts).stateDir;
}

/** Stops a cluster left running by a process that is gone (or by `cli up`). */
export function stopStaleCluster(opts: ClusterOptions = {}): void {
  const l = layoutFor(opts);
  const log = opts.log ?? ((m: string) => console.log(`cluster(${l.name}): ${m}`));
  stopLayout(l, { ctr: 'ctr', ip: 'ip' }, log);
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const l = layoutFor(opts);
  const log = opts.log ?? ((m: string) => console.log(`cluster(${l.name}): ${m}`));
  const timeoutMs = opts.timeoutMs ?? 120_000;
  if (process.getuid?.() !== 0) throw new Error('the cluster needs root (network namespaces, mounts, cgroups)');
  const bins = findBinaries();
  const timings: Record<string, number> = {};
  let phaseT = Date.now();
  const phase = (name: string) => {
    const s = (Date.now() - phaseT) / 1000;
    timings[name] = s;
    log(`${name}: ${s.toFixed(1)} s`);
    phaseT = Date.now();
  };
  const t0 = Date.now();

  clearStateDir(l, bins, log);
  const ctx = newContext(l, bins, log, timeoutMs);
  const stopSync = stopOnExit(ctx, opts);
  try {
    createNetwork(ctx);
    phase('network namespace');
    const kubeconfig = issueCertificates(ctx);
    phase('certificates');
    const images = buildImages({ log });
    phase('images');
    startEtcd(ctx);
    const api = await startApiserver(ctx);
    phase('etcd + kube-apiserver');
    startControllers(ctx);
    await startContainerd(ctx, images);
    const ctr = containerdCtr(ctx);
    await importImages(ctr, images);
    phase('controllers + containerd + image import');
    startKubelet(ctx);
    startKubeProxy(ctx);
    await waitForNode(ctx, api.apiGet);
    phase('kubelet + kube-proxy, node Ready');
    timings.total = (Date.now() - t0) / 1000;
    log(`up in ${timings.total.toFixed(1)} s: Kubernetes ${k8sVersion()}, node ${ctx.nodeName} Ready; KUBECONFIG=${kubeconfig}`);
    return clusterHandle(ctx, { kubeconfig, images, timings, ctr, api, stopSync });
  } catch (err) {
    log(`start failed: ${(err as Error).message}`);
    stopSync();
    throw err;
  }
}

/**
 * Warning events that say something true of this machine, which nothing in the project can change:
 * the kubelet's CgroupV1, once at its start (the machine mounts cgroup v1 for the controllers;
 * `failCgroupV1: false` is what lets the kubelet run on it).
 */
export const MACHINE_WARNINGS: RegExp[] = [
  /^default Node\/\S+ CgroupV1 /,
  // kube-controller-manager's endpoints controller racing its own cache: a second sync of a new Service
  // tries to create the Endpoints the first just created, records this, and retries with success. Not
  // the project's: the operator's Service now comes before its pods, which makes it rare, not impossible.
  /^default Endpoints\/\S+ FailedToCreateEndpoint \(1\): Failed to create endpoint for service \S+: endpoints "\S+" already exists$/,
  // The kubelet gives the watch of a pod's ConfigMap one second to sync before it gives up on that mount
  // attempt (pkg/kubelet/util/manager/watch_based_manager.go: wait.PollImmediate(10ms, time.Second,
  // hasSynced)) and retries; on 2 loaded cores the service-account volume's kube-root-ca.crt can miss it
  // once. Seen on the operator's pods when the machine's load average was 10 or more; the pod then starts.
  /^\S+ Pod\/\S+ FailedMount \(1\): MountVolume\.SetUp failed for volume "kube-api-access-\w+" : failed to sync configmap cache: timed out waiting for the condition$/,
  // kube-apiserver's ClusterIP repair loop (pkg/registry/core/service/ipallocator/controller/repair.go)
  // reads the allocator's snapshot, then lists the Services: a Service created between the two reads has an
  // IP the snapshot lacks, which it records once and marks allocated (the Service works throughout). Seen
  // once on a subsystem's metrics Service (maint-file-metrics), in maintenance.test on this 2-core machine.
  /^\S+ Service\/\S+ ClusterIPNotAllocated \(1\): Cluster IP \[IPv[46]\]: ?\S+ is not allocated; repairing$/,
];

/**
 * The Warning events in these namespaces, one line each (`namespace kind/name reason (count): message`),
 * but those matching `except` (default: the machine's own). A healthy start has none; node events are in `default`.
 */
export async function warningEvents(c: Cluster, namespaces: string[], except: RegExp[] = MACHINE_WARNINGS): Promise<string[]> {
  const out = await c.kubectl(['get', 'events', '--all-namespaces', '--field-selector', 'type=Warning', '-o', 'json']);
  const items = (JSON.parse(out) as {
    items: { metadata: { namespace: string }; involvedObject: { kind?: string; name?: string }; reason?: string; message?: string; count?: number }[];
  }).items;
  return items
    .filter((e) => namespaces.includes(e.metadata.namespace))
    .map((e) => `${e.metadata.namespace} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason} (${e.count ?? 1}): ${e.message?.trim()}`)
    .filter((w) => !except.some((r) => r.test(w)));
}
