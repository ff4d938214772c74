// The writes the operator makes, through @kubernetes/client-node 2.x. Owned objects go by
// server-side apply (KubernetesObjectApi.patch with PatchStrategy.ServerSideApply; fieldManager
// nvmeof-operator, force: the operator is their only rightful owner), status by server-side apply on
// the status subresource; finalizers by a merge patch carrying the resourceVersion, so a concurrent
// change to the list is a Conflict to retry, never an overwrite. The generated APIs pick a patch's
// content type themselves (JSON patch); setHeaderOptions sets the one meant.
import {
  CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions,
  type CoreV1Event, type KubeConfig, type KubernetesListObject, type KubernetesObject,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type NvmeofSubsystem, type NvmeofSubsystemStatus } from '../api/types.js';
import { apiConfiguration, DEFAULT_TIMEOUT_MS, kubeCall } from './client.js';
import { isConflict, isNotFound, KubeError, type Rest } from './rest.js';

export const FIELD_MANAGER = 'nvmeof-operator';

export interface ClusterApi {
  apply<T extends KubernetesObject>(obj: T): Promise<T>;
  /** Resolves to the resource's new resourceVersion (a status write changes it). */
  applyStatus(sub: NvmeofSubsystem, status: NvmeofSubsystemStatus): Promise<string | undefined>;
  setFinalizers(sub: NvmeofSubsystem, finalizers: string[]): Promise<void>;
  /** Merges annotations into a pod's, only while its UID is `uid` (a pod of that name made since is left alone). */
  annotatePod(namespace: string, name: string, uid: string | undefined, annotations: Record<string, string>): Promise<void>;
  /** Sets these labels on the resource, leaving its other labels as they are. */
  setLabels(sub: NvmeofSubsystem, labels: Record<string, string>): Promise<void>;
  /** Deletes unless already gone or replaced by another object of the same name (uid precondition). */
  delete(apiVersion: string, kind: string, namespace: string, name: string, uid?: string): Promise<void>;
  createEvent(ev: CoreV1Event): Promise<void>;
  patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<void>;
}

/** The kinds the operator writes: core objects, its target pods' disruption budgets and its own resource. */
function writable(apiVersion: string | undefined, kind: string | undefined): boolean {
  return Boolean(kind) && (apiVersion === 'v1' || (apiVersion === 'policy/v1' && kind === 'PodDisruptionBudget') || (apiVersion === API_VERSION && kind === KIND));
}

function describe(kind: string | undefined, namespace: string | undefined, name: string | undefined): string {
  return `${kind} ${namespace ? `${namespace}/` : ''}${name}`;
}

export class KubeClusterApi implements ClusterApi {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {
    const config = apiConfiguration(kc, timeoutMs);
    this.objects = new KubernetesObjectApi(config);
    this.custom = new CustomObjectsApi(config);
  }

  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    const what = `apply ${describe(obj.kind, obj.metadata?.namespace, obj.metadata?.name)}`;
    if (!writable(obj.apiVersion, obj.kind)) throw new Error(`the operator does not write ${obj.apiVersion} ${obj.kind}`);
    return kubeCall(what, this.timeoutMs, () => this.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }

  async applyStatus(sub: NvmeofSubsystem, status: NvmeofSubsystemStatus): Promise<string | undefined> {
    const { name = '', namespace = '' } = sub.metadata;
    const written = await kubeCall(`apply status of ${describe(KIND, namespace, name)}`, this.timeoutMs, () => this.custom.patchNamespacedCustomObjectStatus({
      group: GROUP, version: VERSION, plural: PLURAL, namespace, name,
      body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, status },
      fieldManager: FIELD_MANAGER, force: true,
    }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply)));
    return (written as NvmeofSubsystem | undefined)?.metadata?.resourceVersion;
  }

  async setFinalizers(sub: NvmeofSubsystem, finalizers: string[]): Promise<void> {
    const { name = '', namespace = '' } = sub.metadata;
    await kubeCall(`set finalizers of ${describe(KIND, namespace, name)}`, this.timeoutMs, () => this.custom.patchNamespacedCustomObject({
      group: GROUP, version: VERSION, plural: PLURAL, namespace, name,
      body: { metadata: { resourceVersion: sub.metadata.resourceVersion, finalizers } },
    }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
  }

  async setLabels(sub: NvmeofSubsystem, labels: Record<string, string>): Promise<void> {
    const { name = '', namespace = '' } = sub.metadata;
    // A merge patch of the labels alone: a user's kubectl apply (client-side, three-way) removes only the
    // labels it applied before, so the operator's label stays.
    await kubeCall(`set labels of ${describe(KIND, namespace, name)}`, this.timeoutMs, () => this.custom.patchNamespacedCustomObject({
      group: GROUP, version: VERSION, plural: PLURAL, namespace, name,
      body: { metadata: { labels } },
    }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
  }

  // A merge patch, not server-side apply: an apply of the annotation alone by the field manager that applied
  // the whole pod would give up its other fields, and a pod's spec cannot be removed. metadata.uid in the
  // patch is a precondition: the apiserver answers Conflict when the pod of that name is another one.
  async annotatePod(namespace: string, name: string, uid: string | undefined, annotations: Record<string, string>): Promise<void> {
    try {
      await kubeCall(`annotate ${describe('Pod', namespace, name)}`, this.timeoutMs, () => this.objects.patch(
        { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, annotations, ...(uid ? { uid } : {}) } },
        undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch,
      ));
    } catch (e) {
      // Gone, or replaced by another pod of that name: its successor reads the configuration at start.
      if (isNotFound(e) || isConflict(e)) return;
      throw e;
    }
  }

  async delete(apiVersion: string, kind: string, namespace: string, name: string, uid?: string): Promise<void> {
    if (apiVersion !== 'v1') throw new Error(`the operator does not delete ${apiVersion} ${kind}`);
    try {
      await kubeCall(`delete ${describe(kind, namespace, name)}`, this.timeoutMs, () => this.objects.delete(
        { apiVersion, kind, metadata: { name, namespace } }, undefined, undefined, undefined, undefined, undefined,
        { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(uid ? { preconditions: { uid } } : {}) },
      ));
    } catch (e) {
      // Gone already, or the name now belongs to another object: nothing of ours to delete.
      if (isNotFound(e) || isConflict(e)) return;
      throw e;
    }
  }

  async createEvent(ev: CoreV1Event): Promise<void> {
    await kubeCall(`create ${describe('Event', ev.metadata.namespace, ev.metadata.name)}`, this.timeoutMs, () => this.objects.create(ev));
  }

  async patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<void> {
    await kubeCall(`patch ${describe('Event', namespace, name)}`, this.timeoutMs, () => this.objects.patch(
      { apiVersion: 'v1', kind: 'Event', metadata: { name, namespace }, ...patch }, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch,
    ));
  }
}

/** GET of a list, for informers. */
export async function listObjects<T extends KubernetesObject>(rest: Rest, path: string, labelSelector?: string, fieldSelector?: string): Promise<KubernetesListObject<T>> {
  const list = await rest.request<KubernetesListObject<T>>('GET', path, { query: { labelSelector, fieldSelector } });
  if (!list || !Array.isArray(list.items)) throw new KubeError(500, 'InternalError', `GET ${path}: not a list`);
  return list;
}
