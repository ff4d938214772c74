import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Condition } from './api/types.js';
import { countConditions, OperatorMetrics } from './metrics.js';
import { subsystem } from './testing/fixtures.js';

const cond = (type: Condition['type'], status: Condition['status']): Condition => ({ type, status, reason: 'R', message: 'm', lastTransitionTime: '2026-01-01T00:00:00Z' });

test('countConditions counts True conditions by type', () => {
  const subs = [
    subsystem({}, {}, { conditions: [cond('Ready', 'True'), cond('Progressing', 'False'), cond('Degraded', 'False')] }),
    subsystem({}, {}, { conditions: [cond('Ready', 'False'), cond('Progressing', 'True'), cond('Degraded', 'True')] }),
    subsystem(),
  ];
  assert.deepEqual(countConditions(subs), { Ready: 1, Progressing: 1, Degraded: 1, ConfigApplied: 0 });
  assert.equal(countConditions([subsystem({}, {}, { conditions: [cond('ConfigApplied', 'True')] })]).ConfigApplied, 1);
});

test('the registry exposes the metrics the issue names', async () => {
  const m = new OperatorMetrics({ queueDepth: () => 7, subsystems: () => [subsystem({}, {}, { conditions: [cond('Ready', 'True')] })] });
  m.reconcileTotal.inc({ result: 'success' });
  m.podsRecreated.inc();
  m.podsRolled.inc();
  m.configPublished.inc();
  m.configPublished.inc();
  m.reconcileDuration.observe(0.02);
  m.recoveryProbes.inc({ result: 'changed' });
  const text = await m.registry.metrics();
  for (const line of [
    'nvmeof_operator_reconcile_total{result="success"} 1',
    'nvmeof_operator_reconcile_total{result="error"} 0',
    'nvmeof_operator_queue_depth 7',
    'nvmeof_operator_pods_recreated_total 1',
    'nvmeof_operator_pods_rolled_total 1',
    'nvmeof_operator_config_published_total 2',
    'nvmeof_operator_subsystems{condition="ConfigApplied"} 0',
    'nvmeof_operator_subsystems{condition="Ready"} 1',
    'nvmeof_operator_subsystems{condition="Degraded"} 0',
    'nvmeof_operator_reconcile_duration_seconds_count 1',
    'nvmeof_operator_recovery_probes_total{result="changed"} 1',
    'nvmeof_operator_recovery_probes_total{result="timeout"} 0',
  ]) assert.ok(text.includes(line), line);
});
