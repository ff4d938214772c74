import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchStateStore } from './bench.js';

test('the state-store benchmark measures every figure (small run)', async (t) => {
  const r = await benchStateStore({ iterations: 20_000, syncIterations: 5 });
  for (const [k, v] of Object.entries(r)) assert.ok(Number.isFinite(v) && v > 0, `${k} = ${v}`);
  // Hot-path stores are plain memory stores: far below a system call even on a slow CI machine.
  assert.ok(r.inflightStageNs < 5_000, `in-flight stage store ${r.inflightStageNs} ns`);
  assert.ok(r.controllerWriteSyncNs > r.controllerWriteNs, 'msync costs more than no msync');
  t.diagnostic(JSON.stringify(r));
});
