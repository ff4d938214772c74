// Discovery Log Page Change Notices (discovery-notices.ts): the rules as tables, then the plumbing through a
// Target with a discovery controller whose host did what the Linux host does (enable bit 31, keep an AER out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, FeatureId, LogId } from '../protocol/opcodes.js';
import { decodeDiscoveryLog } from '../protocol/discovery-log.js';
import { Qpair } from './qpair.js';
import { Target } from './target.js';
import type { Controller } from './controller.js';
import { executeAdmin } from './admin.js';
import type { LogSources } from './log-pages.js';
import { AEN_DISCOVERY_LOG_CHANGED, noticeDue, validDiscoveryAsyncEventConfig } from './discovery-notices.js';
import { FakeTransport, HOSTID, HOSTNQN, request, subsystem, type Completion } from './test-support/harness.js';

test('AER completion DW0 of the notice: type Notice (2h), information F0h, log page 70h', () => {
  assert.equal(AEN_DISCOVERY_LOG_CHANGED.toString(16), '70f002');
});

test('Asynchronous Event Configuration of a discovery controller: bit 31 only', () => {
  const cases: Array<[number, boolean]> = [
    [0, true], [0x8000_0000, true], [-0x8000_0000, true], // the same bits, read as a signed 32-bit value
    [0x1, false], [0x900, false], [0x8000_0100, false], [0xffff_ffff, false],
  ];
  for (const [aec, ok] of cases) assert.equal(validDiscoveryAsyncEventConfig(aec), ok, `AEC ${aec.toString(16)}`);
});

test('a notice is due when bit 31 is enabled and the last one was followed by a read without RAE', () => {
  const cases: Array<[number, boolean, boolean]> = [
    [0x8000_0000, false, true],
    [0x8000_0000, true, false],
    [0, false, false],
    [0x7fff_ffff, false, false],
  ];
  for (const [aec, masked, due] of cases) assert.equal(noticeDue(aec, masked), due, `AEC ${aec.toString(16)}, masked ${masked}`);
});

interface Discovery {
  target: Target;
  ctrl: Controller;
  logs: LogSources;
  run(sqe: Buffer): { done: Promise<Completion>; settled: () => boolean };
}

/** A target with one subsystem and a discovery controller, enabled, reached on 10.0.2.2 (as the guest does). */
function discovery(): Discovery {
  const target = new Target([subsystem()]);
  const ctrl = target.createController(target.discovery, HOSTNQN, HOSTID, 5000)!;
  ctrl.admin = new Qpair(ctrl, 0, 31, new FakeTransport('10.0.2.2'), true);
  ctrl.setCC(1);
  const logs: LogSources = { smart: target.discovery.smart, discoveryLog: (c, a) => target.discoveryLog(c.hostnqn, a), takeChangedNamespaces: () => [] };
  return {
    target, ctrl, logs,
    run(sqe) {
      const { req, done } = request(sqe, ctrl.admin);
      let settled = false;
      void done.then(() => { settled = true; });
      executeAdmin(req, ctrl, logs);
      return { done, settled: () => settled };
    },
  };
}

const setAec = (v: number) => buildSqe({ opc: AdminOpc.SetFeatures, cid: 23, cdw10: FeatureId.AsyncEventConfig, cdw11: v });
const aer = (cid: number) => buildSqe({ opc: AdminOpc.AsyncEventRequest, cid });
/** Get Log Page 70h of its first KiB (the header), with or without RAE, as the Linux host reads it. */
const readLog = (rae: boolean) => buildSqe({ opc: AdminOpc.GetLogPage, cid: 25, sglLen: 1024, cdw10: LogId.Discovery | (rae ? 1 << 15 : 0) | (255 << 16) });
const tick = () => new Promise((r) => setImmediate(r));

test('a log change completes the outstanding AER with the notice once; the next waits for a read without RAE', async () => {
  const d = discovery();
  assert.equal((await d.run(setAec(0x8000_0000)).done).status, 0);
  const first = d.run(aer(31));
  await tick();
  assert.equal(first.settled(), false, 'the AER stays outstanding while nothing changes');
  const genctr = async () => decodeDiscoveryLog((await d.run(readLog(true)).done).data!).genctr;
  const before = await genctr();

  assert.equal(d.target.discoveryLogChanged(), 1);
  const c = await first.done;
  assert.deepEqual([c.status, c.dw0], [0, AEN_DISCOVERY_LOG_CHANGED]);
  assert.equal(await genctr(), before + 1n, 'GENCTR moves with the change');

  // The host re-arms at once (a new AER), but has only read the log with RAE: a second change is not told.
  const second = d.run(aer(30));
  assert.equal(d.target.discoveryLogChanged(), 0);
  await tick();
  assert.equal(second.settled(), false);
  // A read without RAE unmasks: the next change completes the AER that waited.
  assert.equal((await d.run(readLog(false)).done).status, 0);
  assert.equal(d.target.discoveryLogChanged(), 1);
  assert.equal((await second.done).dw0, AEN_DISCOVERY_LOG_CHANGED);
  assert.equal(await genctr(), before + 3n);
});

test('a notice raised while no AER is outstanding completes the next AER at once', async () => {
  const d = discovery();
  await d.run(setAec(0x8000_0000)).done;
  assert.equal(d.target.discoveryLogChanged(), 1);
  const c = await d.run(aer(31)).done;
  assert.deepEqual([c.status, c.dw0], [0, AEN_DISCOVERY_LOG_CHANGED]);
});

test('a host that did not enable the notice (AEC 0) is never told, and its AER stays outstanding', async () => {
  const d = discovery();
  const out = d.run(aer(31));
  assert.equal(d.target.discoveryLogChanged(), 0);
  await d.run(setAec(0)).done;
  assert.equal(d.target.discoveryLogChanged(), 0);
  await tick();
  assert.equal(out.settled(), false);
  assert.equal(d.ctrl.pendingAers.length, 1);
});

test('I/O controllers are not told of discovery log changes', async () => {
  const target = new Target([subsystem()]);
  const sub = target.allSubsystems()[0];
  const ctrl = target.createController(sub, HOSTNQN, HOSTID, 0)!;
  ctrl.features.asyncEventConfig = 0x8000_0000;
  assert.equal(target.discoveryLogChanged(), 0);
  assert.equal(ctrl.pendingAers.length, 0);
});
