import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TARGET_BASE_MEMORY_BYTES } from '../../target/contract.js';
import type { NvmeofSubsystemSpec } from '../api/types.js';
import { memoryProblem } from './limits.js';
import { quantityBytes } from './quantity.js';

const spec = (...sizes: string[]): NvmeofSubsystemSpec => ({
  allowAnyHost: true,
  namespaces: sizes.map((size, i) => ({ nsid: i + 1, size, backing: { memory: {} } })),
});

test('memoryProblem: memory namespaces plus the target must fit the memory limit, and both numbers are said', () => {
  assert.equal(memoryProblem(spec('64Mi'), { limit: '1Gi' }), undefined);
  const msg = memoryProblem(spec('512Mi', '512Mi'), { limit: '1Gi' });
  assert.match(msg ?? '', new RegExp(`memory namespaces of 1073741824 bytes \\(1024 MiB\\) plus the target's own ${TARGET_BASE_MEMORY_BYTES} bytes`));
  assert.match(msg ?? '', /more than the pod's memory limit 1Gi = 1073741824 bytes/);
  assert.equal(memoryProblem({ ...spec(), namespaces: [{ nsid: 1, size: '1Ti', backing: { file: { path: 'a' } } }] }, { limit: '1Gi' }), undefined, 'file namespaces do not live in memory');
});

test('memoryProblem: without a limit, the node\'s allocatable memory is the bound', () => {
  assert.match(memoryProblem(spec('64Gi'), { nodeAllocatable: { node: 'n1', bytes: 24 * 2 ** 30 } }) ?? '', /more than node n1's allocatable memory 25769803776 bytes/);
  assert.equal(memoryProblem(spec('1Gi'), { nodeAllocatable: { node: 'n1', bytes: 24 * 2 ** 30 } }), undefined);
});

test('quantityBytes: the forms a memory limit takes', () => {
  assert.equal(quantityBytes('1Gi'), 2 ** 30);
  assert.equal(quantityBytes('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(quantityBytes('129M'), 129e6);
  assert.equal(quantityBytes('129e6'), 129e6);
  assert.equal(quantityBytes(1024), 1024);
  assert.equal(quantityBytes('100m'), 1, 'milli-bytes round up');
  assert.equal(quantityBytes('lots'), undefined);
});
