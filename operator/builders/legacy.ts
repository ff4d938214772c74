// Target pods of the releases before live configuration (issue 20's upgrade): each mounts an immutable
// ConfigMap named by a hash of its whole configuration, and its target may be too old to reload a file.
// Such a pod is kept, untouched, while it is what that release would have built from the current spec:
// an operator upgrade rolls no pod by itself. The next change of the spec that changes the pod or the
// configuration (any change a target of the new scheme would apply live, too) rolls it once into the
// new scheme; no configuration is ever pushed to it (README, "Upgrade").
import type { V1Pod } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { canonicalJson } from './canonical.js';
import { desiredConfigMapName } from './configmap.js';
import { ANNOTATION_SPEC_HASH, legacyConfigMapName, shortHash } from './names.js';
import { configMapsOf, legacyPodSpecHash } from './pod.js';
import type { TargetSettings } from './settings.js';
import type { Realisation } from './target-config.js';

/** A pod that does not mount the subsystem's stable ConfigMap was built by a release before live configuration. */
export function isLegacyPod(pod: V1Pod, sub: NvmeofSubsystem): boolean {
  return !configMapsOf(pod).includes(desiredConfigMapName(sub));
}

/** The name that release gave the ConfigMap of this realisation: a hash of its configuration, which had no generation. */
export function legacyConfigMapNameOf(sub: NvmeofSubsystem, r: Realisation): string {
  const { generation: _generation, ...config } = r.config;
  return legacyConfigMapName(sub.metadata.name ?? '', shortHash(canonicalJson(config), 10));
}

/** A legacy pod that release would not replace: the same template and the same configuration. */
export function legacyPodCurrent(pod: V1Pod, sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation): boolean {
  const name = legacyConfigMapNameOf(sub, r);
  return configMapsOf(pod).includes(name) && pod.metadata?.annotations?.[ANNOTATION_SPEC_HASH] === legacyPodSpecHash(sub, settings, r, name);
}
