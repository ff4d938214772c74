import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOfflineNamespaces, parseRecovery, RecoveryFormatError } from './recovery.js';

test('parseRecovery: the target document maps to status.recovery', () => {
  const doc = {
    count: 5, outcomes: { fresh: 1, clean: 1, restored: 3, corrupt: 0 }, bootCount: 5,
    last: { outcome: 'restored', startedAt: '2026-01-02T03:04:05.678Z', durationSeconds: 0.12, restoredControllers: 2, inflightAbandoned: 1 },
  };
  assert.deepEqual(parseRecovery(doc), {
    count: 5, bootCount: 5, outcomes: { fresh: 1, clean: 1, restored: 3, corrupt: 0 },
    lastOutcome: 'restored', lastTime: '2026-01-02T03:04:05.678Z', lastDurationSeconds: 0.12, lastRestoredControllers: 2, lastInflightAbandoned: 1,
  });
});

test('parseRecovery: no last recovery yet', () => {
  assert.deepEqual(parseRecovery({ count: 0, outcomes: {}, bootCount: 1, last: null }), {
    count: 0, bootCount: 1, outcomes: { fresh: 0, clean: 0, restored: 0, corrupt: 0 },
  });
});

test('parseRecovery: workerRestarts with in-pod resume, absent without it', () => {
  const plain = { count: 2, outcomes: { fresh: 1, restored: 1 }, bootCount: 2, last: null };
  const resume = { workerPid: 7, workerStarts: 3, workerRestarts: 1, connectionsResumed: 2, commandsRedone: 0, completionsRepublished: 0, last: null };
  const cases: Array<[string, unknown, number | undefined]> = [
    ['without in-pod resume', plain, undefined],
    ['none yet', { ...plain, workerRestarts: 0, resume: { ...resume, workerRestarts: 0 } }, 0],
    ['one', { ...plain, workerRestarts: 1, resume }, 1],
    ['many', { ...plain, workerRestarts: 50, resume: { ...resume, workerRestarts: 50 } }, 50],
  ];
  for (const [what, doc, want] of cases) {
    const st = parseRecovery(doc);
    assert.equal(st.workerRestarts, want, what);
    assert.equal('workerRestarts' in st, want !== undefined, `${what}: the field is absent, not undefined`);
    assert.equal(st.count, 2, what);
  }
});

test('parseRecovery: workerHangs from resume.workerHangs, absent where the target does not report it', () => {
  const plain = { count: 2, outcomes: { fresh: 1, restored: 1 }, bootCount: 2, last: null };
  const resume = { workerPid: 7, workerStarts: 5, workerRestarts: 4, connectionsResumed: 2, commandsRedone: 0, completionsRepublished: 0, last: null };
  assert.equal(parseRecovery({ ...plain, workerRestarts: 4, resume: { ...resume, workerHangs: 3 } }).workerHangs, 3);
  assert.equal(parseRecovery({ ...plain, workerRestarts: 4, resume: { ...resume, workerHangs: 0 } }).workerHangs, 0);
  assert.equal('workerHangs' in parseRecovery({ ...plain, workerRestarts: 4, resume }), false, 'an older target: left out');
  assert.equal('workerHangs' in parseRecovery(plain), false, 'without in-pod resume: left out');
});

test('parseRecovery: malformed documents are refused whole', () => {
  const good = { count: 1, outcomes: { fresh: 1 }, bootCount: 1, last: { outcome: 'fresh', startedAt: '2026-01-01T00:00:00Z', durationSeconds: 0 } };
  const bad: unknown[] = [
    null, [], 'x', { ...good, count: -1 }, { ...good, count: 1.5 }, { ...good, outcomes: [] }, { ...good, bootCount: undefined },
    { ...good, outcomes: { fresh: 'a' } }, { ...good, last: { ...good.last, outcome: 'exploded' } },
    { ...good, last: { ...good.last, startedAt: 'yesterday' } }, { ...good, last: { ...good.last, durationSeconds: -1 } },
    { ...good, workerRestarts: -1 }, { ...good, workerRestarts: 0.5 }, { ...good, workerRestarts: '1' }, { ...good, workerRestarts: null },
    { ...good, resume: [] }, { ...good, resume: { workerHangs: -1 } }, { ...good, resume: { workerHangs: 'x' } },
  ];
  for (const d of bad) assert.throws(() => parseRecovery(d), RecoveryFormatError, JSON.stringify(d));
  assert.equal(parseRecovery(good).lastOutcome, 'fresh');
});

test('parseOfflineNamespaces: the target\'s `offline` list maps to status.offlineNamespaces, a malformed one is refused', () => {
  const since = '2026-01-02T03:04:05.678Z';
  assert.equal(parseOfflineNamespaces({}), undefined, 'an older target says nothing');
  assert.deepEqual(parseOfflineNamespaces({ offline: [] }), []);
  assert.deepEqual(
    parseOfflineNamespaces({ offline: [{ subsystem: 'nqn.x:y', nsid: 2, path: '/d/ns2.img', reason: 'SIGBUS on ...', since }, { subsystem: 'nqn.x:y', nsid: 3, reason: 'r', since }] }),
    [{ nsid: 2, path: '/d/ns2.img', reason: 'SIGBUS on ...', since }, { nsid: 3, reason: 'r', since }],
  );
  const bad: Array<[string, unknown]> = [
    ['not a list', { offline: {} }],
    ['nsid', { offline: [{ nsid: -1, reason: 'r', since }] }],
    ['reason', { offline: [{ nsid: 1, since }] }],
    ['path', { offline: [{ nsid: 1, path: 7, reason: 'r', since }] }],
    ['since', { offline: [{ nsid: 1, reason: 'r', since: 'yesterday' }] }],
  ];
  for (const [name, doc] of bad) assert.throws(() => parseOfflineNamespaces(doc), RecoveryFormatError, name);
});
