// A small JSON REST client for the Kubernetes API, for what goes by a collection or object URL: the
// informers' lists and the leader election's Lease. Writes to owned objects and patches go through
// client-node 2.x (cluster.ts). Authentication and TLS come from @kubernetes/client-node's
// KubeConfig (kubeconfig file or in-cluster service account, token files re-read as they rotate);
// requests go out with node's http(s) over the KubeConfig's cached agent, with a timeout.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * A Kubernetes API error, with the Status reason by name (NotFound, Conflict, AlreadyExists, ...).
 * `message` says what was asked ("apply Pod ns/p: 403 ..."); `apiMessage` is the Status message alone,
 * as the API server wrote it, for conditions and events that quote it.
 */
export class KubeError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: unknown, readonly apiMessage?: string) {
    super(message);
    this.name = 'KubeError';
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeError && e.code === 404;
}

export function isConflict(e: unknown): boolean {
  return e instanceof KubeError && e.code === 409;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  timeoutMs?: number;
}

export interface Rest {
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
}

export class KubeRest implements Rest {
  constructor(private readonly kc: KubeConfig, private readonly defaultTimeoutMs = 30_000) {}

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ro: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(ro);
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
    const headers: http.OutgoingHttpHeaders = { ...((ro.headers as http.OutgoingHttpHeaders | undefined) ?? {}), Accept: 'application/json' };
    if (ro.auth) headers.Authorization = `Basic ${Buffer.from(ro.auth).toString('base64')}`;
    if (body) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = body.length;
    }
    const mod = url.protocol === 'http:' ? http : https;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: ro.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) return resolve(parsed as T);
          const st = (parsed ?? {}) as { reason?: string; message?: string; details?: unknown };
          reject(new KubeError(code, st.reason ?? http.STATUS_CODES[code] ?? 'Unknown', `${method} ${url.pathname}: ${code} ${st.message ?? text.slice(0, 300)}`, st.details, st.message));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      if (body) req.write(body);
      req.end();
    });
  }
}
