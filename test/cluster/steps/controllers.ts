// kube-controller-manager and kube-scheduler.
import { SERVICE_CIDR } from '../layout.js';
import type { StepContext } from './context.js';

export function startControllers(ctx: StepContext): void {
  const { bins, cfg, p, startProc } = ctx;
  const cmKubeconfig = cfg('kube-controller-manager.kubeconfig');
  startProc('kube-controller-manager', bins.kubeControllerManager, [
    `--kubeconfig=${cmKubeconfig}`, `--authentication-kubeconfig=${cmKubeconfig}`, `--authorization-kubeconfig=${cmKubeconfig}`,
    '--bind-address=127.0.0.1', '--leader-elect=false', '--use-service-account-credentials=true',
    `--cluster-signing-cert-file=${p('ca', 'crt')}`, `--cluster-signing-key-file=${p('ca', 'key')}`,
    `--root-ca-file=${p('ca', 'crt')}`, `--service-account-private-key-file=${p('sa', 'key')}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`, '--allocate-node-cidrs=false', '--v=1',
  ]);
  const schedKubeconfig = cfg('kube-scheduler.kubeconfig');
  startProc('kube-scheduler', bins.kubeScheduler, [
    `--kubeconfig=${schedKubeconfig}`, `--authentication-kubeconfig=${schedKubeconfig}`, `--authorization-kubeconfig=${schedKubeconfig}`,
    '--bind-address=127.0.0.1', '--leader-elect=false', '--v=1',
  ]);
}
