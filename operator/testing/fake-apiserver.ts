// A stand-in apiserver for unit tests, on 127.0.0.1: it records every request (method, URL, token,
// content type, body) and answers what the test's handler says. API discovery of core/v1 and of the
// operator's group is answered by itself (client-node's KubernetesObjectApi asks for it before its
// first request of an apiVersion) and recorded apart.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { GROUP, KIND, PLURAL, VERSION } from '../api/types.js';

export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  auth?: string;
  type?: string;
  body: string;
}

/** An answer as JSON; or undefined when the handler answers on `res` itself (or never). */
export type Answer = { code?: number; body?: unknown } | undefined;

export interface FakeApiserver {
  readonly kc: KubeConfig;
  readonly seen: SeenRequest[];
  readonly discoveries: string[];
  close(): Promise<void>;
}

const DISCOVERY: Record<string, unknown> = {
  '/api/v1': {
    kind: 'APIResourceList', groupVersion: 'v1', resources: [
      { name: 'configmaps', namespaced: true, kind: 'ConfigMap', verbs: [] },
      { name: 'events', namespaced: true, kind: 'Event', verbs: [] },
      { name: 'namespaces', namespaced: false, kind: 'Namespace', verbs: [] },
      { name: 'nodes', namespaced: false, kind: 'Node', verbs: [] },
      { name: 'pods', namespaced: true, kind: 'Pod', verbs: [] },
      { name: 'pods/status', namespaced: true, kind: 'Pod', verbs: [] },
      { name: 'services', namespaced: true, kind: 'Service', verbs: [] },
    ],
  },
  [`/apis/${GROUP}/${VERSION}`]: {
    kind: 'APIResourceList', groupVersion: `${GROUP}/${VERSION}`, resources: [
      { name: PLURAL, namespaced: true, kind: KIND, verbs: [] },
      { name: `${PLURAL}/status`, namespaced: true, kind: KIND, verbs: [] },
    ],
  },
};

export function reply(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

export async function fakeApiserver(handler: (req: SeenRequest, res: http.ServerResponse) => Answer): Promise<FakeApiserver> {
  const seen: SeenRequest[] = [];
  const discoveries: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      const url = req.url ?? '';
      if (req.method === 'GET' && DISCOVERY[url]) {
        discoveries.push(url);
        return reply(res, 200, DISCOVERY[url]);
      }
      const r: SeenRequest = { method: req.method ?? '', url, body };
      if (req.headers.authorization) r.auth = req.headers.authorization;
      if (req.headers['content-type']) r.type = req.headers['content-type'];
      seen.push(r);
      const answer = handler(r, res);
      if (answer) reply(res, answer.code ?? 200, answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'tok' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kc, seen, discoveries,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A Status answer, as the apiserver gives with an error code. */
export function status(code: number, reason: string, message: string): Answer {
  return { code, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message } };
}
