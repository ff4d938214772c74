import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findPortConflicts, type NodeInfo, type PortClaim } from './ports.js';

const claim = (key: string, c: Partial<PortClaim> = {}): PortClaim => ({ key, ports: [4420, 9420], createdAt: '2026-01-01T00:00:00Z', running: false, ...c });
const nodes: NodeInfo[] = [{ name: 'n1', labels: { disk: 'ssd' } }, { name: 'n2', labels: {} }];

test('findPortConflicts: table', () => {
  const cases: Array<[string, PortClaim[], Record<string, string>]> = [
    ['different nodes never conflict', [claim('a/x', { node: 'n1' }), claim('a/y', { node: 'n2' })], {}],
    ['different ports never conflict', [claim('a/x', { node: 'n1' }), claim('a/y', { node: 'n1', ports: [4421, 9421] })], {}],
    ['the older resource wins', [claim('a/y', { node: 'n1', createdAt: '2026-01-02T00:00:00Z' }), claim('a/x', { node: 'n1' })], { 'a/y': 'a/x:4420' }],
    ['a running pod wins over age', [claim('a/old', { node: 'n1' }), claim('a/new', { node: 'n1', createdAt: '2026-02-01T00:00:00Z', running: true })], { 'a/old': 'a/new:4420' }],
    ['same age: by key', [claim('b/x', { node: 'n1' }), claim('a/x', { node: 'n1' })], { 'b/x': 'a/x:4420' }],
    ['metrics port counts too', [claim('a/x', { node: 'n1' }), claim('a/y', { node: 'n1', ports: [4421, 9420], createdAt: '2026-01-02T00:00:00Z' })], { 'a/y': 'a/x:9420' }],
    ['no hostNetwork, no ports', [claim('a/x', { node: 'n1' }), claim('a/y', { node: 'n1', ports: [] })], {}],
    ['a loser holds no port: the third one is judged against the winner only',
      [claim('a/x', { node: 'n1', ports: [1, 2] }), claim('a/y', { node: 'n1', ports: [2, 3], createdAt: '2026-01-02T00:00:00Z' }), claim('a/z', { node: 'n1', ports: [3, 4], createdAt: '2026-01-03T00:00:00Z' })],
      { 'a/y': 'a/x:2' }],
    ['unplaced: free node left', [claim('a/x', { node: 'n1' }), claim('a/y')], {}],
    ['unplaced: every eligible node taken', [claim('a/x', { node: 'n1' }), claim('a/y', { nodeSelector: { disk: 'ssd' } })], { 'a/y': 'a/x:4420' }],
    ['unplaced: no eligible node is not a conflict', [claim('a/x', { node: 'n1' }), claim('a/y', { nodeSelector: { disk: 'hdd' } })], {}],
  ];
  for (const [what, claims, want] of cases) {
    const got = Object.fromEntries([...findPortConflicts(claims, nodes)].map(([k, v]) => [k, `${v.with}:${v.port}`]));
    assert.deepEqual(got, want, what);
  }
});
