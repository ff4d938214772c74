// Acceptance of DH-HMAC-CHAP (issue 21, 1) with the real Linux host: the 6.12 guest (kernel 6.12 with nvme-auth,
// nvme-cli 2.13) against our target on this machine. One target serves four subsystems, one per case, so one
// guest boot tries them all: a key of each hash (the secret's hh picks the hash the target prefers) with the
// null group and with ffdhe groups, each without and with --dhchap-ctrl-secret (bidirectional); a wrong
// secret, no secret, and a wrong controller secret refused; fio verify over an authenticated connection; a
// re-authentication the host asks for (a write to the controller's dhchap_secret); a SIGKILL of the target
// (the host reconnects and authenticates again); a key rotated under the running target (its file swapped, as a
// Secret's update does): the host re-authenticates with the new key, the old one is refused. The 6.1 guest connects, unchanged, to the subsystem without
// authentication of the same target. Ports 4560-4579 are this file's (4560 NVMe/TCP, 4561 metrics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGuest } from '../vm/guest.js';
import { guestTestScope } from '../vm/guest-test-scope.js';
import { startTarget } from '../support/target-process.js';
import { formatDhchapSecret } from '../../target/auth/secret.js';

const PORT = 4560;
const METRICS_PORT = 4561;
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:5e2b7c1d-4a3f-4e6b-9c8d-0f1e2d3c4b5a';
const PREFIX = 'nqn.2026-01.io.nvmeof.test:auth-';
const key = (hh: number, len: number, fill: number) => formatDhchapSecret({ hh, key: Buffer.alloc(len, fill) });
const CTRL_KEY = key(1, 32, 0xc7);
const WRONG_CTRL_KEY = key(1, 32, 0xc8);

/** One subsystem per hash; its host key's hh names the hash, dhGroups what the target offers first. */
const CASES = [
  { name: 'sha256', key: key(1, 32, 0x11), dhGroups: ['null'], expectGroup: 'null' },
  { name: 'sha384', key: key(2, 48, 0x22), dhGroups: ['ffdhe2048'], expectGroup: 'ffdhe2048' },
  { name: 'sha512', key: key(3, 64, 0x33), dhGroups: ['ffdhe4096', 'null'], expectGroup: 'ffdhe4096' },
] as const;
const PLAIN = `${PREFIX}plain`;
const WRONG_KEY = key(1, 32, 0x99);
/** sha384's host key after its rotation: the file swapped under the running target, as a Secret's update does. */
const ROTATED_KEY = key(2, 48, 0x2e);

function config(dir: string): object {
  const ns = (n: string) => [{ nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, `${n}.img`), size: 64 << 20 } }];
  return {
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [
      ...CASES.map((c) => ({
        nqn: PREFIX + c.name, hosts: [HOST], listeners: [{ address: '127.0.0.1', port: PORT }], namespaces: ns(c.name),
        stateFile: join(dir, `${c.name}.state`),
        dhchap: [{ host: HOST, keyFile: join(dir, `${c.name}.key`), ctrlKeyFile: join(dir, 'ctrl.key'), dhGroups: c.dhGroups }],
      })),
      { nqn: PLAIN, hosts: [HOST], listeners: [{ address: '127.0.0.1', port: PORT }], namespaces: ns('plain') },
    ],
    metrics: { address: '127.0.0.1', port: METRICS_PORT },
  };
}

function writeConfig(dir: string): string[] {
  for (const c of CASES) writeFileSync(join(dir, `${c.name}.key`), `${c.key}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'ctrl.key'), `${CTRL_KEY}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config(dir)));
  return ['--config', join(dir, 'config.json')];
}

async function authCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^nvmeof_target_auth_total\{method="dhchap",result="(\w+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

const connect = (nqn: string, extra: string) => `nvme connect -t tcp -a 10.0.2.2 -s ${PORT} -n ${nqn} --hostnqn=${HOST} --nr-io-queues=1 ${extra}`;

/** Each case: connect, a write and read back, what dmesg said about authentication, disconnect. */
function caseScript(nqn: string, label: string, extra: string): string {
  return String.raw`
dmesg -c >/dev/null
${connect(nqn, extra)} 2>/tmp/err || { echo "CASE ${label} connect-failed $(head -1 /tmp/err)"; dmesg | tail -5; die "connect ${label}"; }
dev=$(nvme_wait_dev ${nqn}) || die "no device ${label}"
printf 'auth-${label}-%0500d' 0 | dd of=$dev bs=512 count=1 conv=sync oflag=direct 2>/dev/null || die "write ${label}"
dd if=$dev bs=512 count=1 iflag=direct 2>/dev/null | grep -q "auth-${label}-" || die "read back ${label}"
echo "CASE ${label} ok $dev | $(dmesg | grep -o 'qid 0: .*authenticated.*' | tr '\n' ';')"
nvme disconnect -n ${nqn} >/dev/null
`;
}

/** A connect that must fail: what nvme-cli said and what the kernel logged. */
function refusedScript(nqn: string, label: string, extra: string): string {
  return String.raw`
dmesg -c >/dev/null
if ${connect(nqn, extra)} 2>/tmp/err; then die "connect ${label} succeeded"; fi
echo "REFUSED ${label} | $(head -1 /tmp/err) | $(dmesg | grep -o 'qid 0: .*' | head -2 | tr '\n' ';')"
`;
}

test('6.12: nvme connect --dhchap-secret with each hash, null and ffdhe groups, uni- and bidirectional; wrong, missing and wrong controller secrets refused; fio verify; re-authentication; a target SIGKILL', { timeout: 400_000 }, async (t) => {
  const scope = guestTestScope(t, '6.12', 'nvmeof-auth-');
  const args = writeConfig(scope.dir);
  scope.target = await startTarget(args);
  const target = () => scope.target!;
  const sha384 = CASES[1];
  let script = 'echo ' + HOST + ' >/etc/nvme/hostnqn\n';
  for (const c of CASES) {
    script += caseScript(PREFIX + c.name, `${c.name}/uni`, `--dhchap-secret=${c.key}`);
    script += caseScript(PREFIX + c.name, `${c.name}/bi`, `--dhchap-secret=${c.key} --dhchap-ctrl-secret=${CTRL_KEY}`);
  }
  script += refusedScript(PREFIX + 'sha256', 'wrong-secret', `--dhchap-secret=${WRONG_KEY}`);
  script += refusedScript(PREFIX + 'sha256', 'no-secret', '');
  script += refusedScript(PREFIX + 'sha256', 'wrong-ctrl-secret', `--dhchap-secret=${CASES[0].key} --dhchap-ctrl-secret=${WRONG_CTRL_KEY}`);
  script += caseScript(PLAIN, 'plain/none', '');
  // fio verify, re-authentication on request, then a SIGKILL of the target under fio: the host reconnects and authenticates again.
  script += String.raw`
dmesg -c >/dev/null
${connect(PREFIX + 'sha384', `--dhchap-secret=${sha384.key} --dhchap-ctrl-secret=${CTRL_KEY} --ctrl-loss-tmo=60 --reconnect-delay=1`)} || die "connect for fio"
dev=$(nvme_wait_dev ${PREFIX}sha384) || die "no device for fio"
c=$(nvme_ctrls ${PREFIX}sha384)
fio --name=auth --filename=$dev --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio --direct=1 --size=16m --verify=crc32c --do_verify=1 --verify_fatal=1 >/tmp/fio.out 2>&1 || { cat /tmp/fio.out; die "fio verify"; }
grep -q "err= 0" /tmp/fio.out && echo FIO-AUTH-OK
before=$(dmesg | grep -c 'qid 0: .*authenticated')
echo "${sha384.key}" >/sys/class/nvme/$c/dhchap_secret || die "re-authentication request"
sleep 3
echo "REAUTH $before $(dmesg | grep -c 'qid 0: .*authenticated')"
echo ROTATE-NOW
sleep 2
echo "${ROTATED_KEY}" >/sys/class/nvme/$c/dhchap_secret || die "the rotated key"
sleep 3
echo "ROTATED $(dmesg | grep -c 'qid 0: .*authenticated')"
fio --name=kill --filename=$dev --rw=randwrite --bs=4k --iodepth=8 --ioengine=libaio --direct=1 --size=16m --time_based --runtime=20 --verify=crc32c --verify_backlog=256 --verify_fatal=1 >/tmp/fio2.out 2>&1 &
fio_pid=$!
sleep 4
echo KILL-NOW
wait $fio_pid || { cat /tmp/fio2.out; die "fio across the SIGKILL"; }
echo "AFTER-KILL $(dmesg | grep -c 'qid 0: .*authenticated') $(nvme_dev ${PREFIX}sha384)"
dmesg | grep -E 'qid [0-9]+: .*authenticated|reconnect|Reconnect' | tail -8
nvme disconnect -n ${PREFIX}sha384 >/dev/null
`;
  script += refusedScript(PREFIX + 'sha384', 'old-secret-after-rotation', `--dhchap-secret=${sha384.key}`);
  script += caseScript(PREFIX + 'sha384', 'sha384/rotated', `--dhchap-secret=${ROTATED_KEY}`);
  let killRequested = false;
  const guest = runGuest({
    kernel: '6.12', signal: scope.signal, script, timeoutMs: 300_000, fio: true,
    onLine: (l) => {
      if (l.trim() === 'KILL-NOW') killRequested = true;
      if (l.trim() === 'ROTATE-NOW') {
        writeFileSync(join(scope.dir, 'sha384.key.new'), `${ROTATED_KEY}\n`, { mode: 0o600 });
        renameSync(join(scope.dir, 'sha384.key.new'), join(scope.dir, 'sha384.key'));
      }
      if (process.env.E2E_VERBOSE) console.log(l);
    },
  });
  let killedAt = 0;
  let servingAt = 0;
  let done = false;
  void guest.finally(() => { done = true; });
  while (!killRequested && !done) await new Promise((r) => setTimeout(r, 100));
  // The host without a key is counted when its queue's 10 s deadline passes: wait for it (at most 11 s; the
  // guest's fio runs 20 s after KILL-NOW is printed, so the kill still lands under I/O).
  let beforeKill: Record<string, number> = {};
  for (const until = Date.now() + 11_000; killRequested && Date.now() < until; await new Promise((r) => setTimeout(r, 250))) {
    beforeKill = await authCounts();
    if ((beforeKill.failure ?? 0) >= 3) break;
  }
  const firstLines = target().lines;
  if (killRequested) {
    killedAt = Date.now();
    await target().kill('SIGKILL');
    scope.target = await startTarget(args);
    servingAt = Date.now();
  }
  const r = await guest;
  const log = [...firstLines, '--- restarted ---', ...(target().lines === firstLines ? [] : target().lines)].join('\n');
  assert.equal(r.exitCode, 0, `${r.output.slice(-6000)}\n--- target ---\n${log.slice(-4000)}`);
  const out = r.output.split('\n');
  // What the host saw, for the note's table.
  for (const l of out.filter((x) => /^(CASE|REFUSED|FIO-AUTH|REAUTH|ROTATED|AFTER-KILL)/.test(x))) t.diagnostic(`host: ${l}`);
  t.diagnostic(`SIGKILL to the new target serving: ${servingAt - killedAt} ms`);
  for (const c of CASES) {
    for (const dir of ['uni', 'bi']) {
      const line = out.find((l) => l.startsWith(`CASE ${c.name}/${dir} ok`));
      assert.ok(line, `${c.name}/${dir} connected`);
      // 6.12 logs the negotiated hash and group (drivers/nvme/host/auth.c).
      assert.match(line, new RegExp(`hmac\\(${c.name}\\).*${c.expectGroup}`), line);
    }
  }
  assert.ok(out.some((l) => l.startsWith('CASE plain/none ok')), 'a host without a key still connects to a subsystem without authentication');
  for (const label of ['wrong-secret', 'no-secret', 'wrong-ctrl-secret']) assert.ok(out.some((l) => l.startsWith(`REFUSED ${label}`)), label);
  assert.ok(out.includes('FIO-AUTH-OK'), 'fio verify over an authenticated connection');
  const reauth = /^REAUTH (\d+) (\d+)/m.exec(r.output);
  assert.ok(reauth && Number(reauth[2]) > Number(reauth[1]), `the host's re-authentication request authenticated again: ${reauth?.[0]}`);
  const rotated = /^ROTATED (\d+)/m.exec(r.output);
  assert.ok(rotated && Number(rotated[1]) > Number(reauth![2]), `the host re-authenticated with the rotated key, the target read it without a restart: ${rotated?.[0]}`);
  const afterKill = /^AFTER-KILL (\d+) /m.exec(r.output);
  assert.ok(afterKill && Number(afterKill[1]) > Number(rotated![1]), `the host authenticated again after the SIGKILL: ${afterKill?.[0]}`);
  assert.ok(out.some((l) => l.startsWith('REFUSED old-secret-after-rotation')), 'the key before the rotation is refused');
  assert.ok(out.some((l) => l.startsWith('CASE sha384/rotated ok')), 'the rotated key connects');
  // The target's side: one warning per failure, naming the host and the reason, never a key.
  const records = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const failures = records.filter((l) => l.message === 'authentication failed');
  assert.ok(records.some((l) => l.message === 'DH-HMAC-CHAP keys' && /keys read again from .*sha384\.key/.test(String(l.notice))), `the rotation logged:\n${log}`);
  assert.ok(failures.some((l) => l.hostnqn === HOST && /host response mismatch/.test(String(l.reason))), `wrong secret logged:\n${log}`);
  for (const k of [...CASES.map((c) => c.key), CTRL_KEY, WRONG_KEY, WRONG_CTRL_KEY, ROTATED_KEY]) assert.ok(!log.includes(k.slice(10, 40)), 'no key is logged');
  const counts = await authCounts();
  t.diagnostic(`target: nvmeof_target_auth_total{method="dhchap"} before the kill ${JSON.stringify(beforeKill)}, after the restart ${JSON.stringify(counts)}`);
  // One count per refused connect: the wrong secret (Failure1), the wrong controller secret (the host's Failure2),
  // the host without a key (it gives up at once; counted when its queue's deadline passes, 10 s after Connect).
  assert.equal(beforeKill.failure, 3, `failures counted: ${JSON.stringify(beforeKill)}`);
  assert.ok(failures.some((l) => /host sent AUTH_Failure2/.test(String(l.reason))), 'the wrong controller secret');
  assert.ok(failures.some((l) => /closed the queue without authenticating/.test(String(l.reason))), 'the host without a key');
  assert.ok((counts.success ?? 0) >= 2, `the restarted target counted the re-authentications (admin and I/O queue): ${JSON.stringify(counts)}`);
  assert.equal(counts.failure, 1, `the restarted target counted the old key's refusal: ${JSON.stringify(counts)}`);
  for (const f of failures) t.diagnostic(`target refused: ${String(f.reason)}`);
});

test('6.1: the host without authentication support connects to the same target as before (a subsystem without keys)', { timeout: 120_000 }, async (t) => {
  const scope = guestTestScope(t, '6.1', 'nvmeof-auth61-');
  scope.target = await startTarget(writeConfig(scope.dir));
  const r = await runGuest({ kernel: '6.1', signal: scope.signal, timeoutMs: 90_000, script: 'echo ' + HOST + ' >/etc/nvme/hostnqn\n' + caseScript(PLAIN, 'plain/6.1', '') });
  assert.equal(r.exitCode, 0, r.output.slice(-4000));
  assert.match(r.output, /CASE plain\/6\.1 ok/);
});
