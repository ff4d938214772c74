import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { RecoveryMetrics } from './recovery-metrics.js';

const A = 'nqn.2024-01.io.nvmeof:a';
const B = 'nqn.2024-01.io.nvmeof:b';

function line(text: string, name: string, labels: string): number | undefined {
  const m = new RegExp(`^${name}\\{${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

test('recoveries_total starts from the file\'s cumulative counts and follows them', async () => {
  const reg = new Registry();
  const m = new RecoveryMetrics(reg, A);
  m.syncFromHeader({ outcomes: { fresh: 1, clean: 4, restored: 9, corrupt: 2 }, inflightAbandonedTotal: 17 });
  let text = await reg.metrics();
  assert.equal(line(text, 'nvmeof_target_recoveries_total', `subsystem="${A}",outcome="restored"`), 9);
  assert.equal(line(text, 'nvmeof_target_recoveries_total', `subsystem="${A}",outcome="clean"`), 4);
  assert.equal(line(text, 'nvmeof_target_recoveries_total', `subsystem="${A}",outcome="corrupt"`), 2);
  assert.equal(line(text, 'nvmeof_target_inflight_abandoned_total', `subsystem="${A}"`), 17);
  m.syncFromHeader({ outcomes: { fresh: 1, clean: 4, restored: 9, corrupt: 2 }, inflightAbandonedTotal: 17 });
  m.syncFromHeader({ outcomes: { fresh: 1, clean: 4, restored: 10, corrupt: 2 }, inflightAbandonedTotal: 20 });
  text = await reg.metrics();
  assert.equal(line(text, 'nvmeof_target_recoveries_total', `subsystem="${A}",outcome="restored"`), 10, 'idempotent, then +1');
  assert.equal(line(text, 'nvmeof_target_inflight_abandoned_total', `subsystem="${A}"`), 20);
});

test('a recovery sets the gauges and the histograms; subsystems share one registry', async () => {
  const reg = new Registry();
  const a = new RecoveryMetrics(reg, A);
  const b = new RecoveryMetrics(reg, B);
  a.observeRecovery({ outcome: 'restored', startedAtMs: 0, durationMs: 120, restoredControllers: 3, inflightAbandoned: 4, inflightFound: 5 });
  b.observeRecovery({ outcome: 'clean', startedAtMs: 0, durationMs: 40, restoredControllers: 0, inflightAbandoned: 0, inflightFound: 0 });
  a.observeHostReconnect(1.5);
  a.observeHostReconnect(0.2);
  const text = await reg.metrics();
  assert.equal(line(text, 'nvmeof_target_restored_controllers', `subsystem="${A}"`), 3);
  assert.equal(line(text, 'nvmeof_target_inflight_at_recovery', `subsystem="${A}"`), 5);
  assert.equal(line(text, 'nvmeof_target_last_shutdown_clean', `subsystem="${A}"`), 0);
  assert.equal(line(text, 'nvmeof_target_last_shutdown_clean', `subsystem="${B}"`), 1);
  assert.equal(line(text, 'nvmeof_target_recovery_duration_seconds_sum', `subsystem="${A}"`), 0.12);
  assert.equal(line(text, 'nvmeof_target_recovery_duration_seconds_bucket', `le="0.25",subsystem="${A}"`), 1);
  assert.equal(line(text, 'nvmeof_target_host_reconnect_seconds_count', `subsystem="${A}"`), 2);
  assert.equal(line(text, 'nvmeof_target_host_reconnect_seconds_bucket', `le="0.5",subsystem="${A}"`), 1);
  assert.equal(line(text, 'nvmeof_target_recoveries_total', `subsystem="${B}",outcome="fresh"`), 0, 'every outcome is exported from the start');
});
