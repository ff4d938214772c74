// Installing the CRD (what `kubectl apply -f crds/` does) from code, for tests on a real cluster
// and for tools: server-side apply of each CustomResourceDefinition in a folder, then a wait until
// the apiserver reports it Established.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// js-yaml, not client-node's loadAllYaml: that one turns a CRD into client-node's model classes
// (renaming `default`, `x-kubernetes-validations`, ...), and the apiserver must get the file as written.
import * as yaml from 'js-yaml';
import { FIELD_MANAGER } from './kube/cluster.js';
import { crdPath } from './kube/paths.js';
import { ContentType, type Rest } from './kube/rest.js';

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

export async function installCrds(rest: Rest, dir: string = crdDir(), timeoutMs = 30_000): Promise<string[]> {
  const names: string[] = [];
  for (const crd of readCrds(dir)) {
    await rest.request('PATCH', crdPath(crd.metadata.name), { query: { fieldManager: FIELD_MANAGER, force: true }, body: crd, contentType: ContentType.apply });
    names.push(crd.metadata.name);
  }
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const got = await rest.request<Crd>('GET', crdPath(name));
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(got.status?.conditions)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return names;
}
