// The host library in its SPDK mode (spdk.ts: SPDK v24.09's host as modelled from lib/nvme) against the real
// target process: attach and detach with the detach's CID reuse, reset, four I/O queues closed in any order,
// keep-alive at SPDK's default interval, Abort. Every test also requires that the target logged no protocol
// error. The same behaviour against SPDK's own captured bytes: target/transport/spdk-host*.test.ts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTarget, type TargetProcess } from './target-process.js';
import { SpdkController, SPDK_KATO_MS } from './index.js';
import { AdminOpc, FabricsType } from '../../target/protocol/opcodes.js';
import { Prop } from '../../target/protocol/properties.js';

const pattern = (len: number, seed: number) => Buffer.from(Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff));

describe('SPDK-mode host against the target process', () => {
  let t: TargetProcess;
  const connect = (ioQueues = 1) => SpdkController.connect({ host: t.host, port: t.port, subnqn: t.nqn, ioQueues });
  const noProtocolError = () => assert.doesNotMatch(t.output(), /protocol error/, 'the target logged no protocol error');

  before(async () => {
    t = await startTarget({ namespaces: ['--memory', '64M'] });
  });
  after(async () => {
    await t?.stop();
  });

  test('(a) attach (four AERs, CIDs 0-3), I/O, detach: its Property Get of CC reuses CID 3 of an outstanding AER; CC.SHN and CSTS answered', async () => {
    const c = await connect();
    const aers = c.adminSent.filter((s) => s.opc === AdminOpc.AsyncEventRequest).map((s) => s.cid);
    assert.deepEqual(aers, [0, 1, 2, 3]);
    const data = pattern(8192, 1);
    await c.io[0].write(1, 16, 16, data);
    const back = Buffer.alloc(8192);
    await c.io[0].read(1, 16, 16, back);
    assert.ok(back.equals(data));
    const before = c.adminSent.length;
    await c.detach();
    const detach = c.adminSent.slice(before);
    const prop = (s: { opc: number; fctype?: number; offset?: number }) => (s.opc === AdminOpc.Fabrics ? `${s.fctype === FabricsType.PropertyGet ? 'get' : 'set'} 0x${s.offset!.toString(16)}` : `opc 0x${s.opc.toString(16)}`);
    assert.deepEqual(detach.slice(0, 3).map((s) => `${prop(s)} cid ${s.cid}`), [`get 0x${Prop.CC.toString(16)} cid 3`, `set 0x${Prop.CC.toString(16)} cid 3`, `get 0x${Prop.CSTS.toString(16)} cid 3`]);
    const closed = await c.admin.closed;
    assert.equal(closed.error, undefined, 'the admin queue ended cleanly');
    assert.equal(closed.termReq, undefined);
    noProtocolError();
  });

  test('(d) reset: a new controller (new cntlid, same host), the whole initialisation again, the I/O queues reconnected with their qids; the data is there', async () => {
    const c = await connect(2);
    try {
      const data = pattern(4096, 2);
      await c.io[1].write(1, 64, 8, data);
      const old = c.cntlid;
      await c.reset();
      assert.notEqual(c.cntlid, old, 'SPDK takes the cntlid the new Connect returns');
      assert.deepEqual(c.io.map((q) => q.qid), [1, 2]);
      const back = Buffer.alloc(4096);
      await c.io[0].read(1, 64, 8, back);
      assert.ok(back.equals(data));
      const connects = c.adminSent.filter((s) => s.opc === AdminOpc.Fabrics && s.fctype === FabricsType.Connect);
      assert.equal(connects.length, 2, 'two admin Connects');
      assert.equal(c.adminSent.filter((s) => s.opc === AdminOpc.AsyncEventRequest).length, 8, 'four AERs each time');
    } finally {
      await c.detach();
    }
    noProtocolError();
  });

  test('(e) four I/O queues (spdk_nvme_perf -P 4), freed in any order, the lowest qid taken again', async () => {
    const c = await connect(4);
    try {
      assert.deepEqual(c.io.map((q) => q.qid), [1, 2, 3, 4]);
      assert.equal(c.io[0].depth, c.ioEntries - 1, 'SQSIZE CAP.MQES');
      const byQid = (qid: number) => c.io.find((q) => q.qid === qid)!;
      await c.freeIoQueue(byQid(3));
      await c.freeIoQueue(byQid(1));
      const buf = Buffer.alloc(4096);
      for (const q of c.io) await q.read(1, 0, 8, buf);
      const again = await c.connectIoQueue();
      assert.equal(again.qid, 1);
      await again.write(1, 8, 8, pattern(4096, 3));
      await c.freeIoQueue(byQid(4));
      await c.freeIoQueue(byQid(2));
      assert.deepEqual(c.io.map((q) => q.qid), [1]);
      await c.io[0].read(1, 8, 8, buf);
      assert.ok(buf.equals(pattern(4096, 3)));
    } finally {
      await c.detach();
    }
    noProtocolError();
  });

  test('(f) keep-alive: KATO 10 s from Get Features, Keep Alive at once and every 5 s; 11 s with nothing else and the controller is still there', async () => {
    const c = await connect(0);
    try {
      assert.equal(c.kato, SPDK_KATO_MS);
      await new Promise((r) => setTimeout(r, SPDK_KATO_MS + 1000));
      assert.ok(c.keepAlives >= 3, `Keep Alives sent: ${c.keepAlives}`);
      const id = await c.identifyController();
      assert.equal(id.cntlid, c.cntlid);
    } finally {
      await c.detach();
    }
    noProtocolError();
  });

  test('(g) Abort of an outstanding AER: "not aborted" (CDW0 bit 0 set); the AER stays outstanding until the detach drops it', async () => {
    const c = await connect(0);
    try {
      const r = await c.abort(0, 2);
      assert.equal(r.dw0 & 1, 1);
      assert.equal(c.admin.inflight, 4, 'the four AERs are still outstanding');
    } finally {
      await c.detach();
    }
    noProtocolError();
  });
});
