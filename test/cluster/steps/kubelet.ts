// kubelet: its cgroup (cpuset seeded from the root's), its config, its start.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT, POD_CIDR } from '../layout.js';
import { cgroupHierarchies } from '../stop.js';
import type { StepContext } from './context.js';

export function startKubelet(ctx: StepContext): void {
  const { l, bins, cfg, p, nodeName, startProc } = ctx;
  for (const h of cgroupHierarchies()) {
    const d = join(CGROUP_ROOT, h, l.cgroupName);
    mkdirSync(d, { recursive: true });
    if (h === 'cpuset') {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(d, f), readFileSync(join(CGROUP_ROOT, h, f)));
    }
  }
  // Pods' DNS. The cluster has no DNS server: no CoreDNS image can be had here, and CoreDNS built
  // from the module proxy does not fit in this module (1.12.1, kubeadm's pairing for 1.34, does not
  // compile against client-go 0.34; later ones raise grpc, otel, x/net and 20 more of Kubernetes'
  // own dependencies). Pods need none: they reach the API server by KUBERNETES_SERVICE_HOST, Services
  // by IP, their own name by /etc/hosts. With clusterDNS empty, the kubelet warns MissingClusterDNS,
  // on the node and on every pod that asks for cluster DNS (ClusterFirst, the default, and the target
  // pods' ClusterFirstWithHostNet), then gives it `nameserver 127.0.0.1` all the same. So clusterDNS
  // says that here, once: 127.0.0.1, the pod's own loopback (the node's, for host-network pods),
  // where nothing listens on port 53, so a lookup fails at once (connection refused), not after a
  // timeout as with an address nobody answers; pods get the cluster's search path, and no Warning.
  // resolvConf "": no host resolvers either (the namespace has no route out to them).
  writeFileSync(
    cfg('kubelet.yaml'),
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${l.nodeIP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "${p('ca', 'crt')}"}
authorization:
  mode: Webhook
tlsCertFile: "${p('kubelet', 'crt')}"
tlsPrivateKeyFile: "${p('kubelet', 'key')}"
containerRuntimeEndpoint: "unix://${l.containerdSock}"
cgroupDriver: cgroupfs
cgroupRoot: "/${l.cgroupName}"
failCgroupV1: false
failSwapOn: false
podCIDR: "${POD_CIDR}"
# No cluster DNS: each pod's own loopback, where nothing serves (see cluster.ts).
clusterDNS: ["127.0.0.1"]
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: "${join(l.stateDir, 'pod-logs')}"
registerNode: true
rotateCertificates: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
runtimeRequestTimeout: 10m
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
`,
  );
  startProc('kubelet', bins.kubelet, [
    `--config=${cfg('kubelet.yaml')}`, `--kubeconfig=${cfg('kubelet.kubeconfig')}`,
    `--root-dir=${join(l.stateDir, 'kubelet')}`, `--cert-dir=${join(l.stateDir, 'kubelet/pki')}`,
    `--hostname-override=${nodeName}`, `--node-ip=${l.nodeIP}`, '--v=1',
  ]);
}
