// A DH-HMAC-CHAP key added and removed in a running target (issues 20 and 21), with the real Linux host: the
// 6.12 guest (nvme-auth, nvme-cli 2.13) against our target started with --config, the file replaced as the
// operator's ConfigMap is. The host connects without a key; a key is added for it live: the target ends its
// unauthenticated controller (the kernel's reconnects without a key fail: "qid 0: no key", and the controller
// goes after --ctrl-loss-tmo); it connects with --dhchap-secret and authenticates, its data still there; the
// key is removed while it stays in hosts: its authenticated connection is kept and serves I/O, and it then
// connects without a key. A TLS PSK the same way: on a TLS-only port the host's handshake (tlshd, the PSK in
// its .nvme keyring) is refused until the PSK is added to the configuration, then connects; the PSK removed,
// its TLS session is kept and serves I/O, and a new handshake is refused. Times (file written -> served, ->
// the host's controller leaving `live`) are printed, never asserted. Ports 4610-4619 are this file's (4610
// NVMe/TCP, 4611 metrics for DH-HMAC-CHAP; 4612 and 4613 for TLS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGuest } from '../vm/guest.js';
import { guestTestScope } from '../vm/guest-test-scope.js';
import { startTarget } from '../support/target-process.js';
import { waitFor } from '../support/wait.js';
import { formatDhchapSecret } from '../../target/auth/secret.js';
import { TLS_HOST, TLS_HOST_SETUP, TLS_KEY, TLS_NQN } from './tls-support.js';

const PORT = 4610;
const METRICS_PORT = 4611;
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:6c3a1f2e-8d4b-4e7a-9f1c-2b3d4e5f6a7b';
const NQN = 'nqn.2026-01.io.nvmeof.test:live-auth';
const KEY = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x5d) });

/** Writes `dir`/config.json (rename: one atomic replace) serving `subsystem` with one 64 MiB file namespace; returns when. */
function writeConfigFile(dir: string, generation: number, metricsPort: number, subsystem: object): number {
  const path = join(dir, 'config.json');
  writeFileSync(`${path}.new`, JSON.stringify({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation,
    subsystems: [{ ...subsystem, namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 64 << 20 } }] }],
    metrics: { address: '127.0.0.1', port: metricsPort },
  }));
  renameSync(`${path}.new`, path);
  return Date.now();
}

/**
 * The live changes a test makes while its guest runs: when each generation was written, served (GET /recovery
 * polled) and checked by the guest. A guest's check means something only if its change was served before it.
 */
function liveChanges(metricsPort: number, write: (generation: number) => number) {
  const at = { written: {} as Record<number, number>, served: {} as Record<number, number>, checked: {} as Record<number, number> };
  const generation = async () => ((await (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json()) as { config: { generation: number } }).config.generation;
  return {
    at,
    write(g: number): void {
      at.written[g] = write(g);
      void waitFor(`generation ${g} served`, async () => (await generation()) === g, 10_000, 20).then(() => { at.served[g] = Date.now(); }, () => {});
    },
    checked(g: number): void {
      at.checked[g] = Date.now();
    },
    servedMs: (g: number) => at.served[g] - at.written[g],
    assertServedBeforeChecks(): void {
      for (const g of Object.keys(at.checked).map(Number)) {
        assert.ok(at.served[g] !== undefined && at.served[g] <= at.checked[g], `generation ${g} was served before the guest's check: ${JSON.stringify(at)}`);
      }
    },
  };
}

function writeConfig(dir: string, generation: number, withKey: boolean): number {
  return writeConfigFile(dir, generation, METRICS_PORT, {
    nqn: NQN, hosts: [HOST], listeners: [{ address: '127.0.0.1', port: PORT }], stateFile: join(dir, 'state.bin'),
    ...(withKey ? { dhchap: [{ host: HOST, keyFile: join(dir, 'host.key') }] } : {}),
  });
}

const connect = (extra: string) => `nvme connect -t tcp -a 10.0.2.2 -s ${PORT} -n ${NQN} --hostnqn=${HOST} --nr-io-queues=1 ${extra}`;

const SCRIPT = String.raw`
echo ${HOST} >/etc/nvme/hostnqn
dmesg -c >/dev/null
${connect('--ctrl-loss-tmo=5 --reconnect-delay=1')} || die "connect without a key"
dev=$(nvme_wait_dev ${NQN}) || die "no device"
printf 'live-auth-%0500d' 0 | dd of=$dev bs=512 count=1 conv=sync oflag=direct 2>/dev/null || die "write"
c=$(nvme_ctrls ${NQN})
echo "PLAIN-OK $c $(cat /sys/class/nvme/$c/state)"
echo ADD-KEY-NOW
# The target ends the controller of a host that gained a key: it leaves 'live', its reconnects without a key
# fail, and it is deleted after ctrl-loss-tmo.
i=0; while [ "$(cat /sys/class/nvme/$c/state 2>/dev/null)" = live ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
echo "LEFT-LIVE $((i * 50)) ms $(cat /sys/class/nvme/$c/state 2>/dev/null)"
i=0; while [ -n "$(nvme_ctrls ${NQN})" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(nvme_ctrls ${NQN})" ] || die "the controller without a key is still there: $(nvme_ctrls ${NQN})"
echo "ENDED | $(dmesg | grep -oE 'qid 0: (no key|.*authenticat.*)' | head -2 | tr '\n' ';')"
dmesg -c >/dev/null
${connect(`--dhchap-secret=${KEY}`)} 2>/tmp/err || { echo "AUTH-CONNECT-FAILED $(head -1 /tmp/err)"; dmesg | tail -5; die "connect with the key added live"; }
dev=$(nvme_wait_dev ${NQN}) || die "no device after authenticating"
dd if=$dev bs=512 count=1 iflag=direct 2>/dev/null | grep -q 'live-auth-' || die "read back after authenticating"
echo "AUTH-OK | $(dmesg | grep -o 'qid 0: .*authenticated.*' | head -1)"
c=$(nvme_ctrls ${NQN})
echo REMOVE-KEY-NOW
sleep 3
echo REMOVE-CHECK
printf 'kept-%0500d' 0 | dd of=$dev bs=512 seek=1 count=1 conv=sync oflag=direct 2>/dev/null || die "write on the kept connection"
dd if=$dev bs=512 skip=1 count=1 iflag=direct 2>/dev/null | grep -q 'kept-' || die "read back on the kept connection"
echo "KEPT $c $(cat /sys/class/nvme/$c/state) ctrls=$(nvme_ctrls ${NQN} | tr '\n' ' ')"
nvme disconnect -n ${NQN} >/dev/null
dmesg -c >/dev/null
${connect('')} 2>/tmp/err || { echo "NOKEY-CONNECT-FAILED $(head -1 /tmp/err)"; die "connect without a key after its removal"; }
dev=$(nvme_wait_dev ${NQN}) || die "no device without a key"
dd if=$dev bs=512 skip=1 count=1 iflag=direct 2>/dev/null | grep -q 'kept-' || die "read back without a key"
echo "NOKEY-OK | $(dmesg | grep -c 'authenticated')"
nvme disconnect -n ${NQN} >/dev/null
`;

test('6.12: a DH-HMAC-CHAP key added live ends the unauthenticated controller, the host authenticates with it; removed live, the connection is kept', { timeout: 240_000 }, async (t) => {
  const scope = guestTestScope(t, '6.12', 'nvmeof-live-auth-');
  writeFileSync(join(scope.dir, 'host.key'), `${KEY}\n`, { mode: 0o600 });
  writeConfig(scope.dir, 1, false);
  scope.target = await startTarget(['--config', join(scope.dir, 'config.json')]);
  // Generation 2 adds the key, 3 removes it (the guest's leaving `live` shows generation 2 was served).
  const live = liveChanges(METRICS_PORT, (g) => writeConfig(scope.dir, g, g === 2));
  const r = await runGuest({
    kernel: '6.12', signal: scope.signal, script: SCRIPT, timeoutMs: 180_000,
    onLine: (l) => {
      if (l.trim() === 'ADD-KEY-NOW') live.write(2);
      if (l.trim() === 'REMOVE-KEY-NOW') live.write(3);
      if (l.trim() === 'REMOVE-CHECK') live.checked(3);
      if (process.env.E2E_VERBOSE) console.log(l);
    },
  });
  const log = scope.target!.lines.join('\n');
  assert.equal(r.exitCode, 0, `${r.output.slice(-5000)}\n--- target ---\n${log.slice(-4000)}`);
  const out = r.output.split('\n');
  for (const l of out.filter((x) => /^(PLAIN-OK|LEFT-LIVE|ENDED|AUTH-OK|KEPT|NOKEY-OK)/.test(x))) t.diagnostic(`host: ${l}`);
  t.diagnostic(`target: file written -> served: key added ${live.servedMs(2)} ms, key removed ${live.servedMs(3)} ms`);
  assert.ok(live.at.served[2] !== undefined, `the key's addition was served: ${JSON.stringify(live.at)}`);
  assert.deepEqual(Object.keys(live.at.checked), ['3'], 'the guest checked its connection after the removal');
  live.assertServedBeforeChecks();
  assert.match(r.output, /^ENDED \| .*qid 0: no key/m, 'the reconnects without a key were refused for want of one');
  assert.match(r.output, /^AUTH-OK \| .*qid 0: .*authenticated/m, 'the host authenticated with the key added live');
  assert.match(r.output, /^KEPT \S+ live ctrls=\S+ $/m, 'the authenticated controller stays live, the only one, once its key is removed');
  assert.match(r.output, /^NOKEY-OK \| 0$/m, 'a connection without a key, no authentication');
  const records = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(records.some((l) => l.message === 'controllers of hosts that must now authenticate ended' && l.controllers === 1), `the target ended the unauthenticated controller:\n${log.slice(-3000)}`);
  assert.ok(!log.includes(KEY.slice(10, 40)), 'no key is logged');
});

const TLS_PORT = 4612;
const TLS_METRICS_PORT = 4613;

function writeTlsConfig(dir: string, generation: number, withPsk: boolean): number {
  return writeConfigFile(dir, generation, TLS_METRICS_PORT, {
    nqn: TLS_NQN, hosts: [TLS_HOST], listeners: [{ address: '127.0.0.1', port: TLS_PORT, tls: 'required' }],
    ...(withPsk ? { tlsPsks: [{ host: TLS_HOST, pskFile: join(dir, 'host.psk') }] } : {}),
  });
}

const tlsConnect = `nvme connect -t tcp -a 10.0.2.2 -s ${TLS_PORT} -n ${TLS_NQN} --hostnqn=${TLS_HOST} --nr-io-queues=1 --ctrl-loss-tmo=2 --reconnect-delay=1 --tls`;

const TLS_SCRIPT = String.raw`${TLS_HOST_SETUP}
insert_psk '${TLS_KEY}'
if ${tlsConnect} 2>/tmp/before.err; then die "connect --tls succeeded before the PSK was configured"; fi
echo "REFUSED-BEFORE $(head -1 /tmp/before.err)"
echo ADD-PSK-NOW
sleep 3
echo ADD-CHECK
${tlsConnect} 2>/tmp/err || { cat /tmp/tlshd.log; echo "TLS-CONNECT-FAILED $(head -1 /tmp/err)"; die "connect --tls with the PSK added live"; }
dev=$(nvme_wait_dev ${TLS_NQN}) || die "no device over TLS"
printf 'live-psk-%0500d' 0 | dd of=$dev bs=512 count=1 conv=sync oflag=direct 2>/dev/null || die "write over TLS"
c=$(nvme_ctrls ${TLS_NQN})
echo "TLS-OK $c $(cat /sys/class/nvme/$c/tls_key 2>/dev/null)"
echo REMOVE-PSK-NOW
sleep 3
echo REMOVE-CHECK
dd if=$dev bs=512 count=1 iflag=direct 2>/dev/null | grep -q 'live-psk-' || die "read back on the kept TLS session"
echo "KEPT $c $(cat /sys/class/nvme/$c/state)"
nvme disconnect -n ${TLS_NQN} >/dev/null
if ${tlsConnect} 2>/tmp/after.err; then die "connect --tls succeeded after the PSK was removed"; fi
echo "REFUSED-AFTER $(head -1 /tmp/after.err)"
`;

test('6.12: a TLS PSK added live lets the host handshake on a TLS-only port; removed live, the session is kept and a new handshake refused', { timeout: 240_000 }, async (t) => {
  const scope = guestTestScope(t, '6.12', 'nvmeof-live-psk-');
  writeFileSync(join(scope.dir, 'host.psk'), `${TLS_KEY}\n`, { mode: 0o600 });
  writeTlsConfig(scope.dir, 1, false);
  scope.target = await startTarget(['--config', join(scope.dir, 'config.json')]);
  // Generation 2 adds the PSK, 3 removes it.
  const live = liveChanges(TLS_METRICS_PORT, (g) => writeTlsConfig(scope.dir, g, g === 2));
  const r = await runGuest({
    kernel: '6.12', signal: scope.signal, script: TLS_SCRIPT, timeoutMs: 180_000,
    onLine: (l) => {
      if (l.trim() === 'ADD-PSK-NOW') live.write(2);
      if (l.trim() === 'ADD-CHECK') live.checked(2);
      if (l.trim() === 'REMOVE-PSK-NOW') live.write(3);
      if (l.trim() === 'REMOVE-CHECK') live.checked(3);
      if (process.env.E2E_VERBOSE) console.log(l);
    },
  });
  const log = scope.target!.lines.join('\n');
  assert.equal(r.exitCode, 0, `${r.output.slice(-5000)}\n--- target ---\n${log.slice(-4000)}`);
  for (const l of r.output.split('\n').filter((x) => /^(REFUSED-BEFORE|TLS-OK|KEPT|REFUSED-AFTER)/.test(x))) t.diagnostic(`host: ${l}`);
  t.diagnostic(`target: file written -> served: PSK added ${live.servedMs(2)} ms, removed ${live.servedMs(3)} ms`);
  assert.deepEqual(Object.keys(live.at.checked), ['2', '3'], 'the guest checked after both changes');
  live.assertServedBeforeChecks();
  assert.match(r.output, /^KEPT \S+ live$/m, 'the TLS session stays live once its PSK is removed');
  const records = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const refusals = records.filter((l) => l.message === 'TLS: connection refused').map((l) => String(l.reason));
  assert.ok(refusals.filter((x) => x.includes(`no TLS PSK is configured for host ${TLS_HOST}`)).length >= 2, `refused before and after, for want of a PSK:\n${refusals.join('\n')}`);
  assert.ok(records.some((l) => l.message === 'TLS: handshake done'), 'a handshake with the PSK added live');
});
