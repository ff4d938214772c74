import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanupPodName, configMapName, legacyConfigMapName, dns1035, fitName, labelsFor, labelValue, serviceName, targetPodName } from './names.js';

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

test('fitName: table', () => {
  const cases: Array<[string, string, number, (s: string) => boolean]> = [
    ['vol', 'metrics', 63, (s) => s === 'vol-metrics'],
    ['v'.repeat(80), 'metrics', 63, (s) => s.length === 63 && s.endsWith('-metrics')],
    ['a-'.repeat(40), 'x', 20, (s) => s.length <= 20 && !s.includes('--') && s.endsWith('-x')],
    ['v'.repeat(300), '', 253, (s) => s.length === 253],
  ];
  for (const [base, suffix, max, ok] of cases) {
    const n = fitName(base, suffix, max);
    assert.ok(ok(n), `${base}/${suffix}/${max} -> ${n}`);
    assert.equal(fitName(base, suffix, max), n);
  }
  assert.notEqual(fitName('v'.repeat(80) + 'a', 'm', 63), fitName('v'.repeat(80) + 'b', 'm', 63));
});

test('service names are DNS-1035 labels for any resource name', () => {
  for (const name of ['vol', '1vol', 'a.b.c', 'x'.repeat(253), '9'.repeat(100)]) {
    const s = serviceName(name);
    assert.match(s, DNS1035, s);
    assert.ok(s.length <= 63);
  }
  assert.equal(dns1035('vol', 'metrics'), 'vol-metrics');
});

test('label values fit 63 characters and stay valid', () => {
  assert.equal(labelValue('vol'), 'vol');
  const long = labelValue('a.b'.repeat(50));
  assert.ok(long.length <= 63);
  assert.match(long, LABEL);
});

test('pod and ConfigMap names fit and differ by suffix/hash', () => {
  assert.equal(targetPodName('vol', 'abcde'), 'vol-target-abcde');
  assert.equal(cleanupPodName('vol'), 'vol-cleanup');
  assert.equal(configMapName('vol'), 'vol-target-config');
  assert.equal(legacyConfigMapName('vol', '0123456789'), 'vol-target-0123456789');
  assert.ok(targetPodName('x'.repeat(253), 'abcde').length <= 253);
});

test('labelsFor names the subsystem, its uid and the role', () => {
  const l = labelsFor({ metadata: { name: 'vol', uid: 'u1' } }, 'target');
  assert.deepEqual(l, {
    'app.kubernetes.io/managed-by': 'nvmeof-operator',
    'app.kubernetes.io/name': 'nvmeof-target',
    'nvmeof.io/subsystem': 'vol',
    'nvmeof.io/subsystem-uid': 'u1',
    'nvmeof.io/role': 'target',
  });
});
