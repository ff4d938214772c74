// Reads the target's GET /recovery from its pod (the pod IP; with hostNetwork that is the node's
// address) and checks it. A target that does not answer in time leaves status.recovery as it was.
import http from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import type { ConfigStatus, NvmeofSubsystem, OfflineNamespaceStatus, RecoveryStatus } from '../api/types.js';
import { isPodReady, isTerminating } from '../builders/observe.js';
import { parseOfflineNamespaces, parseRecovery, parseServedConfig } from '../builders/recovery.js';
import { DEFAULT_METRICS_PORT } from '../../target/contract.js';

/** What a target's /recovery says: its recoveries, the configuration generation it serves and its offline namespaces (the last two absent from an older target). */
export interface TargetReport {
  recovery: RecoveryStatus;
  config?: ConfigStatus;
  offline?: OfflineNamespaceStatus[];
}

export type RecoveryReader = (pod: V1Pod, metricsPort: number) => Promise<TargetReport>;

/**
 * The target to ask for /recovery: a Ready pod of the subsystem that is not being deleted, and the metrics
 * port it listens on; undefined while none serves. The reconciler and the prober ask the same one.
 */
export function recoverySource(sub: NvmeofSubsystem, targetPods: readonly V1Pod[]): { pod: V1Pod; metricsPort: number } | undefined {
  const pod = targetPods.find((p) => !isTerminating(p) && isPodReady(p));
  return pod ? { pod, metricsPort: sub.spec?.listener?.metricsPort ?? DEFAULT_METRICS_PORT } : undefined;
}

export function httpGetJson(host: string, port: number, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1 << 20) req.destroy(new Error(`${path}: answer larger than 1 MiB`));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path} on ${host}:${port}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(new Error(`GET ${path} on ${host}:${port}: not JSON (${(e as Error).message})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on ${host}:${port}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export function httpRecoveryReader(timeoutMs = 2000): RecoveryReader {
  return async (pod, metricsPort) => {
    const ip = pod.status?.podIP;
    if (!ip) throw new Error(`pod ${pod.metadata?.name} has no IP yet`);
    const doc = await httpGetJson(ip, metricsPort, '/recovery', timeoutMs);
    const config = parseServedConfig(doc);
    const offline = parseOfflineNamespaces(doc);
    return { recovery: parseRecovery(doc), ...(config ? { config } : {}), ...(offline ? { offline } : {}) };
  };
}
