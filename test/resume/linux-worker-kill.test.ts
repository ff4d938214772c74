// Acceptance of in-pod resume on real parts: the Linux kernel host (qemu; both guests, 6.1 and 6.12) writes and
// verifies through the supervisor (dist/target/supervisor.js) at queue depth 32 while the test SIGKILLs the
// WORKER at random instants, RESUME_KILLS times over at least RESUME_SECONDS (defaults: 50 kills in 100 s with
// the 6.1 host; a shorter soak, 10 in 30 s, with the 6.12 host, to keep CI in budget). Every fifth worker
// is not killed but hangs (SIGSTOP): the supervisor's watchdog must kill it (3 s of silence). Meanwhile the
// host's I/O stalls, so it sends Keep Alive (only after a while with no completion: the controller has
// traffic-based keep-alive), which the next worker must answer within the host's KATO (5 s).
// Pass only if: no I/O error and no mismatch in the guest (fio crc32c verify at iodepth 32, and a dd writer
// that reads every block back), the guest kernel log shows no error recovery, no reconnect, no reset and no
// timeout, the host connected exactly once, the target counted every restart and resumed connections, the
// watchdog killed the hung workers and no other, and the admin queue carried commands across kills (its rx
// head moved between resumes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_KERNELS, runGuest, type GuestKernel } from '../vm/guest.js';
import { guestTestScope } from '../vm/guest-test-scope.js';
import { freePort, startTarget, SUPERVISOR_MAIN } from '../support/target-process.js';
import { hangWorker, killServingWorker, type Recovery } from './support.js';
import { sleep, waitFor } from '../support/wait.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:resume';
// Ten kills at least: the admin-queue check needs a hang (every fifth kill) with kills after it; with 5 kills the one
// hang is the last, and the admin rx head seen at each resume never moved (seen on 6.12).
const SOAK: Record<GuestKernel, { kills: number; seconds: number }> = {
  '6.1': { kills: 50, seconds: 100 },
  '6.12': { kills: 10, seconds: 30 },
};
// RESUME_LOG=FILE: every line the target prints (at debug level: each resumed connection's journal), the
// guest's output and its kernel log go to FILE, for a failure that needs more than the tail.
const LOG_FILE = process.env.RESUME_LOG;

for (const kernel of GUEST_KERNELS) {
  const KILLS = Number(process.env.RESUME_KILLS ?? SOAK[kernel].kills);
  const MIN_SECONDS = Number(process.env.RESUME_SECONDS ?? SOAK[kernel].seconds);
  // The guest's I/O runs until every kill is done: each restart takes about a second here, with qemu (TCG)
  // sharing the machine's cores.
  const HANGS = Math.floor(KILLS / 5);
  const IO_SECONDS = MIN_SECONDS + Math.ceil(KILLS * 1.5) + HANGS * 4;
  test(`SIGKILL of the worker ${KILLS} times under verified QD32 I/O: the Linux ${kernel} host never notices`, { timeout: (IO_SECONDS + 400) * 1000 }, async (t) => {
    const scope = guestTestScope(t, kernel, 'nvmeof-resume-e2e-');
    const dir = scope.dir;
    const port = await freePort();
    const metricsPort = await freePort();
    const sup = scope.target = await startTarget([
      '--listen', `127.0.0.1:${port}`, '--nqn', NQN, '--namespace', `${join(dir, 'ns1.img')}:256M`,
      '--state', join(dir, 'state.bin'), '--metrics', `127.0.0.1:${metricsPort}`,
      '--rings', join(dir, 'rings'), '--connection-slots', '8', '--rx-ring', '4M',
      '--log-level', 'debug',
    ], { main: SUPERVISOR_MAIN, keepLines: 5000, onLine: LOG_FILE ? (l) => appendFileSync(LOG_FILE, `${l}\n`) : undefined });
    const recovery = async (): Promise<Recovery> => (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json() as Promise<Recovery>;

    const script = `
  set -u
  nvme connect -t tcp -a 10.0.2.2 -s ${port} -n ${NQN} --reconnect-delay=1 --ctrl-loss-tmo=120 --nr-io-queues=2 || die connect
  dev=$(nvme_wait_dev ${NQN}) || die "no device"
  echo DEVICE=$dev
  fio --name=load --filename=$dev --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=32 \\
    --offset=64M --size=128M --time_based --runtime=${IO_SECONDS + 20} --verify=crc32c --verify_backlog=1024 \\
    --verify_fatal=1 --output-format=terse --terse-version=3 > /tmp/fio.out 2>&1 &
  fio_pid=$!
  fio --name=big --filename=$dev --ioengine=libaio --direct=1 --rw=write --bs=128k --iodepth=8 \\
    --offset=192M --size=32M --time_based --runtime=${IO_SECONDS + 20} --verify=crc32c --verify_backlog=64 \\
    --verify_fatal=1 --output-format=terse --terse-version=3 > /tmp/fio-big.out 2>&1 &
  big_pid=$!
  gen_writer $dev ${IO_SECONDS}
  echo WRITER-END
  gen_check $dev $gen
  wait $fio_pid || { cat /tmp/fio.out; die "fio failed"; }
  wait $big_pid || { cat /tmp/fio-big.out; die "fio (128k) failed"; }
  echo FIO-BEGIN; cat /tmp/fio.out /tmp/fio-big.out; echo FIO-END
  echo CTRLS=$(ls -d /sys/class/nvme-fabrics/ctl/nvme* 2>/dev/null | wc -l)
  echo DEVICE-END=$(nvme_dev ${NQN})
  nvme disconnect -n ${NQN} || die disconnect
  `;
    let ready = false;
    let gens = 0;
    let writerEnd = 0;
    const guest = runGuest({
      kernel, signal: scope.signal, script, timeoutMs: (IO_SECONDS + 300) * 1000, fio: true, cpus: 2,
      onLine: (l) => {
        if (l.startsWith('DEVICE=')) ready = true;
        if (l.startsWith('GEN ')) gens++;
        if (l.startsWith('WRITER-END')) writerEnd = Date.now();
        if (process.env.E2E_VERBOSE) console.log(l);
      },
    });
    await waitFor('the guest to connect', async () => ready, 120_000, 100);
    const before = await recovery();
    const spacing = (MIN_SECONDS * 1000) / (KILLS + 1);
    const pauses: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      await sleep(spacing * (0.3 + 1.4 * Math.random()));
      const at = Date.now();
      if (i % 5 === 4) {
        await hangWorker(`127.0.0.1:${metricsPort}`, `worker ${i + 1}`);
        continue;
      }
      await killServingWorker(`127.0.0.1:${metricsPort}`, `worker ${i + 1}`);
      pauses.push(Date.now() - at);
    }
    const killsEnd = Date.now();
    const r = await guest;
    if (LOG_FILE) appendFileSync(LOG_FILE, `--- guest ---\n${r.output}\n--- dmesg ---\n${r.dmesg}\n`);
    const rec = await recovery();
    const tail = () => `\n--- guest ---\n${r.output.slice(-4000)}\n--- target ---\n${sup.lines.slice(-30).join('\n')}`;
    // The admin queue at each resume (debug log). Its rx head moved, so commands crossed kills; and on a
    // failure, rx bytes the host sent (72 per command) against tx bytes answered (24 per completion) tell a
    // Keep Alive never answered from a guest too starved to see its answer.
    const adminResumes = sup.lines.filter((l) => l.includes('"resuming connection"'))
      .map((l) => JSON.parse(l) as { qid?: number; timestamp: string; head: number; rxTail: number; txTail: number; commands: unknown[] })
      .filter((e) => e.qid === 0);
    const adminTrail = () => `\n--- admin queue at each resume (time, rx head, rx tail, tx tail, commands in flight) ---\n${adminResumes
      .map((e) => `${e.timestamp} ${e.head} ${e.rxTail} ${e.txTail} ${JSON.stringify(e.commands)}`).join('\n')}`;
    assert.equal(r.timedOut, false, `guest timed out${tail()}`);
    assert.equal(r.exitCode, 0, `guest failed${tail()}`);
    assert.doesNotMatch(r.dmesg, /I\/O error|blk_update_request|critical medium error|Buffer I\/O/i, 'no I/O error');
    assert.doesNotMatch(r.dmesg, /error recovery|reconnect|resetting|reset controller|timeout|failed|identifiers changed/i, `no error recovery, reconnect, reset or timeout:\n${r.dmesg}${adminTrail()}`);
    assert.equal((r.dmesg.match(/new ctrl: NQN/g) ?? []).length, 1, `one controller, connected once:\n${r.dmesg}`);
    assert.equal(/DEVICE-END=(\S+)/.exec(r.output)?.[1], /DEVICE=(\S+)/.exec(r.output)?.[1], 'the namespace stayed the same device');
    assert.ok(writerEnd > killsEnd, 'every kill came while the guest was writing');
    assert.equal(rec.workerRestarts - before.workerRestarts, KILLS, 'every kill and hang restarted the worker once');
    assert.equal(rec.resume.workerHangs - before.resume.workerHangs, HANGS, 'the watchdog killed each hung worker, and no busy one');
    const resumedLines = sup.lines.filter((l) => l.includes('"connections resumed"'));
    assert.ok(rec.resume.connectionsResumed - before.resume.connectionsResumed >= 3 * KILLS,
      `the admin and both I/O queues resumed at every kill: ${JSON.stringify(before)} -> ${JSON.stringify(rec)}\n${resumedLines.slice(-5).join('\n')}`);
    const adminHeads = new Set(adminResumes.map((e) => e.head));
    assert.ok(adminHeads.size > 1, `the host sent admin commands (Keep Alive) while workers hung and were killed: admin rx head at every resume ${[...adminHeads].join(', ')}`);
    const fio = /FIO-BEGIN\n([\s\S]*?)FIO-END/.exec(r.output)?.[1] ?? '';
    const sorted = [...pauses].sort((a, b) => a - b);
    console.log(`kills: ${KILLS} (${HANGS} of them hangs); writer generations: ${gens}; kill to next worker serving (ms): median ${sorted[sorted.length >> 1]}, max ${sorted[sorted.length - 1]}; admin queue positions at resumes: ${adminHeads.size}`);
    console.log(`resumed connections: ${rec.resume.connectionsResumed}, commands redone: ${rec.resume.commandsRedone}, completions republished: ${rec.resume.completionsRepublished}`);
    for (const line of fio.trim().split('\n')) {
      const f = line.split(';');
      if (f.length > 50) console.log(`fio ${f[2]}: write IOPS ${f[48]}, errors ${f[4]}`);
    }
  });
}
