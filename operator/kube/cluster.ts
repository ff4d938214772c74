// The writes the operator makes, over the REST client. Owned objects and status go through
// server-side apply (fieldManager nvmeof-operator, force: the operator is their only rightful
// owner); finalizers through a merge patch carrying the resourceVersion, so a concurrent change to
// the list is a Conflict to retry, never an overwrite.
import type { CoreV1Event, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, KIND, type NvmeofSubsystem, type NvmeofSubsystemStatus } from '../api/types.js';
import { corePath, subsystemPath } from './paths.js';
import { ContentType, isConflict, isNotFound, KubeError, type Rest } from './rest.js';

export const FIELD_MANAGER = 'nvmeof-operator';

export interface ClusterApi {
  apply<T extends KubernetesObject>(obj: T): Promise<T>;
  applyStatus(sub: NvmeofSubsystem, status: NvmeofSubsystemStatus): Promise<void>;
  setFinalizers(sub: NvmeofSubsystem, finalizers: string[]): Promise<void>;
  /** Deletes unless already gone or replaced by another object of the same name (uid precondition). */
  delete(apiVersion: string, kind: string, namespace: string, name: string, uid?: string): Promise<void>;
  createEvent(ev: CoreV1Event): Promise<void>;
  patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<void>;
}

function pathOf(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name;
  if (obj.apiVersion === API_VERSION && obj.kind === KIND) return subsystemPath(ns, name);
  if (obj.apiVersion === 'v1' && obj.kind) return corePath(obj.kind, ns, name);
  throw new Error(`the operator does not write ${obj.apiVersion} ${obj.kind}`);
}

export class RestClusterApi implements ClusterApi {
  constructor(private readonly rest: Rest) {}

  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.rest.request<T>('PATCH', pathOf(obj), {
      query: { fieldManager: FIELD_MANAGER, force: true },
      body: obj,
      contentType: ContentType.apply,
    });
  }

  async applyStatus(sub: NvmeofSubsystem, status: NvmeofSubsystemStatus): Promise<void> {
    await this.rest.request('PATCH', subsystemPath(sub.metadata.namespace, sub.metadata.name, 'status'), {
      query: { fieldManager: FIELD_MANAGER, force: true },
      body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: sub.metadata.name, namespace: sub.metadata.namespace }, status },
      contentType: ContentType.apply,
    });
  }

  async setFinalizers(sub: NvmeofSubsystem, finalizers: string[]): Promise<void> {
    await this.rest.request('PATCH', subsystemPath(sub.metadata.namespace, sub.metadata.name), {
      body: { metadata: { resourceVersion: sub.metadata.resourceVersion, finalizers } },
      contentType: ContentType.merge,
    });
  }

  async delete(apiVersion: string, kind: string, namespace: string, name: string, uid?: string): Promise<void> {
    if (apiVersion !== 'v1') throw new Error(`the operator does not delete ${apiVersion} ${kind}`);
    try {
      await this.rest.request('DELETE', corePath(kind, namespace, name), {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(uid ? { preconditions: { uid } } : {}) },
      });
    } catch (e) {
      // Gone already, or the name now belongs to another object: nothing of ours to delete.
      if (isNotFound(e) || isConflict(e)) return;
      throw e;
    }
  }

  async createEvent(ev: CoreV1Event): Promise<void> {
    await this.rest.request('POST', corePath('Event', ev.metadata.namespace), { body: ev });
  }

  async patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<void> {
    await this.rest.request('PATCH', corePath('Event', namespace, name), { body: patch, contentType: ContentType.merge });
  }
}

/** GET of a list, for informers. */
export async function listObjects<T extends KubernetesObject>(rest: Rest, path: string, labelSelector?: string, fieldSelector?: string): Promise<KubernetesListObject<T>> {
  const list = await rest.request<KubernetesListObject<T>>('GET', path, { query: { labelSelector, fieldSelector } });
  if (!list || !Array.isArray(list.items)) throw new KubeError(500, 'InternalError', `GET ${path}: not a list`);
  return list;
}
