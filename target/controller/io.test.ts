// The I/O command handlers (io.ts) called directly: checkIo() before data moves, executeIo() once it is in;
// driven by the Linux host's own reads and writes (target/protocol/testdata) and by hand-built SQEs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { Namespace } from '../subsystem/namespace.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { backendErrorStatus, checkIo, executeIo } from './io.js';
import { FailingBackend, NQN, cqeAsLinux, cqeHex, linuxCommand, memoryNamespace, request, rig, subsystem, type Rig } from './test-support/harness.js';

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

// ---- the data path, driven by the Linux host's own capsules ----

test("the Linux host's 4 KiB in-capsule Write and its Read back: the CQEs of the Linux target, the data written", async () => {
  const r = rig(subsystem([memoryNamespace(1, 64 << 20)]));
  const write = linuxCommand(3, 14);
  assert.equal(write.data?.length, 4096);
  const w = request(write.sqe, r.io, write.data);
  assert.equal(checkIo(w.req, r.sub), 0);
  executeIo(w.req, r.sub, r.sub.smart);
  assert.equal(cqeAsLinux(write, await w.done), write.cqe.toString('hex'));
  const read = linuxCommand(3, 15);
  const rd = request(read.sqe, r.io);
  assert.equal(checkIo(rd.req, r.sub), 0);
  executeIo(rd.req, r.sub, r.sub.smart);
  const c = await rd.done;
  assert.equal(cqeAsLinux(read, c), read.cqe.toString('hex'));
  assert.deepEqual(c.data, write.data);
  assert.deepEqual(c.data, read.c2hData, 'what the Linux target sent back');
  assert.deepEqual([r.sub.smart.hostWrites, r.sub.smart.unitsWritten, r.sub.smart.hostReads, r.sub.smart.unitsRead], [1, 8, 1, 8]);
});

test("checkIo passes the Linux host's reads, writes (R2T and in-capsule) and flush; refuses bad ranges, lengths, namespaces and opcodes", () => {
  const r = rig(subsystem([memoryNamespace(1, 64 << 20)]));
  for (const [stream, index] of [[2, 2], [2, 5], [3, 2], [3, 10], [3, 14], [3, 15]]) {
    assert.equal(checkIo(request(linuxCommand(stream, index).sqe, r.io).req, r.sub), 0, `stream ${stream} #${index}`);
  }
  const check = (f: Parameters<typeof buildSqe>[0]) => checkIo(request(buildSqe(f), r.io).req, r.sub);
  const last = (64 << 20) / 512 - 1;
  assert.equal(check({ opc: IoOpc.Read, cid: 1, nsid: 1, sglLen: 512, cdw10: last }), 0, 'the last block');
  // [what, SQE fields, status]
  const cases: Array<[string, Parameters<typeof buildSqe>[0], number]> = [
    ['Read past the end', { opc: IoOpc.Read, cid: 1, nsid: 1, sglLen: 1024, cdw10: last, cdw12: 1 }, Status.LbaOutOfRange],
    ['Read with SLBA above 2^32', { opc: IoOpc.Read, cid: 1, nsid: 1, sglLen: 512, cdw11: 1 }, Status.LbaOutOfRange],
    ['Write whose SGL is not NLB blocks', { opc: IoOpc.Write, cid: 1, nsid: 1, sglLen: 4096, cdw12: 0 }, Status.SglDataLengthInvalid],
    ['Read of nsid 2', { opc: IoOpc.Read, cid: 1, nsid: 2, sglLen: 512 }, Status.InvalidNamespace],
    ['Write Zeroes past the end', { opc: IoOpc.WriteZeroes, cid: 1, nsid: 1, cdw10: last, cdw12: 1 }, Status.LbaOutOfRange],
    ['Write Zeroes of nsid 0', { opc: IoOpc.WriteZeroes, cid: 1, nsid: 0 }, Status.InvalidNamespace],
    ['Dataset Management of 2 ranges with 16 bytes', { opc: IoOpc.DatasetManagement, cid: 1, nsid: 1, sglLen: 16, cdw10: 1 }, Status.SglDataLengthInvalid],
    ['Dataset Management of nsid 3', { opc: IoOpc.DatasetManagement, cid: 1, nsid: 3, sglLen: 16 }, Status.InvalidNamespace],
    ['Flush of nsid 2', { opc: IoOpc.Flush, cid: 1, nsid: 2 }, Status.InvalidNamespace],
    ['Compare (05h) is not implemented', { opc: 0x05, cid: 1, nsid: 1, sglLen: 512 }, Status.InvalidOpcode],
    ['Write Uncorrectable (04h)', { opc: 0x04, cid: 1, nsid: 1 }, Status.InvalidOpcode],
    ['Verify (0Ch)', { opc: 0x0c, cid: 1, nsid: 1 }, Status.InvalidOpcode],
  ];
  for (const [what, f, status] of cases) assert.equal(check(f), status, what);
  assert.equal(check({ opc: IoOpc.Flush, cid: 1, nsid: 0xffffffff }), 0, 'Flush of every namespace');
});

test('Write with FUA, Write Zeroes, Deallocate (and DSM hints only): the data read back, the CQE of success', async () => {
  const r = rig(subsystem([memoryNamespace(1, 1 << 20)]));
  const pattern = Buffer.alloc(4096, 0x5a);
  const w = await io(r, { opc: IoOpc.Write, cid: 0x10, nsid: 1, sglLen: 4096, cdw10: 16, cdw12: 7 | FUA }, pattern);
  assert.equal(cqeHex(w, 0, 1), '00000000' + '00000000' + '0000' + '0100' + '1000' + '0000');
  const readBack = async (slba: number, nlb: number) => (await io(r, { opc: IoOpc.Read, cid: 0x11, nsid: 1, sglLen: nlb * 512, cdw10: slba, cdw12: nlb - 1 })).data!;
  assert.deepEqual(await readBack(16, 8), pattern);
  assert.equal((await io(r, { opc: IoOpc.WriteZeroes, cid: 0x12, nsid: 1, cdw10: 17, cdw12: 0 })).status, 0);
  assert.deepEqual(await readBack(16, 3), Buffer.concat([Buffer.alloc(512, 0x5a), Buffer.alloc(512), Buffer.alloc(512, 0x5a)]));
  const range = Buffer.alloc(16);
  range.writeUInt32LE(2, 4);
  range.writeBigUInt64LE(20n, 8);
  assert.equal((await io(r, { opc: IoOpc.DatasetManagement, cid: 0x13, nsid: 1, sglLen: 16, cdw10: 0, cdw11: 0 }, range)).status, 0);
  assert.deepEqual(await readBack(20, 2), Buffer.alloc(1024, 0x5a), 'without AD: hints only, nothing deallocated');
  assert.equal((await io(r, { opc: IoOpc.DatasetManagement, cid: 0x14, nsid: 1, sglLen: 16, cdw10: 0, cdw11: DSM_AD }, range)).status, 0);
  assert.deepEqual(await readBack(19, 4), Buffer.concat([Buffer.alloc(512, 0x5a), Buffer.alloc(1024), Buffer.alloc(512, 0x5a)]));
  // A range beyond the namespace, found once the data is in: LBA Out of Range, nothing deallocated.
  const bad = Buffer.alloc(32);
  bad.writeUInt32LE(1, 4);
  bad.writeBigUInt64LE(16n, 8);
  bad.writeUInt32LE(1, 20);
  bad.writeBigUInt64LE(4096n, 24);
  assert.equal((await io(r, { opc: IoOpc.DatasetManagement, cid: 0x15, nsid: 1, sglLen: 32, cdw10: 1, cdw11: DSM_AD }, bad)).status, Status.LbaOutOfRange);
  assert.deepEqual(await readBack(16, 1), Buffer.alloc(512, 0x5a));
  assert.equal((await io(r, { opc: IoOpc.Flush, cid: 0x16, nsid: 0xffffffff })).status, 0);
});
