// Fuzzing the target process over TCP: at least FUZZ_PDUS (default 100,000) random and mutated PDUs on
// many connections, while a healthy connection does verified I/O beside them.
//  - killer workers: a fresh connection per case from cases.ts (malformed headers, lengths, offsets,
//    digests, transfer tags, command identifiers, truncated PDUs, random bytes), each with what the target
//    must answer: a C2HTermReq with a sensible FES and then a close, a status, or a clean close;
//  - semantic workers: long-lived controllers fed batches of random well-framed commands (random-commands.ts),
//    each of which must get exactly one completion; their R2Ts are answered, now and then wrongly;
//  - the healthy worker: its own controller with digests, writing and reading back patterns on namespace 2.
// The process must never die, every protocol error it counts must have reached the host as a C2HTermReq,
// none may be an internal error, and the healthy connection must see no error at all.
// FUZZ_SEED replays a run; FUZZ_PDUS and FUZZ_SECONDS scale it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTarget, type TargetProcess } from '../host/target-process.js';
import { HostController, HostQueue, connectQueue, discover, ControllerProtocolError, type CloseInfo } from '../host/index.js';
import { CAPSULE_CQE, CH, DATA, PduFlag, PduType, R2T as R2TF, TermFes } from '../../target/protocol/pdu.js';
import { CQE } from '../../target/protocol/cqe.js';
import { SQE } from '../../target/protocol/sqe.js';
import { Rng } from './rng.js';
import { ALL_FES, pickCase, type CaseContext, type CaseResult, type FuzzCase, type R2TInfo } from './cases.js';
import { h2cDataPdu, h2cTermReqPdu, inCapsule, noData, reseal, type Digests } from './pdus.js';
import { DYNAMIC_CNTLID, encodeConnectData } from '../../target/protocol/connect.js';
import { connectSqe } from '../host/commands.js';
import { Status } from '../../target/protocol/status.js';
import { randomAdminCommand, randomIoCommand } from './random-commands.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
const PDUS = Number(process.env.FUZZ_PDUS ?? 100_000);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 80);
/** Share of the PDUs sent by killer cases (each costs a connection); the rest go to semantic workers. */
const KILLER_SHARE = 0.15;
const KILLER_WORKERS = 12;
const SEMANTIC_WORKERS = 4;
const FUZZ_NS_BLOCKS = (64 * 1024 * 1024) / 512;
const HEALTHY_NS_BLOCKS = (16 * 1024 * 1024) / 512;
const FUZZ_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f0f0f0f-0000-4000-8000-66757a7a6572';
const WAIT_MS = 3000;

/** C2HTermReqs that carried no offending PDU header, by case (checked by the second test). */
const findings = new Map<string, number>();
let fuzzRan = false;
let countedErrors = 0;
let receivedTermReqs = 0;

interface Stats {
  pdus: number;
  killerPdus: number;
  semanticPdus: number;
  connections: number;
  termReqs: number;
  fes: Map<number, number>;
  cases: Map<string, number>;
  commands: number;
  healthyOps: number;
  healthyBytes: number;
}

function closedWithin(q: HostQueue, ms: number): Promise<CloseInfo & { timedOut: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([q.closed, timeout]).then(async (r) => {
    clearTimeout(timer);
    if (r !== 'timeout') return { ...r, timedOut: false };
    q.destroy();
    return { ...(await q.closed), timedOut: true };
  });
}

test(`fuzz: ${PDUS} random and mutated PDUs never kill the target (seed ${SEED})`, { timeout: (SECONDS + 90) * 1000 }, async (t) => {
  const target: TargetProcess = await startTarget({ namespaces: ['--memory', '64M', '--memory', '16M'], logLevel: 'error' });
  const stats: Stats = {
    pdus: 0, killerPdus: 0, semanticPdus: 0, connections: 0, termReqs: 0, fes: new Map(), cases: new Map(), commands: 0, healthyOps: 0, healthyBytes: 0,
  };
  const failures: string[] = [];
  const kinds = new Map<string, number>();
  const fail = (what: string) => {
    // Aggregated by kind (digits and hex stripped) for the summary; the first 40 kept verbatim.
    const kind = what.replace(/\(hdgst \w+, ddgst \w+\)/, '').replace(/[0-9a-f]{8,}/g, '…').replace(/\d+/g, 'N');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    if (failures.length < 40) failures.push(what);
  };
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const killerQuota = Math.ceil(PDUS * KILLER_SHARE);
  const killersDone = () => stats.killerPdus >= killerQuota || Date.now() > deadline || failures.length >= 40 || !target.alive();
  const semanticDone = () => stats.semanticPdus >= PDUS - killerQuota || Date.now() > deadline || failures.length >= 40 || !target.alive();
  const base = { host: target.host, port: target.port, subnqn: target.nqn };
  const rng = new Rng(SEED);

  const countTermReq = (info: CloseInfo) => {
    if (!info.termReq) return;
    stats.termReqs++;
    stats.fes.set(info.termReq.fes, (stats.fes.get(info.termReq.fes) ?? 0) + 1);
  };

  // ---- killer cases: one connection each ----
  async function killerWorker(r: Rng): Promise<void> {
    let ctrl: HostController | undefined;
    const hostid = randomBytes(16);
    let nextQid = 1;
    while (!killersDone()) {
      const fc = pickCase(r);
      const d: Digests = { hdgst: r.chance(0.4), ddgst: r.chance(0.4) };
      if (fc.setup === 'io' && !ctrl?.admin.isOpen) {
        ctrl?.destroy();
        try {
          ctrl = await HostController.connect({ ...base, hostnqn: FUZZ_HOSTNQN, hostid, ioQueues: 0, adminDepth: 4 });
        } catch (e) {
          fail(`killer: admin connect failed: ${String(e)}`);
          return;
        }
      }
      let q: HostQueue;
      try {
        q = await HostQueue.open({ host: target.host, port: target.port, raw: fc.setup === 'raw', ...d, depth: 4 });
      } catch (e) {
        fail(`${fc.name}: open failed: ${String(e)}`);
        continue;
      }
      stats.connections++;
      const r2ts = new Map<number, R2TInfo>();
      const statuses = new Map<number, number>();
      let wake: (() => void) | undefined;
      q.onUnexpected = (type, h) => {
        if (type === PduType.R2T) r2ts.set(h.readUInt16LE(R2TF.CCCID), { ttag: h.readUInt16LE(R2TF.TTAG), r2to: h.readUInt32LE(R2TF.R2TO), r2tl: h.readUInt32LE(R2TF.R2TL) });
        if (type === PduType.CapsuleResp) statuses.set(h.readUInt16LE(CAPSULE_CQE + CQE.CID), h.readUInt16LE(CAPSULE_CQE + CQE.STATUS) >>> 1);
        wake?.();
      };
      const until = async (cond: () => boolean, ms: number) => {
        const end = Date.now() + ms;
        while (!cond() && q.isOpen && Date.now() < end) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            const t = setTimeout(resolve, 100);
            void q.closed.then(() => {
              clearTimeout(t);
              resolve();
            });
          });
        }
        wake = undefined;
        return cond();
      };
      if (fc.setup === 'io') {
        const qid = nextQid;
        nextQid = nextQid >= 128 ? 1 : nextQid + 1;
        try {
          await connectQueue(q, { subnqn: target.nqn, hostnqn: FUZZ_HOSTNQN, hostid }, qid, 16, ctrl!.cntlid, 0, 0);
          q.inCapsuleMax = ctrl!.info?.ioccsz ? ctrl!.info.ioccsz * 16 - 64 : 8192;
        } catch (e) {
          fail(`${fc.name}: I/O queue ${qid} connect failed: ${String(e)}`);
          q.destroy();
          continue;
        }
      }
      const ctx: CaseContext = {
        rng: r, d: { hdgst: q.hdgst, ddgst: q.ddgst }, maxh2cdata: q.maxh2cdata || 4096, inCapsuleMax: 8192, blocks: FUZZ_NS_BLOCKS,
        subnqn: target.nqn, hostnqn: FUZZ_HOSTNQN, hostid,
        send: (pdu) => {
          stats.pdus++;
          stats.killerPdus++;
          q.sendRaw(pdu);
        },
        r2t: async (cid) => ((await until(() => r2ts.has(cid), WAIT_MS)) ? r2ts.get(cid) : undefined),
      };
      if (fc.setup === 'raw') ctx.d = d;
      stats.cases.set(fc.name, (stats.cases.get(fc.name) ?? 0) + 1);
      let res: CaseResult;
      try {
        res = await fc.run(ctx);
      } catch (e) {
        fail(`${fc.name}: ${String(e)}`);
        q.destroy();
        continue;
      }
      await judge(fc, q, res, statuses, until);
    }
    ctrl?.destroy();
  }

  async function judge(fc: FuzzCase, q: HostQueue, res: CaseResult, statuses: Map<number, number>, until: (c: () => boolean, ms: number) => Promise<boolean>): Promise<void> {
    const e = res.expect;
    const where = `${fc.name} (hdgst ${q.hdgst}, ddgst ${q.ddgst})`;
    let info: CloseInfo & { timedOut: boolean };
    switch (e.kind) {
      case 'failed':
        fail(`${where}: ${e.why}`);
        q.destroy();
        info = { ...(await q.closed), timedOut: false };
        break;
      case 'termreq': {
        const answered = () => e.orStatus !== undefined && [...statuses.values()].some((s) => e.orStatus!.includes(s));
        await until(() => answered() || !q.isOpen, WAIT_MS);
        if (answered()) {
          q.close();
          info = await closedWithin(q, WAIT_MS);
          break;
        }
        info = await closedWithin(q, WAIT_MS);
        if (!info.termReq) fail(`${where}: expected a C2HTermReq with FES ${e.fes.join('/')}, the connection ${info.timedOut ? 'stayed open' : 'closed without one'}${statuses.size ? ` (statuses ${[...statuses.values()].map((s) => s.toString(16))})` : ''}`);
        else if (!e.fes.includes(info.termReq.fes)) fail(`${where}: C2HTermReq FES 0x${info.termReq.fes.toString(16)}, expected ${e.fes.map((f) => `0x${f.toString(16)}`).join(' or ')}`);
        else if (!info.closedByController) fail(`${where}: the controller did not close after its C2HTermReq`);
        break;
      }
      case 'status': {
        await until(() => statuses.has(e.cid), WAIT_MS);
        const s = statuses.get(e.cid);
        if (s === undefined) fail(`${where}: expected a completion for CID ${e.cid}, ${q.termReq ? `got C2HTermReq FES ${q.termReq.fes}` : 'got none'}`);
        else if (!e.status.includes(s)) fail(`${where}: status 0x${s.toString(16)}, expected ${e.status.map((x) => `0x${x.toString(16)}`).join(' or ')}`);
        q.close();
        info = await closedWithin(q, WAIT_MS);
        break;
      }
      case 'clean-close':
        info = await closedWithin(q, WAIT_MS);
        if (info.termReq) fail(`${where}: answered with C2HTermReq FES 0x${info.termReq.fes.toString(16)}; an H2CTermReq closes without one`);
        else if (!info.closedByController) fail(`${where}: the controller did not close the connection`);
        break;
      case 'any':
        q.close();
        info = await closedWithin(q, WAIT_MS);
        break;
    }
    countTermReq(info);
    if (info.termReq && !ALL_FES.includes(info.termReq.fes as never)) fail(`${where}: C2HTermReq with undefined FES 0x${info.termReq.fes.toString(16)}`);
    if (info.termReq && res.offending) {
      const o = info.termReq.offending;
      if (o.length === 0) {
        findings.set(fc.name, (findings.get(fc.name) ?? 0) + 1);
      } else if (o.length < CH.SIZE || !o.equals(res.offending.subarray(0, o.length))) {
        fail(`${where}: C2HTermReq data ${o.toString('hex').slice(0, 48)} is not the header of the offending PDU ${res.offending.toString('hex').slice(0, 48)}`);
      }
    }
    if (info.error instanceof ControllerProtocolError) fail(`${where}: ${info.error.message}`);
  }

  // ---- semantic workers: random well-framed commands on live controllers ----
  const shared = randomBytes(1024 * 1024 + 4096);

  async function semanticWorker(r: Rng): Promise<void> {
    while (!semanticDone()) {
      const d: Digests = { hdgst: r.chance(0.3), ddgst: r.chance(0.3) };
      let ctrl: HostController;
      try {
        ctrl = await HostController.connect({ ...base, ...d, hostnqn: FUZZ_HOSTNQN, ioQueues: 1, queueDepth: 64, adminDepth: 64 });
      } catch (e) {
        fail(`semantic: connect failed: ${String(e)}`);
        return;
      }
      stats.connections += 2;
      const sessions = [ctrl.admin, ctrl.io[0]].map((q) => new Session(q, r));
      for (let batch = 0; batch < 200 && !semanticDone(); batch++) {
        const s = r.pick(sessions);
        if (!s.q.isOpen) break;
        const n = r.range(1, 48);
        for (let i = 0; i < n; i++) s.submitRandom();
        const outcome = await s.drain(10_000);
        if (outcome === 'timeout') {
          fail(`semantic (qid ${s.q.qid}, hdgst ${s.q.hdgst}, ddgst ${s.q.ddgst}): no completion within 10 s for ${s.describeOutstanding()}`);
          break;
        }
        if (outcome === 'closed') break;
      }
      ctrl.destroy();
      for (const s of sessions) {
        const info = await s.q.closed;
        countTermReq(info);
        s.judgeClose(info);
      }
    }
  }

  class Session {
    readonly outstanding = new Map<number, number>();
    private cid = 0x100;
    private mutated = false;
    private wake: (() => void) | undefined;

    constructor(readonly q: HostQueue, private readonly r: Rng) {
      q.onUnexpected = (type, h, info) => this.onPdu(type, h, info.flags);
    }

    submitRandom(): void {
      const cmd = this.q.qid === 0 ? randomAdminCommand(this.r) : randomIoCommand(this.r, FUZZ_NS_BLOCKS);
      let cid = this.cid;
      while (this.outstanding.has(cid)) cid = cid >= 0xfff0 ? 0x100 : cid + 1;
      this.cid = cid >= 0xfff0 ? 0x100 : cid + 1;
      const d = { hdgst: this.q.hdgst, ddgst: this.q.ddgst };
      const pdu = cmd.inCapsule ? inCapsule(cmd.sqe, cid, cmd.inCapsule, d) : noData(cmd.sqe, cid, cmd.transferLen, d);
      if (this.r.chance(0.03)) {
        // An SGL descriptor of another type, or the flags byte (PSDT, FUSE) changed.
        if (this.r.chance(0.5)) pdu[8 + SQE.SGL_TYPE] = this.r.int(256);
        else pdu[8 + SQE.FLAGS] = this.r.int(256);
        reseal(pdu);
      }
      this.outstanding.set(cid, pdu[8 + SQE.OPC]);
      stats.pdus++;
      stats.semanticPdus++;
      stats.commands++;
      this.q.sendRaw(pdu);
    }

    private onPdu(type: number, h: Buffer, flags: number): void {
      const where = `semantic qid ${this.q.qid}`;
      switch (type) {
        case PduType.CapsuleResp: {
          const cid = h.readUInt16LE(CAPSULE_CQE + CQE.CID);
          if (!this.outstanding.delete(cid)) fail(`${where}: CapsuleResp for CID ${cid}, which is not outstanding (a second completion?)`);
          const sqid = h.readUInt16LE(CAPSULE_CQE + CQE.SQID);
          if (sqid !== this.q.qid) fail(`${where}: CapsuleResp SQID ${sqid}`);
          break;
        }
        case PduType.C2HData: {
          const cid = h.readUInt16LE(DATA.CCCID);
          if (!this.outstanding.has(cid)) fail(`${where}: C2HData for CID ${cid}, which is not outstanding`);
          if (flags & PduFlag.DATA_SUCCESS) fail(`${where}: C2HData with SUCCESS while SQ flow control is enabled`);
          break;
        }
        case PduType.R2T: {
          const cid = h.readUInt16LE(R2TF.CCCID);
          if (!this.outstanding.has(cid)) fail(`${where}: R2T for CID ${cid}, which is not outstanding`);
          this.answerR2T(cid, h.readUInt16LE(R2TF.TTAG), h.readUInt32LE(R2TF.R2TO), h.readUInt32LE(R2TF.R2TL));
          break;
        }
      }
      if (this.outstanding.size === 0) this.wake?.();
    }

    private answerR2T(cid: number, ttag: number, r2to: number, r2tl: number): void {
      if (r2tl > shared.length) {
        fail(`semantic qid ${this.q.qid}: R2T asks ${r2tl} bytes for CID ${cid}`);
        return;
      }
      const d = { hdgst: this.q.hdgst, ddgst: this.q.ddgst };
      const max = this.q.maxh2cdata;
      const bad = this.r.chance(0.02);
      for (let off = r2to; off < r2to + r2tl; off += max) {
        const len = Math.min(max, r2to + r2tl - off);
        const pdu = h2cDataPdu(cid, ttag, off, shared.subarray(off - r2to, off - r2to + len), off + len === r2to + r2tl, d);
        if (bad && off + len === r2to + r2tl) {
          this.mutated = true;
          pdu[this.r.range(8, 23)] ^= 1 << this.r.int(8);
          reseal(pdu);
        }
        stats.pdus++;
        stats.semanticPdus++;
        this.q.sendRaw(pdu);
      }
    }

    drain(ms: number): Promise<'ok' | 'closed' | 'timeout'> {
      if (this.outstanding.size === 0) return Promise.resolve('ok');
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve('timeout'), ms);
        this.wake = () => {
          clearTimeout(t);
          resolve('ok');
        };
        void this.q.closed.then(() => {
          clearTimeout(t);
          resolve('closed');
        });
      });
    }

    describeOutstanding(): string {
      return [...this.outstanding].slice(0, 8).map(([cid, opc]) => `CID ${cid} opcode 0x${opc.toString(16)}`).join(', ');
    }

    /** A semantic connection may close by a C2HTermReq only after a mutated H2CData, and never silently. */
    judgeClose(info: CloseInfo): void {
      const where = `semantic qid ${this.q.qid}`;
      if (info.error instanceof ControllerProtocolError) fail(`${where}: ${info.error.message}`);
      if (info.termReq && !this.mutated) fail(`${where}: C2HTermReq FES 0x${info.termReq.fes.toString(16)} FEI ${info.termReq.fei} for well-formed PDUs (header ${info.termReq.offending.toString('hex').slice(0, 64)})`);
      if (info.termReq && ![TermFes.InvalidHeaderField, TermFes.DataTransferOutOfRange, TermFes.DataTransferLimitExceeded, TermFes.PduSequenceError].includes(info.termReq.fes as never)) {
        fail(`${where}: C2HTermReq FES 0x${info.termReq.fes.toString(16)} for a mutated H2CData`);
      }
    }
  }

  // ---- the healthy connection ----
  let stopHealthy = false;
  async function healthy(): Promise<void> {
    const ctrl = await HostController.connect({ ...base, hdgst: true, ddgst: true, ioQueues: 2, queueDepth: 8, kato: 5000 });
    const lanes = 8;
    const slotBlocks = HEALTHY_NS_BLOCKS / 64;
    const model = new Map<number, { seed: number; nlb: number }>();
    const loop = async (lane: number) => {
      const r = rng.fork();
      const q = ctrl.io[lane % 2];
      while (!stopHealthy) {
        const slot = lane + lanes * r.int(64 / lanes);
        const nlb = r.range(1, slotBlocks);
        const seed = r.u32();
        const src = pattern(nlb * 512, seed);
        try {
          await q.write(2, slot * slotBlocks, nlb, src);
          model.set(slot, { seed, nlb });
          const check = lane + lanes * r.int(64 / lanes);
          const m = model.get(check);
          if (m) {
            const dst = Buffer.alloc(m.nlb * 512);
            await q.read(2, check * slotBlocks, m.nlb, dst);
            if (!dst.equals(pattern(m.nlb * 512, m.seed))) fail(`healthy: slot ${check} read back wrong data`);
          }
          stats.healthyOps += 2;
          stats.healthyBytes += nlb * 512 + (m ? m.nlb * 512 : 0);
        } catch (e) {
          fail(`healthy: ${String(e)}`);
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, i) => loop(i)));
    await ctrl.disconnect();
  }

  const healthyDone = healthy().catch((e) => fail(`healthy: ${String(e)}`));
  const workers = [
    ...Array.from({ length: KILLER_WORKERS }, () => killerWorker(rng.fork())),
    ...Array.from({ length: SEMANTIC_WORKERS }, () => semanticWorker(rng.fork())),
  ];
  await Promise.all(workers.map((w) => w.catch((e) => fail(`worker: ${e instanceof Error ? e.stack : String(e)}`))));
  stopHealthy = true;
  await healthyDone;
  const seconds = (Date.now() - started) / 1000;

  // ---- verdict ----
  const alive = target.alive();
  let after = '';
  if (alive) {
    try {
      const records = await discover({ host: target.host, port: target.port });
      const c = await HostController.connect(base);
      await c.io[0].write(1, 0, 8, pattern(4096, 1));
      const back = Buffer.alloc(4096);
      await c.io[0].read(1, 0, 8, back);
      await c.disconnect();
      after = `discover: ${records.length} records; fresh I/O ${back.equals(pattern(4096, 1)) ? 'verified' : 'WRONG'}`;
      if (!back.equals(pattern(4096, 1))) fail('a fresh connection after the fuzz read back wrong data');
    } catch (e) {
      fail(`a fresh connection after the fuzz failed: ${String(e)}`);
    }
  }
  const metrics = alive ? await target.metrics() : '';
  const protocolErrors = [...metrics.matchAll(/^nvmeof_target_protocol_errors_total\{([^}]*)\} (\d+)/gm)];
  const counted = protocolErrors.reduce((n, m) => n + Number(m[2]), 0);
  const internal = protocolErrors.filter((m) => /kind="internal"/.test(m[1])).reduce((n, m) => n + Number(m[2]), 0);

  t.diagnostic(`seed ${SEED}: ${stats.pdus} PDUs in ${seconds.toFixed(1)} s (${stats.killerPdus} in killer cases, ${stats.semanticPdus} semantic), ${stats.connections} connections, ${stats.commands} random commands`);
  t.diagnostic(`C2HTermReqs received: ${stats.termReqs}; by FES: ${[...stats.fes].sort().map(([f, n]) => `0x${f.toString(16)}=${n}`).join(' ')}; target counted ${counted} protocol errors (${internal} internal)`);
  t.diagnostic(`healthy connection: ${stats.healthyOps} verified I/Os, ${(stats.healthyBytes / 1048576).toFixed(0)} MiB; after: ${after}`);
  t.diagnostic(`cases: ${[...stats.cases].map(([k, v]) => `${k}=${v}`).join('; ')}`);

  for (const [k, n] of kinds) t.diagnostic(`failure x${n}: ${k}`);
  fuzzRan = true;
  await target.stop();
  assert.ok(alive, `the target process died:\n${target.output().slice(-4000)}`);
  assert.deepEqual(failures, [], `seed ${SEED}`);
  assert.ok(stats.pdus >= PDUS, `only ${stats.pdus} of ${PDUS} PDUs sent within ${SECONDS} s`);
  assert.ok(stats.healthyOps > 100, `the healthy connection did only ${stats.healthyOps} I/Os`);
  assert.equal(internal, 0, 'the target hit internal errors (exceptions) on fuzzed input');
  assert.ok(counted >= stats.termReqs, `the host got ${stats.termReqs} C2HTermReqs but the target counted only ${counted} protocol errors`);
  countedErrors = counted;
  receivedTermReqs = stats.termReqs;
});

// NVMe/TCP 1.0, 3.6.2.3: the data of a C2HTermReq with FES Invalid PDU Header Field, PDU Sequence Error,
// Header Digest Error or Unsupported Parameter is the header of the PDU in error. The target sends an
// empty one when it detects the error after the whole PDU arrived (second ICReq fields, a reused CID):
// target/transport/receiver.ts finish() resets the header buffer before calling onPdu, so
// Connection.terminate() copies 0 bytes of it. Known target bug, kept visible as a to-do.
test('fuzz: every C2HTermReq carries the header of the offending PDU', () => {
  assert.ok(fuzzRan, 'the fuzz test ran');
  assert.deepEqual(Object.fromEntries(findings), {});
});

// The connection keeps parsing the rest of a TCP segment after it closed itself (after an H2CTermReq or a
// Disconnect): a malformed PDU there is counted and logged as "sending C2HTermReq" though none can be
// sent, and a Connect there creates a controller bound to the closed connection, which nothing ever
// removes (target/transport/connection.ts feed()/onPdu() do not stop once closed).
test('fuzz: every protocol error the target counts reached the host as a C2HTermReq', () => {
  assert.ok(fuzzRan, 'the fuzz test ran');
  assert.equal(countedErrors, receivedTermReqs);
});

test('fuzz: PDUs behind an H2CTermReq in the same segment are ignored', async () => {
  const target = await startTarget({ namespaces: ['--memory', '16M'], logLevel: 'error' });
  try {
    const q = await HostQueue.open({ host: target.host, port: target.port });
    const data = encodeConnectData({ hostid: randomBytes(16), cntlid: DYNAMIC_CNTLID, subnqn: target.nqn, hostnqn: FUZZ_HOSTNQN });
    q.sendRaw(Buffer.concat([h2cTermReqPdu(TermFes.InvalidHeaderField, Buffer.alloc(0)), inCapsule(connectSqe({ qid: 0, sqsize: 15 }), 9, data, { hdgst: false, ddgst: false })]));
    const info = await q.closed;
    assert.equal(info.termReq, undefined);
    await new Promise((r) => setTimeout(r, 200));
    const m = await target.metrics();
    assert.match(m, /^nvmeof_target_qpairs\{[^}]*type="admin"\} 0$/m, 'no admin queue is left behind');
    assert.match(m, /^nvmeof_target_connections\{[^}]*\} 0$/m, 'no connection is left behind');
  } finally {
    await target.stop();
  }
});

// A Connect's data is 1024 bytes (NVMe over Fabrics 1.1, 3.3). The target checks every other command's
// transfer length before asking for data, but exempts fabrics commands from it: a Connect on a fresh
// connection with a transport SGL of up to 4 GiB gets an R2T for all of it, and Buffer.allocUnsafe() of
// that size, before anything is validated (target/controller/target.ts check(), transport/connection.ts
// requestData()). Anyone who can open a TCP connection can make the target commit memory at will.
test('fuzz: a Connect asking more than 1024 bytes of data is refused before any R2T', async () => {
  const target = await startTarget({ namespaces: ['--memory', '16M'], logLevel: 'error' });
  try {
    const q = await HostQueue.open({ host: target.host, port: target.port });
    const seen: string[] = [];
    q.onUnexpected = (type, h) => {
      seen.push(type === PduType.CapsuleResp ? `CapsuleResp status 0x${(h.readUInt16LE(CAPSULE_CQE + CQE.STATUS) >>> 1).toString(16)}` : `PDU type 0x${type.toString(16)} (R2TL ${h.readUInt32LE(R2TF.R2TL)})`);
    };
    q.sendRaw(noData(connectSqe({ qid: 0, sqsize: 15 }), 7, 0x40000000, { hdgst: false, ddgst: false }));
    await new Promise((r) => setTimeout(r, 500));
    q.destroy();
    assert.deepEqual(seen, [`CapsuleResp status 0x${Status.SglDataLengthInvalid.toString(16)}`]);
  } finally {
    await target.stop();
  }
});

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let x = seed | 1;
  for (let i = 0; i < len; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}
