// Acceptance of NVMe/TCP TLS (issue 21, 2) with the real Linux host: the 6.12 guest (Debian trixie: kernel 6.12
// with the tls module, nvme-cli 2.13, keyctl, tlshd from ktls-utils) against our target on this machine, over
// TLS 1.3 with a PSK that nvme-cli derives and inserts into the host's .nvme keyring, and tlshd (started by the
// test script with `keyrings=.nvme`) doing the host's handshake. Ports 4580-4581.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGuest, vmAvailable } from '../vm/guest.js';
import { startTarget, type TargetProcess } from '../support/target-process.js';
import { TLS_HOST, TLS_HOST_SETUP, TLS_KEY, TLS_NQN, TLS_WRONG_KEY, logRecords, tlsConfig } from './tls-support.js';

const NQN = TLS_NQN;
const HOST = TLS_HOST;
const KEY = TLS_KEY;
const WRONG_KEY = TLS_WRONG_KEY;
/** A TLS-only port and one that admits both (tls-support.ts: 4580-4599). */
const PORT_REQUIRED = 4580;
const PORT_ALLOWED = 4581;

let dir: string;
let target: TargetProcess | undefined;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nvmeof-tls-'));
  writeFileSync(join(dir, 'host.psk'), `${KEY}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(tlsConfig(dir, [{ port: PORT_REQUIRED, tls: 'required' }, { port: PORT_ALLOWED, tls: 'allowed' }])));
});

after(async () => {
  await target?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('6.12: nvme connect --tls with the PSK in the keyring, fio verify with header and data digests; a wrong PSK and a plain host refused', async (t) => {
  const vm = vmAvailable('6.12');
  assert.ok(vm.ok, vm.missing ?? 'the 6.12 guest is missing');
  target = await startTarget(['--config', join(dir, 'config.json')]);
  const connect = (port: number, extra = '') => `nvme connect -t tcp -a 10.0.2.2 -s ${port} -n ${NQN} --hostnqn=${HOST} --ctrl-loss-tmo=2 --reconnect-delay=1 ${extra}`;
  const r = await runGuest({
    kernel: '6.12', timeoutMs: 240_000,
    script: String.raw`${TLS_HOST_SETUP}
insert_psk '${KEY}'
${connect(PORT_REQUIRED, '--tls --hdr-digest --data-digest')} || { cat /tmp/tlshd.log; die "connect --tls"; }
dev=$(nvme_wait_dev ${NQN}) || die "no device over TLS"
c=$(nvme_ctrls ${NQN})
echo "CTRL-TLS $(cat /sys/class/nvme/$c/tls_key 2>/dev/null) $(cat /sys/class/nvme/$c/address)"
fio --name=tls --filename=$dev --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio --direct=1 --size=16m --verify=crc32c --do_verify=1 --verify_fatal=1 >/tmp/fio.out 2>&1 || { cat /tmp/fio.out; die "fio verify over TLS"; }
grep -q "err= 0" /tmp/fio.out && echo FIO-TLS-OK
nvme disconnect -n ${NQN} >/dev/null
${connect(PORT_ALLOWED, '--tls')} || die "connect --tls on the allowed port"
nvme_wait_dev ${NQN} >/dev/null || die "no device over TLS (allowed port)"
nvme disconnect -n ${NQN} >/dev/null
${connect(PORT_ALLOWED)} || die "plain connect on the allowed port"
nvme_wait_dev ${NQN} >/dev/null || die "no device over plain TCP (allowed port)"
nvme disconnect -n ${NQN} >/dev/null
echo ALLOWED-OK
# The discovery log, asked in plain TCP on the 'allowed' port: what each port requires (TREQ) and offers (TSAS).
nvme discover -t tcp -a 10.0.2.2 -s ${PORT_ALLOWED} --hostnqn=${HOST} >/tmp/disc.out 2>&1 || { cat /tmp/disc.out; die "discover"; }
echo DISCOVERY-BEGIN; cat /tmp/disc.out; echo DISCOVERY-END
if ${connect(PORT_REQUIRED)} 2>/tmp/plain.err; then die "a plain connect to the TLS-only port succeeded"; fi
echo "PLAIN-REFUSED $(cat /tmp/plain.err | head -1)"
clear_psks
insert_psk '${WRONG_KEY}'
if ${connect(PORT_REQUIRED, '--tls')} 2>/tmp/wrong.err; then die "connect --tls with a wrong PSK succeeded"; fi
echo "WRONG-PSK-REFUSED $(cat /tmp/wrong.err | head -1)"
# Version 0 only: its identity carries no digest, so the wrong key shows in the handshake itself.
clear_psks
insert_psk '${WRONG_KEY}' 0
if ${connect(PORT_REQUIRED, '--tls')} 2>/tmp/wrong0.err; then die "connect --tls with a wrong version-0 PSK succeeded"; fi
echo "WRONG-PSK0-REFUSED $(cat /tmp/wrong0.err | head -1)"
cat /tmp/tlshd.log
`,
  });
  const log = target.lines.join('\n');
  assert.equal(r.exitCode, 0, `${r.output}\n--- target ---\n${log}`);
  assert.match(r.output, /FIO-TLS-OK/);
  assert.match(r.output, /ALLOWED-OK/);
  // nvme-cli 2.13 prints each entry's TREQ and, for TCP, TSAS's SECTYPE: one entry per port of the subsystem.
  const disc = /DISCOVERY-BEGIN\n([\s\S]*?)DISCOVERY-END/.exec(r.output)?.[1] ?? '';
  const entries = disc.split(/=====Discovery Log Entry \d+======/).filter((e) => e.includes(`subnqn:  ${NQN}`));
  const entryOf = (port: number) => entries.find((e) => new RegExp(`trsvcid: ${port}\\b`).test(e)) ?? '';
  assert.match(entryOf(PORT_REQUIRED), /treq:\s+required/, disc);
  assert.match(entryOf(PORT_REQUIRED), /sectype: tls13/, disc);
  assert.match(entryOf(PORT_ALLOWED), /treq:\s+not required/, disc);
  assert.match(entryOf(PORT_ALLOWED), /sectype: tls13/, disc);
  assert.match(r.output, /PLAIN-REFUSED/);
  assert.match(r.output, /WRONG-PSK-REFUSED/);
  assert.match(r.output, /WRONG-PSK0-REFUSED/);
  const lines = logRecords(target.lines);
  const done = lines.filter((l) => l.message === 'TLS: handshake done');
  assert.ok(done.length >= 4, `a handshake per queue (admin and one I/O) of the two TLS connects:\n${log}`);
  assert.ok(done.every((l) => l.identity.startsWith(`NVMe1R01 ${HOST} ${NQN} `)), 'kernel 6.12 offers the version-1 identity');
  const refused = lines.filter((l) => l.message === 'TLS: connection refused').map((l) => l.reason);
  assert.ok(refused.some((r) => /plain NVMe\/TCP connection \(first byte 0x00\) on a port that requires TLS/.test(r)), log);
  assert.ok(refused.some((r) => /PSK digest is not that of the key configured for host/.test(r)), log);
  assert.ok(refused.some((r) => /TLS handshake failed/.test(r)), log);
  const secret = Buffer.from(KEY.split(':')[2], 'base64').subarray(0, 32);
  for (const form of [KEY.split(':')[2], secret.toString('hex'), secret.toString('base64')]) assert.ok(!log.includes(form), 'the key is never logged');
  for (const l of r.output.split('\n').filter((x) => /^(FIO-TLS-OK|ALLOWED-OK|PLAIN-REFUSED|WRONG-PSK)/.test(x))) t.diagnostic(`host: ${l}`);
  for (const reason of refused) t.diagnostic(`target refused: ${reason}`);
});
