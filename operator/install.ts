// Installing the CRD (what `kubectl apply -f crds/` does) from code, for tests on a real cluster
// and for tools: server-side apply of each CustomResourceDefinition in a folder, then a wait until
// the apiserver reports it Established.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// js-yaml, not client-node's loadAllYaml: that one turns a CRD into client-node's model classes
// (renaming `default`, `x-kubernetes-validations`, ...), and the apiserver must get the file as written.
// For the same reason the apply is not KubernetesObjectApi.patch, which serializes the object through
// its kind's model classes (V1JSONSchemaProps reads `_default` and `x_kubernetes_validations`: the
// file's `default` and `x-kubernetes-validations` would be dropped), but the generated
// patchCustomResourceDefinition, whose body goes as it is.
import * as yaml from 'js-yaml';
import { ApiextensionsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { FIELD_MANAGER } from './kube/cluster.js';
import { apiConfiguration, DEFAULT_TIMEOUT_MS, kubeCall } from './kube/client.js';

/** The checkout's crds/ folder (this file runs as dist/operator/install.js). */
export function crdDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../crds');
}

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
}

export function readCrds(dir: string = crdDir()): Crd[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .flatMap((f) => yaml.loadAll(readFileSync(join(dir, f), 'utf8')) as Crd[])
    .filter((d) => d && d.kind === 'CustomResourceDefinition');
}

export async function installCrds(kc: KubeConfig, dir: string = crdDir(), timeoutMs = 30_000): Promise<string[]> {
  const api = new ApiextensionsV1Api(apiConfiguration(kc));
  const names: string[] = [];
  for (const crd of readCrds(dir)) {
    const name = crd.metadata.name;
    await kubeCall(`apply CustomResourceDefinition ${name}`, DEFAULT_TIMEOUT_MS, () => api.patchCustomResourceDefinition(
      { name, body: crd, fieldManager: FIELD_MANAGER, force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    ));
    names.push(name);
  }
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const got = await kubeCall(`get CustomResourceDefinition ${name}`, DEFAULT_TIMEOUT_MS, () => api.readCustomResourceDefinition({ name }));
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(got.status?.conditions)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return names;
}
