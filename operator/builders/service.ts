// The desired metrics Service: a stable name in front of the target's HTTP server (/metrics) for
// Prometheus; NVMe/TCP hosts do not use it (they connect to the endpoint in status).
import type { V1Service } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { LABEL_ROLE, LABEL_SUBSYSTEM_UID, serviceName } from './names.js';
import { ownedMetadata } from './owner.js';
import type { Realisation } from './target-config.js';

export function desiredService(sub: NvmeofSubsystem, r: Realisation): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(sub, serviceName(sub.metadata.name ?? ''), 'metrics'),
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL_SUBSYSTEM_UID]: sub.metadata.uid ?? '', [LABEL_ROLE]: 'target' },
      ports: [{ name: 'metrics', port: r.metricsPort, targetPort: r.metricsPort, protocol: 'TCP' }],
    },
  };
}
