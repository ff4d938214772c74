// The operator's HTTP server: /healthz (the process serves), /readyz (a follower is ready to take
// over; a leader once its caches are synced), /metrics (Prometheus text).
import http from 'node:http';

export interface HealthSources {
  ready: () => { ok: boolean; why: string };
  metrics: () => Promise<string>;
  metricsContentType: string;
}

export function startHttpServer(port: number, s: HealthSources, host = '0.0.0.0'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/healthz') return send(200, 'ok\n');
    if (path === '/readyz') {
      const r = s.ready();
      return send(r.ok ? 200 : 503, `${r.why}\n`);
    }
    if (path === '/metrics') {
      s.metrics().then((m) => send(200, m, s.metricsContentType), (e: Error) => send(500, `${e.message}\n`));
      return;
    }
    send(404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
