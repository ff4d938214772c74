// The host library against the real target process (dist/target/main.js): every command the library
// sends, in-capsule and R2T data paths, digests, queue depth beyond the slots, errors by NVMe status, and
// the ways a connection ends (Disconnect, H2CTermReq, keep-alive expiry).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTarget, type TargetProcess } from './target-process.js';
import { HostController, discover, NvmeStatusError, HostQueue, connectQueue, DEFAULT_HOSTNQN } from './index.js';
import { Status } from '../../target/protocol/status.js';
import { CtrlType, NsIdType } from '../../target/protocol/identify-layout.js';
import { DISCOVERY_NQN, FeatureId, LogId } from '../../target/protocol/opcodes.js';
import { SubType } from '../../target/protocol/discovery-log.js';
import { PduType, TermFes } from '../../target/protocol/pdu.js';
import { DYNAMIC_CNTLID } from '../../target/protocol/connect.js';

const MEM = 64 * 1024 * 1024;
const FILE = 32 * 1024 * 1024;

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let x = seed | 1;
  for (let i = 0; i < len; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

describe('host library against the target', () => {
  let t: TargetProcess;
  let dir: string;
  const connect = (o: Partial<Parameters<typeof HostController.connect>[0]> = {}) =>
    HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ...o });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nvmeof-host-'));
    t = await startTarget({
      namespaces: ['--memory', '64M', '--namespace', `${join(dir, 'ns2.img')}:32M`],
      // Provoked below: the host's H2CTermReq, and a CapsuleCmd with HLEN 71.
      expectProtocolErrors: [/"message":"host terminated the connection"/, /"kind":"hlen"/],
    });
  });
  after(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('discover lists the subsystem and the discovery service on the listener', async () => {
    const records = await discover({ host: t.host, port: t.port });
    const nvme = records.find((r) => r.subtype === SubType.Nvme);
    assert.deepEqual(nvme && { subnqn: nvme.subnqn, traddr: nvme.traddr, trsvcid: nvme.trsvcid }, { subnqn: t.nqn, traddr: t.host, trsvcid: String(t.port) });
    assert.ok(records.some((r) => r.subtype === SubType.CurrentDiscovery && r.subnqn === DISCOVERY_NQN));
  });

  test('connect, identify controller and namespaces', async () => {
    const c = await connect({ ioQueues: 2 });
    try {
      const id = c.info!;
      assert.equal(id.cntlid, c.cntlid);
      assert.notEqual(c.cntlid, DYNAMIC_CNTLID);
      assert.equal(id.subnqn, t.nqn);
      assert.equal(id.cntrltype, CtrlType.Io);
      assert.equal(id.sqes, 0x66);
      assert.equal(id.cqes, 0x44);
      assert.ok(id.ioccsz * 16 >= 64 + 4096, 'IOCCSZ allows 4 KiB in-capsule writes');
      assert.ok(id.sn.length > 0 && id.mn.length > 0);
      assert.deepEqual(await c.activeNamespaces(), [1, 2]);
      const ns1 = await c.identifyNamespace(1);
      assert.equal(ns1.nsze * ns1.blockSize, MEM);
      assert.equal(ns1.blockSize, 512);
      assert.equal(ns1.nmic & 1, 1, 'namespaces are shareable');
      const ns2 = await c.identifyNamespace(2);
      assert.equal(ns2.nsze * ns2.blockSize, FILE);
      const inactive = await c.identifyNamespace(7);
      assert.equal(inactive.nsze, 0, 'an inactive NSID reads as zeroes');
      const desc = await c.namespaceDescriptors(2);
      assert.deepEqual(desc.map((d) => d.type).sort(), [NsIdType.Eui64, NsIdType.Nguid, NsIdType.Uuid, NsIdType.Csi].sort());
      assert.deepEqual(desc.find((d) => d.type === NsIdType.Nguid)!.value, ns2.nguid);
      assert.equal(c.io.length, 2);
      assert.equal(c.io[0].maxh2cdata % 4, 0);
    } finally {
      await c.disconnect();
    }
  });

  for (const digests of [false, true]) {
    test(`writes and reads verify across in-capsule, R2T and multi-H2CData sizes (digests ${digests ? 'on' : 'off'})`, async () => {
      const c = await connect({ hdgst: digests, ddgst: digests, ioQueues: 2 });
      try {
        assert.equal(c.admin.hdgst, digests);
        assert.equal(c.admin.ddgst, digests);
        const q = c.io[1];
        const max = q.maxh2cdata;
        const sizes = [512, 4096, q.inCapsuleMax, q.inCapsuleMax + 512, max, max + 512, 3 * max + 1024, 1024 * 1024];
        let slba = 3; // unaligned on purpose
        for (const nsid of [1, 2]) {
          for (const size of sizes) {
            const src = pattern(size, size + nsid);
            await q.write(nsid, slba, size / 512, src);
            const dst = Buffer.alloc(size);
            await q.read(nsid, slba, size / 512, dst);
            assert.ok(dst.equals(src), `nsid ${nsid} size ${size}`);
            slba += size / 512 + 1;
          }
        }
        assert.ok(q.stats.r2t > 0 && q.stats.h2cData > q.stats.r2t, 'R2T path used, with several H2CData per R2T');
      } finally {
        await c.disconnect();
      }
    });
  }

  test('SQ flow control disabled: C2HData may complete reads without CapsuleResp', async () => {
    const c = await connect({ disableSqFlow: true });
    try {
      const q = c.io[0];
      const src = pattern(65536, 9);
      await q.write(1, 1000, 128, src);
      const dst = Buffer.alloc(65536);
      await q.read(1, 1000, 128, dst);
      assert.ok(dst.equals(src));
    } finally {
      await c.disconnect();
    }
  });

  test('many outstanding commands per queue, more than its depth, all verified', async () => {
    const c = await connect({ ioQueues: 2, queueDepth: 16 });
    try {
      const n = 400;
      const bufs = Array.from({ length: n }, (_, i) => pattern(4096 * (1 + (i % 3)), i));
      const lba = (i: number) => 20000 + i * 24;
      await Promise.all(bufs.map((b, i) => c.io[i % 2].write(1, lba(i), b.length / 512, b)));
      const back = bufs.map((b) => Buffer.alloc(b.length));
      await Promise.all(back.map((b, i) => c.io[(i + 1) % 2].read(1, lba(i), b.length / 512, b)));
      back.forEach((b, i) => assert.ok(b.equals(bufs[i]), `command ${i}`));
      assert.equal(c.io[0].inflight, 0);
    } finally {
      await c.disconnect();
    }
  });

  test('Flush, FUA, Write Zeroes and Dataset Management', async () => {
    const c = await connect();
    try {
      const q = c.io[0];
      for (const nsid of [1, 2]) {
        await q.write(nsid, 4096, 64, pattern(64 * 512, 3), { fua: true });
        await q.flush(nsid);
        await q.writeZeroes(nsid, 4096, 8);
        await q.dsm(nsid, [{ slba: 4096 + 16, nlb: 16 }, { slba: 4096 + 48, nlb: 8 }]);
        const dst = Buffer.alloc(64 * 512);
        await q.read(nsid, 4096, 64, dst);
        const src = pattern(64 * 512, 3);
        const zero = (a: number, b: number) => dst.subarray(a * 512, b * 512).every((x) => x === 0);
        assert.ok(zero(0, 8) && zero(16, 32) && zero(48, 56), `nsid ${nsid}: zeroed ranges`);
        assert.ok(dst.subarray(8 * 512, 16 * 512).equals(src.subarray(8 * 512, 16 * 512)), `nsid ${nsid}: untouched range`);
      }
      await q.flush(0xffffffff);
    } finally {
      await c.disconnect();
    }
  });

  test('errors come back as NVMe statuses by name', async () => {
    const c = await connect();
    try {
      const q = c.io[0];
      const blocks = MEM / 512;
      const status = async (p: Promise<unknown>) => {
        try {
          await p;
          return 0;
        } catch (e) {
          assert.ok(e instanceof NvmeStatusError, String(e));
          return e.status;
        }
      };
      assert.equal(await status(q.read(1, blocks - 1, 2, Buffer.alloc(1024))), Status.LbaOutOfRange);
      assert.equal(await status(q.write(1, blocks, 1, Buffer.alloc(512))), Status.LbaOutOfRange);
      assert.equal(await status(q.write(1, blocks - 8, 64, Buffer.alloc(64 * 512))), Status.LbaOutOfRange, 'beyond the in-capsule size too (no R2T for a bad command)');
      assert.equal(await status(q.read(9, 0, 1, Buffer.alloc(512))), Status.InvalidNamespace);
      assert.equal(await status(q.writeZeroes(1, blocks, 1)), Status.LbaOutOfRange);
      assert.equal(await status(c.identify(0x55)), Status.InvalidField);
      assert.equal(await status(c.getLogPage(0x7e, 512)), Status.InvalidLogPage);
      assert.equal(await status(c.setFeatures(FeatureId.HostIdentifier, 0)), Status.CommandSequenceError);
      // The queue still works after errors.
      await q.read(1, 0, 1, Buffer.alloc(512));
      const errlog = await c.getLogPage(LogId.ErrorInfo, 4096);
      assert.ok(errlog.readBigUInt64LE(0) >= 1n, 'the error log counted them');
    } finally {
      await c.disconnect();
    }
  });

  test('features, logs and keep alive', async () => {
    const hostid = randomBytes(16);
    const c = await connect({ hostid, kato: 2000 });
    try {
      const nq = await c.getFeatures(FeatureId.NumberOfQueues);
      assert.ok((nq.dw0 & 0xffff) >= 0 && nq.dw0 >>> 16 >= 0);
      await c.setFeatures(FeatureId.VolatileWriteCache, 0);
      assert.equal((await c.getFeatures(FeatureId.VolatileWriteCache)).dw0 & 1, 0);
      await c.setFeatures(FeatureId.VolatileWriteCache, 1);
      assert.equal((await c.getFeatures(FeatureId.KeepAliveTimer)).dw0, 2000);
      const id = Buffer.alloc(16);
      await c.getFeatures(FeatureId.HostIdentifier, { cdw11: 1, inp: id });
      assert.deepEqual(id, hostid);
      const smart = await c.getLogPage(LogId.Smart, 512);
      assert.ok(smart[3] > 0, 'available spare');
      await c.getLogPage(LogId.FirmwareSlot, 512);
      await c.getLogPage(LogId.CommandsEffects, 4096);
      await c.keepAlive();
      // Keep-alive traffic from the library keeps the controller past its KATO.
      await new Promise((r) => setTimeout(r, 2500));
      await c.io[0].read(1, 0, 1, Buffer.alloc(512));
    } finally {
      await c.disconnect();
    }
  });

  test('keep-alive expiry closes the connections without a C2HTermReq', async () => {
    const c = await connect({ kato: 1000, sendKeepAlive: false });
    const [admin, io] = await Promise.all([c.admin.closed, c.io[0].closed]);
    for (const info of [admin, io]) {
      assert.equal(info.closedByController, true);
      assert.equal(info.termReq, undefined);
    }
  });

  test('an H2CTermReq from the host closes the connection without a C2HTermReq', async () => {
    const c = await connect();
    c.admin.terminate(TermFes.InvalidHeaderField, 0, Buffer.alloc(8));
    const info = await c.admin.closed;
    assert.equal(info.termReq, undefined);
    // The controller is gone with its admin queue: the I/O queue closes too.
    const io = await c.io[0].closed;
    assert.equal(io.closedByController, true);
    assert.equal(io.termReq, undefined);
  });

  test('a protocol error gets a C2HTermReq naming the field, and the other connections keep working', async () => {
    const c = await connect();
    try {
      const bad = await HostQueue.open({ host: t.host, port: t.port });
      bad.sendRaw(Buffer.from([PduType.CapsuleCmd, 0, 71, 0, 72, 0, 0, 0])); // HLEN 71
      const info = await bad.closed;
      assert.equal(info.termReq?.fes, TermFes.InvalidHeaderField);
      assert.equal(info.termReq?.fei, 2, 'FEI: byte offset of HLEN');
      assert.equal(info.closedByController, true);
      await c.io[0].read(1, 0, 8, Buffer.alloc(4096));
    } finally {
      await c.disconnect();
    }
  });

  test('Connect errors: unknown subsystem, I/O queue of an unknown controller', async () => {
    const q = await HostQueue.open({ host: t.host, port: t.port });
    try {
      const o = { subnqn: 'nqn.2026-01.io.nvmeof:nope', hostnqn: DEFAULT_HOSTNQN, hostid: randomBytes(16) };
      await assert.rejects(connectQueue(q, o, 0, 8, DYNAMIC_CNTLID, 0, 0), (e: unknown) => e instanceof NvmeStatusError && e.status === Status.ConnectInvalidParameters);
      await assert.rejects(connectQueue(q, { ...o, subnqn: t.nqn }, 1, 8, 0x1234, 0, 0), (e: unknown) => e instanceof NvmeStatusError && e.status === Status.ConnectInvalidParameters);
    } finally {
      q.close();
      await q.closed;
    }
  });

  test('the target process is still alive', () => {
    assert.ok(t.alive(), t.output());
  });
});

describe('host library against a 4096-byte-block namespace', () => {
  test('reads and writes in 4 KiB blocks', async () => {
    const t = await startTarget({ namespaces: ['--memory', '16M'], extra: ['--block-size', '4096'] });
    try {
      const c = await HostController.connect({ host: t.host, port: t.port, subnqn: t.nqn });
      const ns = await c.identifyNamespace(1);
      assert.equal(ns.blockSize, 4096);
      assert.equal(ns.nsze, 4096);
      const src = pattern(12 * 4096, 5);
      await c.io[0].write(1, 7, 12, src);
      const dst = Buffer.alloc(src.length);
      await c.io[0].read(1, 7, 12, dst);
      assert.ok(dst.equals(src));
      await c.disconnect();
    } finally {
      await t.stop();
    }
  });
});
