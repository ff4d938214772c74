// A state file written by an earlier build, restored by this one: target/state/testdata/killed.state.bin.gz
// was written by the build of commit c54a9f0 (a target serving a host over TCP: admin and I/O queue, five
// 1 MiB writes by R2T whose data never came, the fifth waiting for the data budget), copied while that
// target was alive, as a SIGKILL leaves it. This build must open it as `restored` and find what it held.
// `PIN_WRITE=1 node --test dist/target/runtime/restore-pinned.test.js` writes it again from the build under
// test (never needed: it pins that build's file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runTarget } from './run.js';
import { TcpFrontEnd } from '../transport/tcp-front-end.js';
import type { TargetConfig } from '../config/config.js';
import type { Logger } from '../controller/observer.js';
import { buildSqe } from '../protocol/sqe.js';
import { IoOpc } from '../protocol/opcodes.js';
import { capsulePdu, connectPdu, enablePdu, icReqPdu } from '../transport/test-support/host-pdus.js';

const FILE = fileURLToPath(new URL('../../../target/state/testdata/killed.state.bin.gz', import.meta.url));
const NQN = 'nqn.2026-01.io.example:pinned-state';
const HOST = 'nqn.2026-01.io.example:pinned-state-host';
const BOOT_ID = '6f1d2c3b-0000-4000-8000-00000000c54a';

function config(dir: string): TargetConfig {
  return {
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{
      nqn: NQN, allowAnyHost: true, listeners: [{ address: '127.0.0.1', port: 0 }],
      namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns.img'), size: 8 << 20 } }],
      stateFile: join(dir, 'state.bin'),
    }],
  };
}

function recordingLog(lines: Array<{ msg: string; meta?: Record<string, unknown> }>): Logger {
  const at = (msg: string, meta?: Record<string, unknown>) => { lines.push({ msg, meta }); };
  return { error: at, warn: at, info: at, debug: at };
}

const connectCapsule = (qid: number, cntlid: number) => connectPdu(qid, cntlid, NQN, HOST, { hostid: Buffer.alloc(16, 9) });

/** A host's socket that counts the PDUs it received. */
async function hostSocket(port: number): Promise<{ sock: Socket; pdus: (n: number) => Promise<Buffer[]> }> {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise((r) => sock.once('connect', r));
  let buf = Buffer.alloc(0);
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8 && buf.length >= buf.readUInt32LE(4)) {
      const plen = buf.readUInt32LE(4);
      got.push(buf.subarray(0, plen));
      buf = buf.subarray(plen);
    }
  });
  const pdus = async (n: number) => {
    while (got.length < n) await new Promise((r) => setTimeout(r, 5));
    return got.splice(0, n);
  };
  sock.write(icReqPdu());
  await pdus(1);
  return { sock, pdus };
}

/** What a killed target leaves: copied while it serves, never shut down. */
async function writePinned(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pinned-state-'));
  const running = await runTarget(config(dir), recordingLog([]), new TcpFrontEnd(), { bootId: BOOT_ID });
  try {
    const port = Number(running.frontEnd.addresses[0].split(':').pop());
    const admin = await hostSocket(port);
    admin.sock.write(connectCapsule(0, 0xffff));
    const [resp] = await admin.pdus(1);
    const cntlid = resp.readUInt16LE(8);
    admin.sock.write(enablePdu());
    await admin.pdus(1);
    const io = await hostSocket(port);
    io.sock.write(connectCapsule(1, cntlid));
    await io.pdus(1);
    // Five 1 MiB writes by R2T: four fill the connection's share of the data budget (4 MiB) and get their
    // R2T; the fifth waits for room. No data is sent.
    for (let cid = 0; cid < 5; cid++) {
      io.sock.write(capsulePdu(buildSqe({ opc: IoOpc.Write, cid: 40 + cid, nsid: 1, sglLen: 1 << 20, cdw10: cid * 2048, cdw12: 2047 })));
    }
    await io.pdus(4);
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(FILE, gzipSync(readFileSync(join(dir, 'state.bin')), { level: 9 }));
    admin.sock.destroy();
    io.sock.destroy();
  } finally {
    await running.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a state file written by the earlier build is restored: outcome restored, its records found, its commands abandoned', async (t) => {
  if (process.env.PIN_WRITE === '1') await writePinned();
  const dir = mkdtempSync(join(tmpdir(), 'pinned-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'state.bin'), gunzipSync(readFileSync(FILE)));
  const lines: Array<{ msg: string; meta?: Record<string, unknown> }> = [];
  const running = await runTarget(config(dir), recordingLog(lines), new TcpFrontEnd(), { bootId: BOOT_ID });
  try {
    const p = [...running.persistence.values()][0];
    const report = p.report();
    assert.equal(report.last?.outcome, 'restored');
    assert.deepEqual(report.outcomes, { fresh: 1, clean: 0, restored: 1, corrupt: 0 });
    assert.equal(report.bootCount, 2);
    assert.equal(report.last?.inflightAbandoned, 5);
    const r = p.sf.restored;
    assert.equal(r.nodeRebooted, false);
    assert.deepEqual(r.controllers.map((c) => [c.record.cntlid, c.record.hostNqn, c.record.cc]), [[1, HOST, 0]]);
    assert.deepEqual(r.qpairs.map((q) => [q.record.cntlid, q.record.qid, q.record.sqsize]).sort(), [[1, 0, 31], [1, 1, 31]]);
    assert.deepEqual(
      r.inflight.map((f) => [f.cid, f.opcode, f.stage, f.nsid, f.slba, f.nlb]).sort((a, b) => Number(a[0]) - Number(b[0])),
      [[40, 1, 'data-in', 1, 0, 2047], [41, 1, 'data-in', 1, 2048, 2047], [42, 1, 'data-in', 1, 4096, 2047], [43, 1, 'data-in', 1, 6144, 2047], [44, 1, 'received', 1, 8192, 2047]],
    );
    assert.equal(r.unknownInflight, 0);
    assert.equal(lines.filter((l) => l.msg === 'in-flight command abandoned at recovery; the host retries it').length, 5);
  } finally {
    await running.shutdown();
  }
});
