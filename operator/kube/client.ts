// @kubernetes/client-node 2.x as the operator uses it: one configuration per KubeConfig whose
// requests give up after a timeout (client-node sets none: undici would wait minutes for a hung
// apiserver), and its errors turned into KubeErrors, so a failed write reads as before in the logs
// ("apply Pod storage/p: 409 ...") instead of an ApiException carrying the response headers.
import { STATUS_CODES } from 'node:http';
import { ApiException, createConfiguration, ServerConfiguration, type Configuration, type KubeConfig } from '@kubernetes/client-node';
import { KubeError } from './rest.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

/** A client-node configuration: the current cluster, the KubeConfig's authentication, a timeout. */
export function apiConfiguration(kc: KubeConfig, timeoutMs = DEFAULT_TIMEOUT_MS): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server.replace(/\/+$/, ''), {}),
    authMethods: { default: kc },
    promiseMiddleware: [{
      pre: async (ctx) => {
        ctx.setSignal(AbortSignal.timeout(timeoutMs));
        return ctx;
      },
      post: async (res) => res,
    }],
  });
}

/** Runs a client-node call; an API error becomes a KubeError, a timeout an Error saying so. */
export async function kubeCall<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiException) {
      const code = e.code as number;
      const st = statusOf(e.body);
      throw new KubeError(code, st.reason ?? STATUS_CODES[code] ?? 'Unknown', `${what}: ${code} ${st.message ?? String(e.body ?? '').slice(0, 300)}`, st.details, st.message);
    }
    if ((e as { name?: unknown } | undefined)?.name === 'TimeoutError') throw new Error(`${what}: no answer in ${timeoutMs} ms`);
    throw e;
  }
}

/** The Status of an error response: client-node 2.x leaves its body as text. */
function statusOf(body: unknown): { reason?: string; message?: string; details?: unknown } {
  if (typeof body === 'string') {
    try {
      return statusOf(JSON.parse(body));
    } catch {
      return {};
    }
  }
  return body && typeof body === 'object' ? body as { reason?: string; message?: string; details?: unknown } : {};
}
