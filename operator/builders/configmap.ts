// The desired ConfigMap: the target's configuration file, mounted into the target pod.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { canonicalJson } from './canonical.js';
import { configMapName, labelsFor, shortHash } from './names.js';
import { ownerReference } from './owner.js';
import { CONFIG_FILE } from './paths.js';
import type { Realisation } from './target-config.js';

export function configHash(r: Realisation): string {
  return shortHash(canonicalJson(r.config), 10);
}

export function desiredConfigMapName(sub: NvmeofSubsystem, r: Realisation): string {
  return configMapName(sub.metadata.name ?? '', configHash(r));
}

export function desiredConfigMap(sub: NvmeofSubsystem, r: Realisation): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    immutable: true,
    metadata: {
      name: desiredConfigMapName(sub, r),
      namespace: sub.metadata.namespace,
      labels: labelsFor(sub, 'config'),
      ownerReferences: [ownerReference(sub)],
    },
    data: { [CONFIG_FILE]: JSON.stringify(r.config, null, 2) + '\n' },
  };
}
