// The I/O command handlers (io.ts) called directly: checkIo() before data moves, executeIo() once it is in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { Namespace } from '../subsystem/namespace.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { backendErrorStatus, executeIo } from './io.js';
import { FailingBackend, NQN, cqeHex, memoryNamespace, request, rig, subsystem, type Rig } from './test-support/harness.js';

const FUA = 1 << 30;
const DSM_AD = 1 << 2;

function failingNamespace(nsid: number, code = 'EIO', errno = -5, blockSize: 512 | 4096 = 512): Namespace {
  return new Namespace(nsid, blockSize, deriveNamespaceIds(NQN, nsid), new FailingBackend(1 << 20, `/var/lib/nvmeof/ns${nsid}.img`, code, errno));
}

/** Executes an I/O command on the rig's I/O queue; resolves with its completion. */
function io(r: Rig, f: Parameters<typeof buildSqe>[0], data?: Buffer) {
  const { req, done } = request(buildSqe(f), r.io, data);
  executeIo(req, r.sub, r.sub.smart);
  return done;
}

// ---- backend errors ----

test('a Read the backend fails with EIO gets Unrecovered Read Error (SCT 2h, SC 81h), reported with its namespace, range and errno', async () => {
  const r = rig(subsystem([failingNamespace(1, 'EIO', -5, 4096)]));
  // SLBA 0x10, NLB 2 (0-based 1), 4 KiB blocks: bytes 64 KiB .. 72 KiB.
  const c = await io(r, { opc: IoOpc.Read, cid: 0x21, nsid: 1, sglLen: 8192, cdw10: 0x10, cdw12: 1 });
  assert.equal(c.status, 0x281);
  assert.equal(c.status, Status.UnrecoveredReadError);
  // DW0, DW1, SQHD 5, SQID 1, CID 0x21, status (0x281 << 1 = 0x0502, little-endian).
  assert.equal(cqeHex(c, 5, 1), '00000000' + '00000000' + '0500' + '0100' + '2100' + '0205');
  assert.equal(c.data, undefined, 'no data for a failed read');
  assert.deepEqual(r.backendErrors, [{
    subnqn: NQN, nsid: 1, path: '/var/lib/nvmeof/ns1.img', opcode: IoOpc.Read, offset: 0x10 * 4096, length: 8192,
    errno: 'EIO', message: 'EIO: i/o error, read', status: Status.UnrecoveredReadError,
  }]);
  assert.equal(r.sub.smart.mediaErrors, 1, 'SMART counts the media error');
});

test('a Write the backend fails gets Write Fault (SCT 2h, SC 80h); with FUA too', async () => {
  const r = rig(subsystem([failingNamespace(1)]));
  for (const cdw12 of [0, FUA]) {
    const c = await io(r, { opc: IoOpc.Write, cid: 7, nsid: 1, sglLen: 512, cdw10: 3, cdw12 }, Buffer.alloc(512, 0xab));
    assert.equal(c.status, Status.WriteFault);
    assert.equal(cqeHex(c, 0, 1).slice(-4), '0005', 'status field 0x280 << 1');
  }
  assert.deepEqual(r.backendErrors.map((e) => [e.opcode, e.offset, e.length, e.errno]), [[IoOpc.Write, 1536, 512, 'EIO'], [IoOpc.Write, 1536, 512, 'EIO']]);
  assert.equal(r.sub.smart.mediaErrors, 2);
  assert.equal(r.sub.smart.hostWrites, 0, 'a failed write is not counted as written');
});

test('Write Zeroes, Deallocate and Flush the backend fails get Write Fault, each reported with the range it failed on', async () => {
  const r = rig(subsystem([failingNamespace(2)]));
  const wz = await io(r, { opc: IoOpc.WriteZeroes, cid: 1, nsid: 2, cdw10: 8, cdw12: 15 });
  assert.equal(wz.status, Status.WriteFault);
  const ranges = Buffer.alloc(32);
  ranges.writeUInt32LE(4, 4); // range 0: 4 blocks at LBA 100
  ranges.writeBigUInt64LE(100n, 8);
  ranges.writeUInt32LE(2, 20); // range 1: never reached
  ranges.writeBigUInt64LE(200n, 24);
  const dsm = await io(r, { opc: IoOpc.DatasetManagement, cid: 2, nsid: 2, sglLen: 32, cdw10: 1, cdw11: DSM_AD }, ranges);
  assert.equal(dsm.status, Status.WriteFault);
  const flush = await io(r, { opc: IoOpc.Flush, cid: 3, nsid: 2 });
  assert.equal(flush.status, Status.WriteFault);
  assert.deepEqual(r.backendErrors.map((e) => [e.opcode, e.nsid, e.offset, e.length, e.errno]), [
    [IoOpc.WriteZeroes, 2, 8 * 512, 16 * 512, 'EIO'],
    [IoOpc.DatasetManagement, 2, 100 * 512, 4 * 512, 'EIO'],
    [IoOpc.Flush, 2, 0, 1 << 20, 'EIO'],
  ]);
  assert.equal((r.sub.namespaces.get(2)!.backend as FailingBackend).calls, 3, 'Deallocate stops at the first range that fails');
});

test('ENOSPC and EDQUOT get Capacity Exceeded (DNR), as nvmet answers ENOSPC; not a media error', async () => {
  for (const [code, errno] of [['ENOSPC', -28], ['EDQUOT', -122]] as const) {
    const r = rig(subsystem([failingNamespace(1, code, errno)]));
    const c = await io(r, { opc: IoOpc.Write, cid: 9, nsid: 1, sglLen: 512, cdw10: 0 }, Buffer.alloc(512));
    assert.equal(c.status, 0x4081, code);
    assert.equal(c.status, Status.CapacityExceeded);
    assert.equal(r.backendErrors[0].errno, code);
    assert.equal(r.sub.smart.mediaErrors, 0);
  }
});

test('a Flush of every namespace reports the one that failed and still flushes the others', async () => {
  let flushed = 0;
  const good = memoryNamespace(1);
  const flush = good.backend.flush.bind(good.backend);
  good.backend.flush = () => { flushed++; return flush(); };
  const r = rig(subsystem([good, failingNamespace(2), memoryNamespace(3)]));
  const c = await io(r, { opc: IoOpc.Flush, cid: 4, nsid: 0xffffffff });
  assert.equal(c.status, Status.WriteFault);
  assert.deepEqual(r.backendErrors.map((e) => [e.nsid, e.path]), [[2, '/var/lib/nvmeof/ns2.img']]);
  assert.equal(flushed, 1);
});

test('backendErrorStatus: errors without an errno still get the status of their operation', () => {
  assert.equal(backendErrorStatus(IoOpc.Read, new Error('bug')), Status.UnrecoveredReadError);
  assert.equal(backendErrorStatus(IoOpc.Write, undefined), Status.WriteFault);
  assert.equal(backendErrorStatus(IoOpc.Flush, Object.assign(new Error('x'), { code: 'EROFS' })), Status.WriteFault);
  assert.equal(backendErrorStatus(IoOpc.Read, Object.assign(new Error('x'), { code: 'ENOSPC' })), Status.CapacityExceeded);
});
