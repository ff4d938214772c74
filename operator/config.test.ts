import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAGS, OperatorConfigError, parseOperatorConfig } from './config.js';

test('defaults, with only the target image given', () => {
  const c = parseOperatorConfig([], { NVMEOF_TARGET_IMAGE: 'localhost/nvmeof-target:1', POD_NAME: 'op-0', POD_NAMESPACE: 'nvmeof-system' });
  assert.deepEqual(c, {
    target: {
      image: 'localhost/nvmeof-target:1', imagePullPolicy: 'IfNotPresent', hostPathRoot: '/var/lib/nvmeof', allowedDevices: [],
      shutdownGraceSeconds: 10, targetLogLevel: 'info', requirePrivilegedNamespace: true,
      defaultResources: { requests: { cpu: '25m', memory: '64Mi' } },
    },
    metricsPort: 8080, watchNamespace: '', leaderElect: true, leaderElectionNamespace: 'nvmeof-system',
    leaderElectionId: 'nvmeof-operator-leader', identity: 'op-0', workers: 4, resyncSeconds: 300, recoveryProbeSeconds: 5, logLevel: 'info',
  });
});

test('flags win over the environment; both forms of flags', () => {
  const c = parseOperatorConfig(
    ['--target-image=img:2', '--allowed-devices', '/dev/sdb, /dev/disk/by-id/nvme-*', '--leader-elect=false', '--watch-namespace', 'storage', '--metrics-port=9090', '--kubeconfig=/tmp/kc'],
    { NVMEOF_TARGET_IMAGE: 'img:1', NVMEOF_METRICS_PORT: '7000', NVMEOF_HOST_PATH_ROOT: '/srv/nvmeof' },
  );
  assert.equal(c.target.image, 'img:2');
  assert.deepEqual(c.target.allowedDevices, ['/dev/sdb', '/dev/disk/by-id/nvme-*']);
  assert.equal(c.leaderElect, false);
  assert.equal(c.watchNamespace, 'storage');
  assert.equal(c.metricsPort, 9090);
  assert.equal(c.target.hostPathRoot, '/srv/nvmeof');
  assert.equal(c.kubeconfig, '/tmp/kc');
  assert.match(c.identity, /_[0-9a-f]{8}$/, 'a unique identity out of a pod');
});

test('refused configurations say what is wrong', () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [[], {}, /--target-image \(or NVMEOF_TARGET_IMAGE\) is required/],
    [['--target-image=i', '--host-path-root=relative'], {}, /host-path-root/],
    [['--target-image=i', '--host-path-root=/'], {}, /host-path-root/],
    [['--target-image=i', '--host-path-root=/var/lib/../etc'], {}, /host-path-root/],
    [['--target-image=i', '--allowed-devices=/etc/passwd'], {}, /allowed-devices/],
    [['--target-image=i', '--allowed-devices=/dev/../etc/passwd'], {}, /allowed-devices/],
    [['--target-image=i', '--allowed-devices=/dev/*/x'], {}, /allowed-devices/],
    [['--target-image=i', '--metrics-port=0'], {}, /metrics-port/],
    [['--target-image=i', '--leader-elect=maybe'], {}, /leader-elect/],
    [['--target-image=i', '--image-pull-policy=Sometimes'], {}, /image-pull-policy/],
    [['--target-image=i', '--no-such-flag'], {}, /unknown flag --no-such-flag/],
    [['--target-image=i', 'stray'], {}, /unexpected argument/],
    [['--target-image=i', '--target-cpu-request=0'], {}, /--target-cpu-request must be a CPU quantity/],
    [['--target-image=i', '--target-cpu-limit=1 core'], {}, /--target-cpu-limit must be a CPU quantity/],
    [['--target-image=i', '--target-memory-request=lots'], {}, /--target-memory-request must be a memory quantity/],
    [['--target-image=i'], { NVMEOF_TARGET_MEMORY_LIMIT: '0Mi' }, /--target-memory-limit must be a memory quantity/],
  ];
  for (const [argv, env, msg] of cases) assert.throws(() => parseOperatorConfig(argv, env), (e: Error) => e instanceof OperatorConfigError && msg.test(e.message), argv.join(' '));
});

test("the target pods' default resources: requests from flags or the environment, limits only when given", () => {
  const c = parseOperatorConfig(['--target-image=i', '--target-cpu-request=0.1', '--target-memory-limit', '1Gi'], { NVMEOF_TARGET_MEMORY_REQUEST: '128Mi', NVMEOF_TARGET_CPU_LIMIT: '2' });
  assert.deepEqual(c.target.defaultResources, { requests: { cpu: '0.1', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } });
});

test('every documented flag is known', () => {
  assert.ok(FLAGS.includes('target-image') && FLAGS.includes('allowed-devices') && FLAGS.includes('leader-elect'));
});

test('a flag takes `=value`, else the next argument unless it is a flag, else means true', () => {
  const c = parseOperatorConfig(['--target-image', 'img:3', '--leader-elect', '--require-privileged-namespace', '--workers', '8', '--resync-seconds=60'], {});
  assert.deepEqual([c.target.image, c.leaderElect, c.target.requirePrivilegedNamespace, c.workers, c.resyncSeconds], ['img:3', true, true, 8, 60]);
  assert.equal(parseOperatorConfig(['--target-image=i', '--recovery-probe-seconds=0'], { NVMEOF_RECOVERY_PROBE_SECONDS: '9' }).recoveryProbeSeconds, 0, '0 turns the prober off');
  assert.equal(parseOperatorConfig(['--target-image=i'], { NVMEOF_RECOVERY_PROBE_SECONDS: '9' }).recoveryProbeSeconds, 9);
  const off = parseOperatorConfig(['--target-image=i', '--leader-elect', 'false', '--watch-namespace='], { NVMEOF_WATCH_NAMESPACE: 'other' });
  assert.deepEqual([off.leaderElect, off.watchNamespace], [false, '']);
  const cases: Array<[string[], RegExp]> = [
    [['--workers', '-1'], /--workers must be an integer in \[1, 64\], got "-1"/], // `-1` is the value, not a flag
    [['--recovery-probe-seconds=0.5'], /--recovery-probe-seconds must be an integer in \[0, 3600\], got "0.5"/],
    [['--log-level'], /--log-level must be one of error, warn, info, debug, got "true"/],
    [['--leader-elect=false', 'x'], /unexpected argument "x"/],
    [['-x'], /unexpected argument "-x"/],
    [['--no-such=1'], /unknown flag --no-such \(known: --target-image, /],
    [['--'], /unknown flag -- \(known: /],
  ];
  for (const [argv, msg] of cases) {
    assert.throws(() => parseOperatorConfig(['--target-image=i', ...argv], {}), (e: Error) => e instanceof OperatorConfigError && msg.test(e.message), argv.join(' '));
  }
});
