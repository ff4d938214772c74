// Acceptance of NVMe/TCP TLS across failures (issue 21, 2), with the Linux 6.12 host (tlshd, nvme-cli 2.13):
//  - a SIGKILL of the target under TLS and verified I/O: the host's controller reconnects and handshakes again
//    (one handshake per queue per connection), and loses nothing;
//  - a worker SIGKILL with in-pod resume under TLS: TLS ends in the supervisor, so the host notices nothing: no
//    reconnect, no new handshake, the one controller.
// Ports 4582-4583 and metrics 4590-4591 (tls-support.ts: 4580-4599).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGuest } from '../vm/guest.js';
import { guestTestScope } from '../vm/guest-test-scope.js';
import { startTarget, SUPERVISOR_MAIN } from '../support/target-process.js';
import { killServingWorker, type Recovery } from '../resume/support.js';
import { sleep, waitFor } from '../support/wait.js';
import { TLS_HOST_SETUP, TLS_KEY, TLS_NQN, logRecords, tlsConfig } from './tls-support.js';

const KILLS = 3;
const WORKER_KILLS = 5;
const IO_SECONDS = 25;

/** The guest: TLS connect, then fio crc32c verify (QD32) beside the generation writer, for `seconds`. */
function guestScript(port: number, seconds: number): string {
  return String.raw`${TLS_HOST_SETUP}
set -u
insert_psk '${TLS_KEY}'
nvme connect -t tcp -a 10.0.2.2 -s ${port} -n ${TLS_NQN} --tls --hdr-digest --data-digest --reconnect-delay=1 --ctrl-loss-tmo=120 --nr-io-queues=1 || { cat /tmp/tlshd.log; die connect; }
dev=$(nvme_wait_dev ${TLS_NQN}) || die "no device"
echo DEVICE=$dev
fio --name=load --filename=$dev --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=32 \
  --offset=64M --size=64M --time_based --runtime=${seconds + 10} --verify=crc32c --verify_backlog=512 \
  --verify_fatal=1 --output-format=terse --terse-version=3 > /tmp/fio.out 2>&1 &
fio_pid=$!
gen_writer $dev ${seconds}
gen_check $dev $gen
wait $fio_pid || { cat /tmp/fio.out; die "fio failed"; }
echo FIO-OK
echo DEVICE-END=$(nvme_dev ${TLS_NQN})
nvme disconnect -n ${TLS_NQN} || die disconnect
`;
}

async function metric(metricsPort: number, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}
const TLS_SUCCESS = /^nvmeof_target_auth_total\{method="tls",result="success"\} (\d+)/m;

test(`6.12: SIGKILL of the target ${KILLS} times under TLS and verified I/O: the host reconnects, handshakes again, loses nothing`, { timeout: 400_000 }, async (t) => {
  const scope = guestTestScope(t, '6.12', 'nvmeof-tls-kill-');
  const port = 4582;
  const metricsPort = 4590;
  writeFileSync(join(scope.dir, 'host.psk'), TLS_KEY, { mode: 0o600 });
  writeFileSync(join(scope.dir, 'config.json'), JSON.stringify(tlsConfig(scope.dir, [{ port, tls: 'required' }], metricsPort)));
  const args = ['--config', join(scope.dir, 'config.json')];
  scope.target = await startTarget(args);
  const lines: string[] = [];
  let ready = false;
  const guest = runGuest({
    kernel: '6.12', signal: scope.signal, script: guestScript(port, IO_SECONDS), timeoutMs: (IO_SECONDS + 200) * 1000, fio: true,
    onLine: (l) => { if (l.startsWith('DEVICE=')) ready = true; },
  });
  await waitFor('the guest to connect over TLS', async () => ready, 120_000, 100);
  const restarts: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    await sleep((IO_SECONDS * 1000) / (KILLS + 2));
    lines.push(...scope.target.lines);
    await scope.target.kill('SIGKILL');
    const at = Date.now();
    scope.target = await startTarget(args);
    // The host's next handshake on the restarted target: its reconnect is done.
    await waitFor('the host to handshake again', async () => logRecords(scope.target!.lines).some((l) => l.message === 'TLS: handshake done'), 60_000, 50);
    restarts.push(Date.now() - at);
  }
  const r = await guest;
  lines.push(...scope.target.lines);
  const tail = `\n--- guest ---\n${r.output.slice(-3000)}\n--- target ---\n${lines.slice(-20).join('\n')}`;
  assert.equal(r.exitCode, 0, `guest failed${tail}`);
  assert.match(r.output, /FIO-OK/);
  assert.doesNotMatch(r.dmesg, /I\/O error|blk_update_request|critical medium error|identifiers changed/);
  assert.equal(/DEVICE-END=(\S+)/.exec(r.output)?.[1], /DEVICE=(\S+)/.exec(r.output)?.[1], 'the namespace stayed the same device');
  const log = logRecords(lines);
  const handshakes = log.filter((l) => l.message === 'TLS: handshake done').length;
  assert.ok(handshakes >= 2 * (KILLS + 1), `a handshake for the admin and the I/O queue at the first connect and after each kill: ${handshakes}`);
  assert.equal(log.filter((l) => l.message === 'TLS: connection refused').length, 0, 'no handshake refused');
  t.diagnostic(`kill -> host handshaked again (ms): ${restarts.join(', ')}; handshakes: ${handshakes}`);
});

test(`6.12: worker SIGKILL ${WORKER_KILLS} times with in-pod resume under TLS: the host notices nothing`, { timeout: 400_000 }, async (t) => {
  const scope = guestTestScope(t, '6.12', 'nvmeof-tls-resume-');
  const port = 4583;
  const metricsPort = 4591;
  writeFileSync(join(scope.dir, 'host.psk'), TLS_KEY, { mode: 0o600 });
  writeFileSync(join(scope.dir, 'config.json'), JSON.stringify(tlsConfig(scope.dir, [{ port, tls: 'required' }], metricsPort)));
  const sup = scope.target = await startTarget(['--config', join(scope.dir, 'config.json'), '--rings', join(scope.dir, 'rings'), '--connection-slots', '4', '--rx-ring', '4M'],
    { main: SUPERVISOR_MAIN, keepLines: 5000 });
  let ready = false;
  const guest = runGuest({
    kernel: '6.12', signal: scope.signal, script: guestScript(port, IO_SECONDS), timeoutMs: (IO_SECONDS + 200) * 1000, fio: true,
    onLine: (l) => { if (l.startsWith('DEVICE=')) ready = true; },
  });
  await waitFor('the guest to connect over TLS', async () => ready, 120_000, 100);
  for (let i = 0; i < WORKER_KILLS; i++) {
    await sleep((IO_SECONDS * 1000) / (WORKER_KILLS + 2));
    await killServingWorker(`127.0.0.1:${metricsPort}`, `worker ${i + 1}`);
  }
  const r = await guest;
  const tail = `\n--- guest ---\n${r.output.slice(-3000)}\n--- target ---\n${sup.lines.slice(-20).join('\n')}`;
  assert.equal(r.exitCode, 0, `guest failed${tail}`);
  assert.match(r.output, /FIO-OK/);
  assert.doesNotMatch(r.dmesg, /I\/O error|blk_update_request|critical medium error/i, 'no I/O error');
  assert.doesNotMatch(r.dmesg, /error recovery|reconnect|resetting|reset controller|timeout|failed|identifiers changed|TLS handshake/i, `no reconnect, no new handshake:\n${r.dmesg}`);
  assert.equal((r.dmesg.match(/new ctrl: NQN/g) ?? []).length, 1, `one controller, connected once:\n${r.dmesg}`);
  const log = logRecords(sup.lines);
  const handshakes = log.filter((l) => l.message === 'TLS: handshake done');
  assert.equal(handshakes.length, 2, `one handshake per queue (admin, I/O), none after a worker kill:\n${handshakes.map((h) => JSON.stringify(h)).join('\n')}`);
  assert.ok(handshakes.every((h) => h.process === 'supervisor'), 'TLS ends in the supervisor');
  const rec = await (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json() as Recovery;
  assert.equal(rec.workerRestarts, WORKER_KILLS, 'every kill replaced the worker once');
  assert.ok(rec.resume.connectionsResumed >= 2 * WORKER_KILLS, `both queues resumed at every kill: ${rec.resume.connectionsResumed}`);
  assert.equal(await metric(metricsPort, TLS_SUCCESS), 2, 'nvmeof_target_auth_total{method="tls",result="success"}, counted by the supervisor, shown by the worker');
  t.diagnostic(`worker kills: ${WORKER_KILLS}, handshakes: ${handshakes.length}`);
});
