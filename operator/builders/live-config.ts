// The reconcile decisions of live configuration (issue 20), for plan.ts: whether the running pod is kept,
// what a roll is named by, and how a new configuration reaches the running target. Pure.
//
// Invariants:
// - a pod is replaced only when what rolls changed (its hash, pod.ts) or, for a pod of a release before
//   live configuration, when that release would have replaced it (legacy.ts);
// - a configuration reaches a running target only through the subsystem's stable ConfigMap, and only a
//   pod that mounts it (so one built by this release, with this release's target image: another image
//   rolls the pod) is told of it, by its annotation nvmeof.io/config-generation: the update makes the
//   kubelet sync the pod at once and refresh the ConfigMap volume (issue 20's contract, 4); no other
//   channel reaches the target, and none is open to NVMe hosts;
// - a pod of an earlier release is never told (its target may not reload), and its ConfigMap is left alone.
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { validateConfig, type TargetConfig } from '../../target/contract.js';
import type { Action } from './actions.js';
import { configFileContent } from './configmap.js';
import { isLegacyPod, legacyPodCurrent } from './legacy.js';
import { classifyChange, configChanges } from './live-change.js';
import { ANNOTATION_CONFIG_GENERATION, ANNOTATION_SPEC_HASH } from './names.js';
import { configMapsOf, desiredPod } from './pod.js';
import { CONFIG_FILE } from './paths.js';
import type { TargetSettings } from './settings.js';
import type { Realisation } from './target-config.js';

/** The configuration a ConfigMap holds, if it is one the target would take. */
export function configOf(cm: V1ConfigMap | undefined): TargetConfig | undefined {
  const text = cm?.data?.[CONFIG_FILE];
  if (text === undefined) return undefined;
  try {
    return validateConfig(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The hash the running pod must carry to be kept: its own when it is a current pod of an earlier release. */
export function keptHash(pod: V1Pod, sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation, desiredHash: string): string {
  return isLegacyPod(pod, sub) && legacyPodCurrent(pod, sub, settings, r) ? pod.metadata?.annotations?.[ANNOTATION_SPEC_HASH] ?? desiredHash : desiredHash;
}

/** Why a pod is replaced, naming what changed (for the PodReplaced event). */
export function rollReason(pod: V1Pod, sub: NvmeofSubsystem, settings: TargetSettings, r: Realisation, configMaps: readonly V1ConfigMap[], pinnedNode?: string): string {
  const want = desiredPod(sub, settings, r, { name: '', ...(pinnedNode ? { pinnedNode } : {}) });
  const held = configOf(configMaps.find((c) => configMapsOf(pod).includes(c.metadata?.name ?? '')));
  const change = classifyChange({ pod: pod.spec ?? { containers: [] }, config: held ?? r.config }, { pod: want.spec!, config: r.config });
  const legacy = isLegacyPod(pod, sub) ? ' (a pod of a release before live configuration)' : '';
  return change.roll.length ? `changed: ${change.roll.join(', ')}${legacy}` : `the pod's template changed${legacy}`;
}

/**
 * The ConfigMap to apply (when what the cache holds differs), and for a kept pod of this release the
 * annotation that tells the kubelet, with a Normal event naming the live changes. `rolling` says the pod
 * is being replaced: its successor reads the new file at start, so it is not told.
 */
export function publishConfig(sub: NvmeofSubsystem, r: Realisation, configMaps: readonly V1ConfigMap[], kept: V1Pod | undefined, desired: V1ConfigMap): Action[] {
  const held = configMaps.find((c) => c.metadata?.name === desired.metadata?.name);
  const actions: Action[] = [];
  const content = configFileContent(r);
  if (held?.data?.[CONFIG_FILE] !== content) actions.push({ kind: 'apply', object: desired });
  if (!kept || isLegacyPod(kept, sub)) return actions;
  const generation = String(r.config.generation ?? 0);
  if (kept.metadata?.annotations?.[ANNOTATION_CONFIG_GENERATION] === generation) return actions;
  actions.push({ kind: 'annotatePod', name: kept.metadata?.name ?? '', uid: kept.metadata?.uid, annotations: { [ANNOTATION_CONFIG_GENERATION]: generation } });
  const before = configOf(held);
  const live = before ? configChanges(before, r.config).live : [];
  if (live.length) {
    actions.push({ kind: 'event', type: 'Normal', reason: 'ConfigUpdated', message: `generation ${generation} to the running target in pod ${kept.metadata?.name}, live: ${live.join(', ')}` });
  }
  return actions;
}
