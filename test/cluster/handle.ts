// The Cluster a start returns: kubectl, helm, ctr and the API server against it, image reloads,
// restartApiserver, stop.
import type { Cluster, KubectlOptions } from './cluster.js';
import { buildImages, type ImageSet } from './images.js';
import { POD_CIDR, SERVICE_CIDR, SERVICE_IP } from './layout.js';
import { alive, runAsync, sleep } from './proc.js';
import type { Apiserver } from './steps/apiserver.js';
import type { StepContext } from './steps/context.js';
import { importImages } from './steps/images.js';
import { readPid } from './stop.js';

export interface Started {
  /** the admin kubeconfig */
  kubeconfig: string;
  images: ImageSet;
  timings: Record<string, number>;
  ctr: (args: string[]) => Promise<string>;
  api: Apiserver;
  /** stopOnExit's stop */
  stopSync: () => void;
}

export function clusterHandle(ctx: StepContext, s: Started): Cluster {
  const { l, bins, log, server, nodeName, procs, expectedExits, startProc, waitFor } = ctx;
  const { kubeconfig, images, timings, ctr, stopSync } = s;
  const { apiserverArgs, apiRequest, apiGet } = s.api;
  let stopping: Promise<void> | undefined;
  const kubectlEnv = { ...process.env, KUBECONFIG: kubeconfig };
  const kubectlResult = (args: string[], o: KubectlOptions = {}) => runAsync(bins.kubectl, args, { ...o, env: kubectlEnv });
  const cluster: Cluster = {
    name: l.name,
    kubeconfig,
    server,
    nodeName,
    nodeIP: l.nodeIP,
    serviceIP: SERVICE_IP,
    podCIDR: POD_CIDR,
    serviceCIDR: SERVICE_CIDR,
    netns: l.netns,
    stateDir: l.stateDir,
    logDir: l.logDir,
    images,
    binaries: bins,
    timings,
    kubectlResult,
    async kubectl(args, o) {
      const r = await kubectlResult(args, o);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    },
    async helm(args, o) {
      const r = await runAsync(bins.helm, args, { ...o, env: kubectlEnv });
      if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    },
    ctr,
    apiGet,
    async reloadImages() {
      const set = buildImages({ log });
      await importImages(ctr, set);
      cluster.images = set;
      return set;
    },
    async restartApiserver(o = {}) {
      if (ctx.stopped) throw new Error('the cluster is stopped');
      const t = Date.now();
      const child = procs.get('kube-apiserver');
      const pid = readPid(l, 'kube-apiserver');
      if (child) expectedExits.add(child);
      if (pid) {
        process.kill(pid, 'SIGTERM');
        const graceMs = o.graceMs ?? 30_000;
        const until = Date.now() + graceMs;
        while (alive(pid) && Date.now() < until) await sleep(50);
        if (alive(pid)) {
          log(`kube-apiserver (pid ${pid}) still running ${graceMs} ms after SIGTERM: SIGKILL`);
          process.kill(pid, 'SIGKILL');
          while (alive(pid)) await sleep(50);
        }
      }
      const stopMs = Date.now() - t;
      if (o.downMs) await sleep(o.downMs);
      const t2 = Date.now();
      startProc('kube-apiserver', bins.kubeApiserver, apiserverArgs);
      await waitFor('kube-apiserver /readyz after its restart', async () => (await apiRequest('/readyz')).status === 200);
      const readyMs = Date.now() - t2;
      const downMs = Date.now() - t;
      log(`kube-apiserver restarted: stopped in ${stopMs} ms, ready ${readyMs} ms after its start (${downMs} ms without it)`);
      return { stopMs, downMs, readyMs };
    },
    stop() {
      stopping ??= Promise.resolve().then(stopSync);
      return stopping;
    },
  };
  return cluster;
}
