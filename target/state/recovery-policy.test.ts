import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyStateFile, controllersToKeep, nextCntlid, settleInflight, type FileDecision, type FileFacts } from './recovery-policy.js';
import type { NamespaceChanges } from './namespace-changes.js';
import type { InflightRecord } from './types.js';

interface Want {
  action: FileDecision['action'];
  outcome?: string;
  reason?: RegExp;
  changes?: NamespaceChanges;
}

const grown: NamespaceChanges = { added: [3], removed: [2], grown: [{ nsid: 1, fromBytes: 16777216, toBytes: 33554432 }], shrunk: [], replaced: [] };

test('classifyStateFile', () => {
  const ok: FileFacts = { exists: true, layoutVersion: 3, identityMatches: true, cleanShutdown: false, capacityMatches: true };
  const table: Array<[string, FileFacts, Want]> = [
    ['no file', { exists: false }, { action: 'create', outcome: 'fresh' }],
    ['truncated below the header', { exists: true, headerProblem: 'truncated: 100 bytes' }, { action: 'set-aside', outcome: 'corrupt', reason: /truncated/ }],
    ['torn header in both slots', { exists: true, headerProblem: 'torn header: no header slot passes its CRC' }, { action: 'set-aside', reason: /torn/ }],
    ['garbage', { exists: true, headerProblem: 'garbage' }, { action: 'set-aside', outcome: 'corrupt' }],
    ['newer layout', { ...ok, layoutVersion: 4, identityMatches: undefined }, { action: 'refuse', reason: /newer than this binary's 3: refusing to serve/ }],
    ['newer layout beats a body problem', { exists: true, layoutVersion: 9, bodyProblem: 'x' }, { action: 'refuse' }],
    ['layout too old', { exists: true, layoutVersion: 0 }, { action: 'set-aside', reason: /older than any/ }],
    ['another subsystem', { ...ok, identityMatches: false, fileNqn: 'nqn.2024-01.io.x:other' }, { action: 'set-aside', outcome: 'corrupt', reason: /another subsystem's state \(the file belongs to nqn.2024-01.io.x:other\)/ }],
    ['truncated body', { ...ok, bodyProblem: 'truncated: 8192 bytes, the header says 16384' }, { action: 'set-aside', reason: /truncated/ }],
    ['damaged controller', { ...ok, bodyProblem: 'controller record 2: both slots damaged' }, { action: 'set-aside', reason: /damaged/ }],
    ['died', ok, { action: 'use', outcome: 'restored' }],
    ['clean shutdown', { ...ok, cleanShutdown: true }, { action: 'use', outcome: 'clean' }],
    ['capacity changed', { ...ok, capacityMatches: false }, { action: 'resize', outcome: 'restored' }],
    ['older layout, died', { ...ok, layoutVersion: 1, capacityMatches: undefined }, { action: 'migrate', outcome: 'restored' }],
    ['older layout, clean', { ...ok, layoutVersion: 1, cleanShutdown: true }, { action: 'migrate', outcome: 'clean' }],
    ['older layout, another subsystem', { ...ok, layoutVersion: 1, identityMatches: false }, { action: 'set-aside' }],
    ['layout 3: the NQN matches, namespaces changed (live or not): kept, rewritten', { ...ok, namespaceChanges: grown }, { action: 'resize', outcome: 'restored', changes: grown }],
    ['layout 2, same namespaces: migrated', { ...ok, layoutVersion: 2 }, { action: 'migrate', outcome: 'restored' }],
    ['layout 2, namespaces changed: migrated with the changes', { ...ok, layoutVersion: 2, identityMatches: false, nqnMatches: true, namespaceChanges: grown }, { action: 'migrate', outcome: 'restored', changes: grown }],
    ['namespaces changed: kept, rewritten', { ...ok, identityMatches: false, nqnMatches: true, namespaceChanges: grown }, { action: 'resize', outcome: 'restored', changes: grown }],
    ['namespaces changed, clean', { ...ok, identityMatches: false, nqnMatches: true, cleanShutdown: true, namespaceChanges: grown }, { action: 'resize', outcome: 'clean', changes: grown }],
    ['older layout, namespaces changed', { ...ok, layoutVersion: 1, identityMatches: false, namespaceChanges: grown }, { action: 'migrate', outcome: 'restored', changes: grown }],
    ['namespaces changed but the body is damaged', { ...ok, identityMatches: false, nqnMatches: true, namespaceChanges: grown, bodyProblem: 'allocator record 0 missing' }, { action: 'set-aside', reason: /allocator/ }],
    ['same NQN, records disagree with the digest', { ...ok, identityMatches: false, nqnMatches: true, fileNqn: 'nqn.x' }, { action: 'set-aside', reason: /own NQN and namespace records: damaged/ }],
  ];
  for (const [name, facts, want] of table) {
    const got = classifyStateFile(facts);
    assert.equal(got.action, want.action, name);
    if (want.outcome) assert.equal((got as { outcome?: string }).outcome, want.outcome, name);
    if (want.reason) assert.match((got as { reason: string }).reason, want.reason, name);
    assert.deepEqual((got as { namespaceChanges?: NamespaceChanges }).namespaceChanges, want.changes, name);
  }
});

test('settleInflight abandons every stage of every command and replays none', () => {
  const stages = ['received', 'data-in', 'executing', 'done-but-unsent'] as const;
  const records: InflightRecord[] = [];
  for (const opcode of [0x01, 0x02, 0x00]) {
    for (const stage of stages) records.push({ qpairSlot: 1, cid: records.length, opcode, nsid: 1, slba: 8, nlb: 7, stage });
  }
  const r = settleInflight(records, 'abandon');
  assert.deepEqual(r.abandon, records);
  assert.deepEqual(r.replay, []);
  assert.deepEqual(settleInflight([]), { abandon: [], replay: [] });
});

test('controllersToKeep drops controllers whose host stayed away longer than the controller-loss time', () => {
  const now = 1_000_000;
  const c = (name: string, lastSeenMs: number) => ({ name, record: { lastSeenMs } });
  const table: Array<[number, Array<ReturnType<typeof c>>, string[], string[]]> = [
    [600_000, [c('recent', now - 1000), c('old', now - 600_001), c('edge', now - 600_000)], ['recent', 'edge'], ['old']],
    [0, [c('now', now), c('1ms', now - 1)], ['now'], ['1ms']],
    [600_000, [c('future', now + 50_000)], ['future'], []],
    [-1, [c('ancient', 0)], ['ancient'], []],
    [600_000, [], [], []],
  ];
  for (const [tmo, ctrls, keep, drop] of table) {
    const r = controllersToKeep(ctrls, now, tmo);
    assert.deepEqual(r.keep.map((x) => x.name), keep);
    assert.deepEqual(r.drop.map((x) => x.name), drop);
  }
});

test('nextCntlid is monotonic, skips live cntlids and wraps 0xFFEF to 1', () => {
  const table: Array<[number, number[], { cntlid: number; next: number } | undefined]> = [
    [1, [], { cntlid: 1, next: 2 }],
    [5, [5, 6], { cntlid: 7, next: 8 }],
    [0xffef, [], { cntlid: 0xffef, next: 1 }],
    [0xffef, [0xffef, 1], { cntlid: 2, next: 3 }],
    [0, [], { cntlid: 1, next: 2 }],
    [0xfff5, [], { cntlid: 1, next: 2 }],
    [3, [1, 2], { cntlid: 3, next: 4 }],
  ];
  for (const [next, live, want] of table) assert.deepEqual(nextCntlid(next, new Set(live)), want, `next ${next}, live ${live}`);
  const all = new Set(Array.from({ length: 0xffef }, (_, i) => i + 1));
  assert.equal(nextCntlid(10, all), undefined);
  all.delete(4);
  assert.deepEqual(nextCntlid(10, all), { cntlid: 4, next: 5 });
});
