// Certificates and kubeconfigs: the CAs, one identity a component, the admin's kubeconfig.
import { join } from 'node:path';
import { SERVICE_IP } from '../layout.js';
import type { StepContext } from './context.js';

/** Returns the admin kubeconfig's path. */
export function issueCertificates(ctx: StepContext): string {
  const { l, cfg, pki, nodeName, server } = ctx;
  pki.init();
  pki.issue({
    name: 'kube-apiserver', cn: 'kube-apiserver', server: true,
    dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost', nodeName],
    ips: [l.nodeIP, SERVICE_IP, '127.0.0.1'],
  });
  pki.issue({ name: 'apiserver-kubelet-client', cn: 'kube-apiserver-kubelet-client', org: 'system:masters', client: true });
  pki.issue({ name: 'front-proxy-client', cn: 'front-proxy-client', client: true, ca: 'front-proxy-ca' });
  pki.issue({ name: 'admin', cn: 'nvmeof-admin', org: 'system:masters', client: true });
  pki.issue({ name: 'kube-controller-manager', cn: 'system:kube-controller-manager', client: true });
  pki.issue({ name: 'kube-scheduler', cn: 'system:kube-scheduler', client: true });
  pki.issue({ name: 'kube-proxy', cn: 'system:kube-proxy', client: true });
  pki.issue({ name: 'kubelet-client', cn: `system:node:${nodeName}`, org: 'system:nodes', client: true });
  pki.issue({ name: 'kubelet', cn: nodeName, server: true, dns: [nodeName, 'localhost'], ips: [l.nodeIP, '127.0.0.1'] });
  const kubeconfig = join(l.stateDir, 'admin.kubeconfig');
  pki.kubeconfig(kubeconfig, server, 'admin', 'admin');
  // The components talk to the API server on the namespace's loopback.
  const local = 'https://127.0.0.1:6443';
  pki.kubeconfig(cfg('kube-controller-manager.kubeconfig'), local, 'kube-controller-manager', 'system:kube-controller-manager');
  pki.kubeconfig(cfg('kube-scheduler.kubeconfig'), local, 'kube-scheduler', 'system:kube-scheduler');
  pki.kubeconfig(cfg('kube-proxy.kubeconfig'), local, 'kube-proxy', 'system:kube-proxy');
  pki.kubeconfig(cfg('kubelet.kubeconfig'), local, 'kubelet-client', `system:node:${nodeName}`);
  return kubeconfig;
}
