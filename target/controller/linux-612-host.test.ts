// What Debian trixie's Linux 6.12 host and nvme-cli 2.13 ask an I/O controller for, as captured on the wire (a
// logging proxy between the 6.12 guest of test/vm and the target: connect, nvme list, id-ctrl, id-ns, ns-descs,
// smart-log, error-log, fw-log). Each admin command, with the fields the host set, must complete successfully
// and return the length it asked for: 6.12 asked nothing 6.1 did not, and this keeps it that way without qemu.
// The kernel's side: drivers/nvme/host/core.c nvme_init_identify (Identify CNS 01h, the Commands Supported and
// Effects log when LPA bit 1 is set), nvme_init_non_mdts_limits (CNS 06h, CSI 0), nvme_scan_ns_list (CNS 02h),
// nvme_identify_ns_descs (CNS 03h), nvme_identify_ns (CNS 00h), nvme_set_queue_count (Set Features 07h);
// hwmon.c nvme_hwmon_init (the SMART log, NSID FFFFFFFFh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc } from '../protocol/opcodes.js';
import { executeAdmin } from './admin.js';
import type { LogSources } from './log-pages.js';
import { memoryNamespace, request, rig, subsystem } from './test-support/harness.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:diag';
const ALL = 0xffffffff;

// [who sent it, opcode, nsid, cdw10, cdw11, bytes of data the host asked for (0: none)], in the order sent.
const CAPTURED: Array<[string, number, number, number, number, number]> = [
  ['kernel: Identify controller', AdminOpc.Identify, 0, 0x01, 0, 4096],
  ['kernel: Commands Supported and Effects log', AdminOpc.GetLogPage, 0, 0x03ff0005, 0, 4096],
  ['kernel (hwmon): SMART log', AdminOpc.GetLogPage, ALL, 0x007f0002, 0, 512],
  ['kernel: Number of Queues (1 I/O queue)', AdminOpc.SetFeatures, 0, 0x07, 0, 0],
  ['kernel: Identify NVM command set controller (CSI 0)', AdminOpc.Identify, 0, 0x06, 0, 4096],
  ['kernel: Identify active namespace list', AdminOpc.Identify, 0, 0x02, 0, 4096],
  ['kernel: Identify namespace descriptors', AdminOpc.Identify, 1, 0x03, 0, 4096],
  ['kernel: Identify namespace', AdminOpc.Identify, 1, 0x00, 0, 4096],
  ['nvme-cli: smart-log', AdminOpc.GetLogPage, ALL, 0x007f0002, 0, 512],
  ['nvme-cli: error-log (64 entries)', AdminOpc.GetLogPage, ALL, 0x03ff0001, 0, 4096],
  ['nvme-cli: fw-log', AdminOpc.GetLogPage, ALL, 0x007f0003, 0, 512],
];

test('every admin command the Linux 6.12 host and nvme-cli 2.13 send to an I/O controller succeeds', async () => {
  const r = rig(subsystem([memoryNamespace(1, 64 << 20, 512, NQN)], undefined, NQN));
  const logs: LogSources = { smart: r.sub.smart, discoveryLog: () => Buffer.alloc(1024), takeChangedNamespaces: () => [] };
  let cid = 0;
  for (const [what, opc, nsid, cdw10, cdw11, len] of CAPTURED) {
    const { req, done } = request(buildSqe({ opc, cid: cid++, nsid, cdw10, cdw11, sglLen: len }), r.admin);
    executeAdmin(req, r.ctrl, logs);
    const c = await done;
    assert.equal(c.status, 0, `${what}: status ${c.status.toString(16)}`);
    assert.equal(c.data?.length ?? 0, len, `${what}: data length`);
  }
});
