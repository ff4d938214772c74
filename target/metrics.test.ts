import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TargetMetrics } from './metrics.js';

test('process and Node metrics carry the nvmeof_target_ prefix once, and the running Node version', async () => {
  const text = await new TargetMetrics(['nqn.2014-08.org.example:a']).registry.metrics();
  assert.match(text, /^nvmeof_target_process_cpu_seconds_total \d/m);
  assert.match(text, /^nvmeof_target_process_resident_memory_bytes \d/m);
  assert.doesNotMatch(text, /process_process_|nvmeof_target_process_nodejs_/);
  assert.ok(text.includes(`nvmeof_target_nodejs_version_info{version="${process.version}"`), 'the version series names the running Node');
});
