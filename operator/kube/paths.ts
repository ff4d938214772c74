// REST paths of the kinds the operator touches.
import { GROUP, PLURAL, VERSION } from '../api/types.js';

const CORE_PLURALS: Record<string, string> = {
  Pod: 'pods', ConfigMap: 'configmaps', Service: 'services', Event: 'events', Namespace: 'namespaces', Node: 'nodes',
};

export function corePath(kind: string, namespace?: string, name?: string): string {
  const plural = CORE_PLURALS[kind];
  if (!plural) throw new Error(`no REST path known for kind ${kind}`);
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `/api/v1${ns}/${plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

export function subsystemPath(namespace?: string, name?: string, subresource?: 'status'): string {
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `/apis/${GROUP}/${VERSION}${ns}/${PLURAL}${name ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
}

export function leasePath(namespace: string, name?: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name ? `/${encodeURIComponent(name)}` : ''}`;
}

export function crdPath(name?: string): string {
  return `/apis/apiextensions.k8s.io/v1/customresourcedefinitions${name ? `/${encodeURIComponent(name)}` : ''}`;
}
