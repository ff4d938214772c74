// kube-proxy (iptables mode), in the cluster's network namespace.
import { writeFileSync } from 'node:fs';
import { POD_CIDR } from '../layout.js';
import type { StepContext } from './context.js';

export function startKubeProxy(ctx: StepContext): void {
  const { l, bins, cfg, nodeName, startProc } = ctx;
  writeFileSync(
    cfg('kube-proxy.yaml'),
    `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: "${cfg('kube-proxy.kubeconfig')}"
mode: iptables
clusterCIDR: "${POD_CIDR}"
hostnameOverride: "${nodeName}"
bindAddress: ${l.nodeIP}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`,
  );
  startProc('kube-proxy', bins.kubeProxy, [`--config=${cfg('kube-proxy.yaml')}`, '--v=1']);
}
