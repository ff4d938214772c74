// kube-apiserver, and requests to it as admin; resolves once it is ready.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { SERVICE_CIDR } from '../layout.js';
import type { StepContext } from './context.js';

export interface Apiserver {
  /** its flags (restartApiserver starts it again with them) */
  apiserverArgs: string[];
  /** GET as admin: the status and body, whatever the status */
  apiRequest(path: string): Promise<{ status: number; body: string }>;
  /** GET as admin: the parsed JSON; rejects on a status >= 400 */
  apiGet(path: string): Promise<unknown>;
}

export async function startApiserver(ctx: StepContext): Promise<Apiserver> {
  const { l, bins, p, server, startProc, waitFor } = ctx;
  const apiserverArgs = [
    `--advertise-address=${l.nodeIP}`, '--bind-address=0.0.0.0', '--secure-port=6443',
    '--etcd-servers=http://127.0.0.1:2379',
    '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    `--client-ca-file=${p('ca', 'crt')}`,
    `--tls-cert-file=${p('kube-apiserver', 'crt')}`, `--tls-private-key-file=${p('kube-apiserver', 'key')}`,
    `--kubelet-client-certificate=${p('apiserver-kubelet-client', 'crt')}`,
    `--kubelet-client-key=${p('apiserver-kubelet-client', 'key')}`,
    '--kubelet-preferred-address-types=InternalIP',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${p('sa', 'pub')}`, `--service-account-signing-key-file=${p('sa', 'key')}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    // The aggregation layer's front proxy, as kubeadm sets it up (the controllers read its CA).
    `--requestheader-client-ca-file=${p('front-proxy-ca', 'crt')}`, '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${p('front-proxy-client', 'crt')}`, `--proxy-client-key-file=${p('front-proxy-client', 'key')}`,
    '--profiling=false', '--v=1',
  ];
  startProc('kube-apiserver', bins.kubeApiserver, apiserverArgs);
  const ca = readFileSync(p('ca', 'crt'));
  const cert = readFileSync(p('admin', 'crt'));
  const key = readFileSync(p('admin', 'key'));
  const apiRequest = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(`${server}${path}`, { ca, cert, key, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  const apiGet = async (path: string): Promise<unknown> => {
    const r = await apiRequest(path);
    if (r.status >= 400) throw new Error(`GET ${path}: ${r.status} ${r.body.slice(0, 500)}`);
    return JSON.parse(r.body);
  };
  await waitFor('kube-apiserver /readyz', async () => (await apiRequest('/readyz')).status === 200);
  return { apiserverArgs, apiRequest, apiGet };
}
