import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusForOlderCrd, UNDECLARED_FIELD } from './status-compat.js';

test('statusForOlderCrd: leaves out exactly the fields this release added', () => {
  const status = {
    observedGeneration: 3, nqn: 'nqn.x:y',
    namespaces: [{ nsid: 1, incarnation: 2, backing: { file: { path: 'a.img' } }, uuid: 'u', nguid: 'n', eui64: 'e' }, { nsid: 2, volatile: true, backing: { memory: {} } }],
    retiredNamespaces: [{ nsid: 1, uuid: 'old', retiredAt: '2026-01-01T00:00:00Z' }],
    config: { servedGeneration: 3 },
    offlineNamespaces: [{ nsid: 1, path: 'a.img', reason: 'SIGBUS', since: '2026-01-01T00:00:00Z' }],
  };
  assert.deepEqual(statusForOlderCrd(status), { observedGeneration: 3, nqn: 'nqn.x:y', namespaces: [{ nsid: 1, uuid: 'u', nguid: 'n', eui64: 'e' }, { nsid: 2, volatile: true }] });
});

test('UNDECLARED_FIELD: the server-side apply error of a field the CRD lacks', () => {
  assert.match('apply status of NvmeofSubsystem a/b: 500 failed to create typed patch object (a/b; nvmeof.io/v1alpha1, Kind=NvmeofSubsystem): errors:\n  .status.namespaces[nsid=1].backing: field not declared in schema', UNDECLARED_FIELD);
});
