// Namespace Attribute Notices (namespace-notices.ts): the list's rules as a table, then the plumbing through a
// Target with I/O controllers whose hosts did what the Linux host does (enable bit 8, keep an AER out, read
// log 04h without RAE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, FeatureId, LogId } from '../protocol/opcodes.js';
import { IdCtrl } from '../protocol/identify-layout.js';
import { Qpair } from './qpair.js';
import { Target } from './target.js';
import type { Controller } from './controller.js';
import { executeAdmin } from './admin.js';
import { identifyController } from './identify.js';
import {
  AEN_NAMESPACE_ATTRIBUTE, AEN_NAMESPACE_ATTRIBUTE_CHANGED, CHANGED_NAMESPACES_OVERFLOW, MAX_CHANGED_NAMESPACES, addChangedNamespace, takeChangedNamespaces,
} from './namespace-notices.js';
import { FakeTransport, HOSTID, HOSTNQN, request, subsystem } from './test-support/harness.js';

test('AER completion DW0 of the notice: type Notice (2h), information 00h, log page 04h', () => {
  assert.equal(AEN_NAMESPACE_ATTRIBUTE_CHANGED.toString(16), '40002');
});

test('the Changed Namespace List: each nsid once, the overflow entry past 1024 entries, and it stays so', () => {
  const full = Array.from({ length: MAX_CHANGED_NAMESPACES }, (_, i) => i + 1);
  const cases: Array<[string, number[], number, number[]]> = [
    ['first', [], 2, [2]],
    ['another', [2], 1, [2, 1]],
    ['again', [2, 1], 2, [2, 1]],
    ['the 1024th', full.slice(1), 1, [...full.slice(1), 1]],
    ['the 1025th', full, 2000, [CHANGED_NAMESPACES_OVERFLOW]],
    ['one already listed when full', full, 5, full],
    ['after overflow', [CHANGED_NAMESPACES_OVERFLOW], 7, [CHANGED_NAMESPACES_OVERFLOW]],
  ];
  for (const [name, list, nsid, want] of cases) assert.deepEqual(addChangedNamespace(list, nsid), want, name);
});

test('Identify Controller: OAES bit 8 on an I/O controller, bit 31 alone on a discovery controller', () => {
  const target = new Target([subsystem()]);
  const io = target.createController(target.allSubsystems()[0], HOSTNQN, HOSTID, 0)!;
  const disc = target.createController(target.discovery, HOSTNQN, HOSTID, 0)!;
  assert.equal(identifyController(io).readUInt32LE(IdCtrl.OAES), AEN_NAMESPACE_ATTRIBUTE);
  assert.equal(identifyController(disc).readUInt32LE(IdCtrl.OAES), 0x8000_0000);
});

const setAec = (v: number) => buildSqe({ opc: AdminOpc.SetFeatures, cid: 23, cdw10: FeatureId.AsyncEventConfig, cdw11: v });
const aer = (cid: number) => buildSqe({ opc: AdminOpc.AsyncEventRequest, cid });
/** Get Log Page 04h, all 4096 bytes (NUMDL 1023), with or without RAE, as nvme_clear_changed_ns_log reads it. */
const readLog = (rae: boolean) => buildSqe({ opc: AdminOpc.GetLogPage, cid: 25, sglLen: 4096, cdw10: LogId.ChangedNsList | (rae ? 1 << 15 : 0) | (1023 << 16) });
const tick = () => new Promise((r) => setImmediate(r));

function ioController(target: Target): { ctrl: Controller; run(sqe: Buffer): { done: Promise<{ status: number; dw0: number; data?: Buffer }>; settled(): boolean } } {
  const sub = target.allSubsystems()[0];
  const ctrl = target.createController(sub, HOSTNQN, HOSTID, 0)!;
  ctrl.admin = new Qpair(ctrl, 0, 31, new FakeTransport(), true);
  ctrl.setCC(0x460001);
  return {
    ctrl,
    run(sqe) {
      const { req, done } = request(sqe, ctrl.admin);
      let settled = false;
      void done.then(() => { settled = true; });
      executeAdmin(req, ctrl, { smart: sub.smart, discoveryLog: () => Buffer.alloc(0), takeChangedNamespaces });
      return { done, settled: () => settled };
    },
  };
}

const nsids = (log: Buffer) => {
  const out: number[] = [];
  for (let at = 0; at < log.length && log.readUInt32LE(at) !== 0; at += 4) out.push(log.readUInt32LE(at));
  return out;
};

test('a namespace change: the AER completes once, the list holds every nsid, a read without RAE clears and unmasks', async () => {
  const target = new Target([subsystem()]);
  const sub = target.allSubsystems()[0];
  const enabled = ioController(target);
  const silent = ioController(target); // its host never enabled bit 8: a list, no notice
  assert.equal((await enabled.run(setAec(AEN_NAMESPACE_ATTRIBUTE)).done).status, 0);
  const first = enabled.run(aer(31));
  const silentAer = silent.run(aer(31));
  await tick();
  assert.equal(first.settled(), false, 'the AER stays outstanding while nothing changes');

  assert.equal(target.namespacesChanged(sub, [2]), 1, 'only the controller that enabled bit 8 is told');
  const c = await first.done;
  assert.deepEqual([c.status, c.dw0], [0, AEN_NAMESPACE_ATTRIBUTE_CHANGED]);

  const second = enabled.run(aer(30));
  assert.equal(target.namespacesChanged(sub, [1, 2]), 0, 'masked until the host reads the log');
  await tick();
  assert.equal(second.settled(), false);

  assert.deepEqual(nsids((await enabled.run(readLog(true)).done).data!), [2, 1], 'RAE: the list as it is');
  assert.equal(target.namespacesChanged(sub, [3]), 0, 'RAE keeps the notice masked');
  assert.deepEqual(nsids((await enabled.run(readLog(false)).done).data!), [2, 1, 3]);
  assert.deepEqual(nsids((await enabled.run(readLog(false)).done).data!), [], 'a read without RAE empties it');

  assert.equal(target.namespacesChanged(sub, [4]), 1, 'unmasked by the read without RAE');
  assert.deepEqual([(await second.done).dw0], [AEN_NAMESPACE_ATTRIBUTE_CHANGED]);

  await tick();
  assert.equal(silentAer.settled(), false, 'no notice to a host that did not enable it');
  assert.deepEqual(nsids((await silent.run(readLog(false)).done).data!), [2, 1, 3, 4], 'but its list records every change');
});

test('past 1024 changed namespaces the log reads FFFFFFFFh alone', async () => {
  const target = new Target([subsystem()]);
  const h = ioController(target);
  target.namespacesChanged(target.allSubsystems()[0], Array.from({ length: MAX_CHANGED_NAMESPACES + 1 }, (_, i) => i + 1));
  const log = (await h.run(readLog(false)).done).data!;
  assert.equal(log.length, 4096);
  assert.deepEqual(nsids(log), [CHANGED_NAMESPACES_OVERFLOW]);
});
