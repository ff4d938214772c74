// The desired ConfigMap: the target's configuration file, mounted into the target pod. One per subsystem,
// with a stable name and mutable: a configuration change updates it in place, and the running target
// applies the new file live (issue 20; README, "What changes live, what rolls the pod").
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { configMapName, labelsFor } from './names.js';
import { ownerReference } from './owner.js';
import { CONFIG_FILE } from './paths.js';
import type { Realisation } from './target-config.js';

export function desiredConfigMapName(sub: NvmeofSubsystem): string {
  return configMapName(sub.metadata.name ?? '');
}

/** The file's content: what the target reads and what the operator compares with the ConfigMap it holds. */
export function configFileContent(r: Realisation): string {
  return JSON.stringify(r.config, null, 2) + '\n';
}

export function desiredConfigMap(sub: NvmeofSubsystem, r: Realisation): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: desiredConfigMapName(sub),
      namespace: sub.metadata.namespace,
      labels: labelsFor(sub, 'config'),
      ownerReferences: [ownerReference(sub)],
    },
    data: { [CONFIG_FILE]: configFileContent(r) },
  };
}
