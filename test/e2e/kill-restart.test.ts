// Acceptance on real parts: the Linux kernel host writes and verifies through our target while the test
// kills the target with SIGKILL at random instants and restarts it with the same arguments.
// Pass only if the guest saw no I/O error, every block reads back its last written content, the guest
// kernel log has no "identifiers changed" and no I/O error, the namespace stayed the same device, and the
// cumulative recovery count (from the target's /recovery) rose by exactly the number of kills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GUEST_KERNELS, runGuest, type GuestKernel } from '../vm/guest.js';
import { guestTestScope } from '../vm/guest-test-scope.js';
import { startTarget, freePort } from '../support/target-process.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:chaos';
// The 6.1 host gets the long soak; the 6.12 host a shorter one (same checks, fewer kills) to keep CI in budget.
// CHAOS_KILLS and CHAOS_SECONDS set both.
const SOAK: Record<GuestKernel, { kills: number; seconds: number }> = {
  '6.1': { kills: 10, seconds: 60 },
  '6.12': { kills: 4, seconds: 30 },
};

async function recovery(metricsPort: number): Promise<{ count: number; last?: { durationSeconds: number; outcome: string } }> {
  const r = await fetch(`http://127.0.0.1:${metricsPort}/recovery`);
  assert.equal(r.status, 200);
  return r.json() as Promise<{ count: number }>;
}

for (const kernel of GUEST_KERNELS) {
  const KILLS = Number(process.env.CHAOS_KILLS ?? SOAK[kernel].kills);
  const MIN_SECONDS = Number(process.env.CHAOS_SECONDS ?? SOAK[kernel].seconds);
  test(`SIGKILL of the target ${KILLS} times under verified I/O from the Linux ${kernel} host loses nothing`, { timeout: 600_000 }, async (t) => {
    const scope = guestTestScope(t, kernel, 'nvmeof-chaos-');
    const dir = scope.dir;
    const port = await freePort();
    const metricsPort = await freePort();
    const args = [
      '--listen', `127.0.0.1:${port}`, '--nqn', NQN, '--namespace', `${join(dir, 'ns1.img')}:256M`,
      '--state', join(dir, 'state.bin'), '--metrics', `127.0.0.1:${metricsPort}`,
    ];
    scope.target = await startTarget(args);
    const before = (await recovery(metricsPort)).count;

    // Guest: a writer of distinct 4 KiB blocks (each holds its block number and generation) that reads every
    // block back, plus fio with crc32c verify at iodepth 32 on another region; both must never see an error.
    const script = `
  set -u
  nvme connect -t tcp -a 10.0.2.2 -s ${port} -n ${NQN} --reconnect-delay=1 --ctrl-loss-tmo=120 --nr-io-queues=1 || die connect
  dev=$(nvme_wait_dev ${NQN}) || die "no device"
  echo DEVICE=$dev
  fio --name=load --filename=$dev --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=32 \\
    --offset=64M --size=64M --time_based --runtime=${MIN_SECONDS + 30} --verify=crc32c --verify_backlog=512 \\
    --verify_fatal=1 --output-format=terse --terse-version=3 > /tmp/fio.out 2>&1 &
  fio_pid=$!
  gen_writer $dev ${MIN_SECONDS}
  gen_check $dev $gen
  wait $fio_pid || { cat /tmp/fio.out; die "fio failed"; }
  echo FIO-BEGIN; cat /tmp/fio.out; echo FIO-END
  echo DEVICE-END=$(nvme_dev ${NQN})
  nvme disconnect -n ${NQN} || die disconnect
  `;
    const genTimes: number[] = [];
    let ready = false;
    const guest = runGuest({
      kernel, signal: scope.signal, script, timeoutMs: (MIN_SECONDS + 180) * 1000, fio: true,
      onLine: (l) => {
        if (l.startsWith('DEVICE=')) ready = true;
        if (l.startsWith('GEN ')) genTimes.push(Date.now());
        if (process.env.E2E_VERBOSE) console.log(l);
      },
    });
    const kills: Array<{ at: number; restartedAt: number; recovery: number }> = [];
    while (!ready) await new Promise((r) => setTimeout(r, 100));
    const spacing = (MIN_SECONDS * 1000) / (KILLS + 1);
    for (let i = 0; i < KILLS; i++) {
      await new Promise((r) => setTimeout(r, spacing * (0.5 + Math.random())));
      const at = Date.now();
      await scope.target.kill('SIGKILL');
      scope.target = await startTarget(args);
      const rec = await recovery(metricsPort);
      kills.push({ at, restartedAt: Date.now(), recovery: rec.last?.durationSeconds ?? NaN });
    }
    const r = await guest;
    assert.equal(r.timedOut, false, `guest timed out:\n${r.output.slice(-3000)}`);
    assert.equal(r.exitCode, 0, `guest failed:\n${r.output.slice(-4000)}`);
    assert.doesNotMatch(r.dmesg, /identifiers changed/);
    assert.doesNotMatch(r.dmesg, /I\/O error|blk_update_request|critical medium error/);
    const dev = /DEVICE=(\S+)/.exec(r.output)?.[1];
    assert.equal(/DEVICE-END=(\S+)/.exec(r.output)?.[1], dev, 'the namespace stayed the same device');
    const after = (await recovery(metricsPort)).count;
    assert.equal(after - before, KILLS, 'the cumulative recovery count rose by exactly the number of kills');

    // Host-visible stall per kill: the longest gap between writer generations that spans the kill.
    console.log('kill | restart to serving (ms) | recovery (s) | host-visible stall (ms)');
    kills.forEach((k, i) => {
      const afterKill = genTimes.find((t) => t > k.restartedAt) ?? NaN;
      const beforeKill = [...genTimes].reverse().find((t) => t <= k.at) ?? NaN;
      console.log(`${i + 1} | ${k.restartedAt - k.at} | ${k.recovery.toFixed(3)} | ${afterKill - beforeKill}`);
    });
  });
}
