import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installCrds, readCrds } from './install.js';
import type { RequestOptions, Rest } from './kube/rest.js';

test('readCrds: the CRD as written (field names untouched)', () => {
  const crds = readCrds();
  assert.deepEqual(crds.map((c) => c.metadata.name), ['nvmeofsubsystems.nvmeof.io']);
  const text = JSON.stringify(crds[0]);
  assert.ok(text.includes('"x-kubernetes-validations"') && text.includes('"default"'));
});

test('installCrds applies each CRD and waits until it is Established', async () => {
  const calls: string[] = [];
  let gets = 0;
  const rest: Rest = {
    async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
      calls.push(`${method} ${path} ${opts.contentType ?? ''}`.trim());
      if (method === 'GET') {
        gets++;
        return { status: { conditions: [{ type: 'Established', status: gets >= 2 ? 'True' : 'False' }] } } as T;
      }
      return {} as T;
    },
  };
  assert.deepEqual(await installCrds(rest), ['nvmeofsubsystems.nvmeof.io']);
  assert.deepEqual(calls, [
    'PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/nvmeofsubsystems.nvmeof.io application/apply-patch+yaml',
    'GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/nvmeofsubsystems.nvmeof.io',
    'GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/nvmeofsubsystems.nvmeof.io',
  ]);
});
