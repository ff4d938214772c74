import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRecoveryReport } from './recovery-report.js';

test('the /recovery report from a header', () => {
  const table = [
    {
      name: 'after a restore',
      header: {
        outcomes: { fresh: 1, clean: 3, restored: 10, corrupt: 1 }, bootCount: 15,
        last: { outcome: 'restored' as const, startedAtMs: Date.UTC(2026, 0, 2, 3, 4, 5, 678), durationMs: 120.4, restoredControllers: 2, inflightAbandoned: 5, inflightFound: 6 },
      },
      want: {
        count: 13, outcomes: { fresh: 1, clean: 3, restored: 10, corrupt: 1 }, bootCount: 15,
        last: { outcome: 'restored', startedAt: '2026-01-02T03:04:05.678Z', durationSeconds: 0.12, restoredControllers: 2, inflightAbandoned: 5 },
      },
    },
    {
      name: 'before the first recovery was recorded',
      header: { outcomes: { fresh: 1, clean: 0, restored: 0, corrupt: 0 }, bootCount: 1, last: null },
      want: { count: 0, outcomes: { fresh: 1, clean: 0, restored: 0, corrupt: 0 }, bootCount: 1, last: null },
    },
  ];
  for (const { name, header, want } of table) {
    const r = buildRecoveryReport(header);
    assert.deepEqual(r, want, name);
    assert.deepEqual(JSON.parse(JSON.stringify(r)), want, `${name}: survives JSON`);
  }
});

test('the /recovery report names the namespace changes of the start it reports', () => {
  const header = {
    outcomes: { fresh: 1, clean: 3, restored: 0, corrupt: 0 }, bootCount: 4,
    last: { outcome: 'clean' as const, startedAtMs: Date.UTC(2026, 0, 2), durationMs: 10, restoredControllers: 0, inflightAbandoned: 0, inflightFound: 0 },
  };
  const changes = { added: [3], removed: [2], grown: [{ nsid: 1, fromBytes: 16777216, toBytes: 33554432 }], shrunk: [], replaced: [] };
  const r = buildRecoveryReport(header, changes);
  assert.deepEqual(r.last?.namespaceChanges, { summary: 'added nsid 3; removed nsid 2; nsid 1 grew 16777216 -> 33554432 bytes', ...changes });
  assert.equal(r.count, 3, 'the counters are the header\'s: a namespace change resets nothing');
  const none = { added: [], removed: [], grown: [], shrunk: [], replaced: [] };
  assert.equal('namespaceChanges' in (buildRecoveryReport(header, none).last ?? {}), false, 'no change, no field');
  assert.equal(buildRecoveryReport({ ...header, last: null }, changes).last, null);
});
