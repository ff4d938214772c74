import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installCrds, readCrds } from './install.js';
import { fakeApiserver } from './testing/fake-apiserver.js';

test('readCrds: the CRD as written (field names untouched)', () => {
  const crds = readCrds();
  assert.deepEqual(crds.map((c) => c.metadata.name), ['nvmeofsubsystems.nvmeof.io']);
  const text = JSON.stringify(crds[0]);
  assert.ok(text.includes('"x-kubernetes-validations"') && text.includes('"default"'));
});

test('installCrds applies each CRD as written and waits until it is Established', async () => {
  let gets = 0;
  const server = await fakeApiserver((req) => {
    if (req.method !== 'GET') return { body: JSON.parse(req.body) };
    gets++;
    return { body: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', status: { conditions: [{ type: 'Established', status: gets >= 2 ? 'True' : 'False' }] } } };
  });
  try {
    assert.deepEqual(await installCrds(server.kc), ['nvmeofsubsystems.nvmeof.io']);
  } finally {
    await server.close();
  }
  const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/nvmeofsubsystems.nvmeof.io';
  assert.deepEqual(server.seen.map((s) => `${s.method} ${s.url} ${s.type ?? ''}`.trim()), [
    `PATCH ${path}?fieldManager=nvmeof-operator&force=true application/apply-patch+yaml`,
    `GET ${path}`,
    `GET ${path}`,
  ]);
  // Every `default` and `x-kubernetes-validations` reaches the apiserver (client-node's model classes would drop them).
  assert.deepEqual(JSON.parse(server.seen[0].body), JSON.parse(JSON.stringify(readCrds()[0])));
});
