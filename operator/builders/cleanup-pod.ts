// The short-lived pod that removes a subsystem's directory from its node when the resource is deleted
// with reclaimPolicy Delete. It runs on the node that holds the directory (the same pin as the
// target), tolerates every taint (a cordoned or tainted node still gets cleaned), mounts only the
// namespace's directory and removes the one entry named after the resource. It uses the target
// image, which has node and nothing else to trust.
import type { V1Pod } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { cleanupPodName, labelsFor } from './names.js';
import { ownerReference } from './owner.js';
import { pinAffinity } from './pod.js';
import type { TargetSettings } from './settings.js';

const MOUNT = '/nvmeof-namespace';
// rmSync does not follow symlinks: a link inside the directory is removed, not its target.
const SCRIPT = "require('node:fs').rmSync(process.argv[1], { recursive: true, force: true })";

export function desiredCleanupPod(sub: NvmeofSubsystem, settings: TargetSettings, node: string, hostDir: string): V1Pod {
  const name = sub.metadata.name ?? '';
  const namespaceDir = hostDir.slice(0, hostDir.length - name.length - 1);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: cleanupPodName(name),
      namespace: sub.metadata.namespace,
      labels: labelsFor(sub, 'cleanup'),
      // The owner is being deleted: do not make its deletion wait for this pod.
      ownerReferences: [ownerReference(sub, false)],
    },
    spec: {
      restartPolicy: 'Never',
      affinity: pinAffinity(node),
      tolerations: [{ operator: 'Exists' }],
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 5,
      containers: [{
        name: 'cleanup',
        image: settings.image,
        imagePullPolicy: settings.imagePullPolicy,
        command: ['node', '-e', SCRIPT, `${MOUNT}/${name}`],
        // A failed removal's error (EACCES, EBUSY, ...) is the tail of its log: the kubelet makes it the
        // termination message, which the CleanupBlocked condition quotes.
        terminationMessagePolicy: 'FallbackToLogsOnError',
        securityContext: {
          privileged: false, runAsUser: 0, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        },
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
        volumeMounts: [{ name: 'namespace-dir', mountPath: MOUNT }],
      }],
      volumes: [{ name: 'namespace-dir', hostPath: { path: namespaceDir, type: 'DirectoryOrCreate' } }],
    },
  };
}
