// In-pod resume after SPDK's host retired an AER by reusing its CID (issue 18): the host completes its AERs
// inside itself (as at detach and reset) and sends a Property Get of CC with CID 3 while the target still holds
// AERs 0-3; the target retires AER 3. Then the worker is SIGKILLed: the next worker must rebuild AERs 0-2 only
// (the retired one left the journal), and they must deliver events in order, never a completion for CID 3.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostController, SpdkController, asyncEventRequestSqe, resvAcquireCommand, resvRegisterCommand, resvReleaseCommand } from '../host/index.js';
import { startSupervised } from './support.js';
import { CAPSULE_CQE, PduType } from '../../target/protocol/pdu.js';
import { CQE } from '../../target/protocol/cqe.js';
import { AdminOpc, FabricsType, LogId } from '../../target/protocol/opcodes.js';
import { Prop } from '../../target/protocol/properties.js';
import { AcquireAction, AEN_RESERVATION_LOG, RegisterAction, ReleaseAction, ResvLog, ResvType } from '../../target/protocol/reservations.js';

const dir = mkdtempSync(join(tmpdir(), 'nvmeof-spdk-aer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a worker swap after an AER was retired by CID reuse: AERs 0-2 are rebuilt and deliver events; the retired AER 3 never completes', async () => {
  const t = await startSupervised({ namespaces: ['--namespace', `${join(dir, 'ns1.img')}:64M`], extra: ['--state', join(dir, 'state.bin')] });
  const hostA = { host: t.host, port: t.port, subnqn: t.nqn, hostid: Buffer.alloc(16, 0xa1), hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:a1a1a1a1-0000-4000-8000-00000000000a' };
  const a = await SpdkController.connect({ ...hostA, ioQueues: 1 });
  const b = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, hostid: Buffer.alloc(16, 0xb2), hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:b2b2b2b2-0000-4000-8000-00000000000b' });
  try {
    // Completions the target sends for AERs this host no longer has: their CIDs, in order.
    const stray: number[] = [];
    a.admin.onUnexpected = (type, h) => {
      if (type === PduType.CapsuleResp) stray.push(h.readUInt16LE(CAPSULE_CQE + CQE.CID));
    };
    assert.deepEqual(a.abortAersLocally(), [0, 1, 2, 3]);
    await a.propertyGet(Prop.CC);
    const last = a.adminSent.at(-1)!;
    assert.deepEqual({ opc: last.opc, fctype: last.fctype, cid: last.cid }, { opc: AdminOpc.Fabrics, fctype: FabricsType.PropertyGet, cid: 3 });

    const before = await t.recovery();
    await t.killWorker();
    const afterKill = await t.recovery();
    assert.equal(afterKill.workerRestarts, before.workerRestarts + 1);
    assert.equal(afterKill.resume.commandsRedone - before.resume.commandsRedone, 3, 'AERs 0-2 rebuilt, not the retired AER 3');

    // Reservation notices raise events (one until the log is read): A registered and holding, B preempts it.
    const KA = 0xa1n;
    const KB = 0xb2n;
    const ok = async (p: Promise<{ status: number }>, what: string) => assert.equal((await p).status, 0, what);
    const { sqe: regB, data: regBData } = resvRegisterCommand(1, { action: RegisterAction.Register, nrkey: KB });
    await ok(b.io[0].submit(regB, { out: regBData }), 'B registers');
    const notice = async (n: number) => {
      const { sqe: reg, data: regData } = resvRegisterCommand(1, { action: RegisterAction.Register, nrkey: KA });
      await ok(a.io[0].submit(reg, { out: regData }), `A registers (${n})`);
      const acq = resvAcquireCommand(1, { action: AcquireAction.Acquire, rtype: ResvType.WriteExclusive, crkey: KA });
      await ok(a.io[0].submit(acq.sqe, { out: acq.data }), `A acquires (${n})`);
      const pre = resvAcquireCommand(1, { action: AcquireAction.Preempt, rtype: ResvType.WriteExclusive, crkey: KB, prkey: KA });
      await ok(b.io[0].submit(pre.sqe, { out: pre.data }), `B preempts A (${n})`);
      const rel = resvReleaseCommand(1, { action: ReleaseAction.Release, rtype: ResvType.WriteExclusive, crkey: KB });
      await ok(b.io[0].submit(rel.sqe, { out: rel.data }), `B releases (${n})`);
    };
    const until = async (n: number) => {
      for (let i = 0; i < 100 && stray.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    for (let n = 1; n <= 3; n++) {
      await notice(n);
      await until(n);
      assert.deepEqual(stray, [0, 1, 2].slice(0, n), `event ${n} completes the next rebuilt AER`);
      // Reading the log (without RAE) lets the next notice raise an event.
      assert.equal((await a.getLogPage(LogId.ReservationNotification, ResvLog.SIZE)).readBigUInt64LE(ResvLog.COUNT) > 0n, true);
    }
    // A fourth event finds no AER at the target (the retired one is gone): it waits for the next AER.
    await notice(4);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(stray, [0, 1, 2], 'no completion for CID 3');
    const ev = await a.admin.submit(asyncEventRequestSqe());
    assert.deepEqual({ status: ev.status, dw0: ev.dw0 }, { status: 0, dw0: AEN_RESERVATION_LOG }, 'a new AER gets the waiting event at once');
    assert.doesNotMatch(t.output(), /protocol error/);
  } finally {
    await a.detach().catch(() => a.destroy());
    await b.disconnect().catch(() => b.destroy());
    await t.stop();
  }
});
