// The target's HTTP endpoints: /metrics (Prometheus), /healthz (the process lives), /readyz (serving),
// /recovery (JSON: what the last start restored; schema in target/README.md).
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HttpSources {
  registry: Registry;
  /** undefined when ready, else the reason it is not (e.g. "waiting for state-file lock"). */
  notReadyReason(): string | undefined;
  recovery(): unknown;
}

export function startHttp(address: string, port: number, src: HttpSources): Promise<Server> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (url === '/metrics') {
      src.registry.metrics().then((m) => send(200, src.registry.contentType, m), (e) => send(500, 'text/plain', String(e)));
    } else if (url === '/healthz') {
      send(200, 'text/plain', 'ok\n');
    } else if (url === '/readyz') {
      const why = src.notReadyReason();
      if (why) send(503, 'text/plain', `not ready: ${why}\n`);
      else send(200, 'text/plain', 'ready\n');
    } else if (url === '/recovery') {
      send(200, 'application/json', JSON.stringify(src.recovery()) + '\n');
    } else {
      send(404, 'text/plain', 'not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
