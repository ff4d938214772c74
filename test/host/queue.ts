// One NVMe/TCP queue of the host library: a TCP connection, ICReq/ICResp, and many outstanding commands
// (NVMe/TCP Transport Specification 1.0; the Linux host drivers/nvme/host/tcp.c does the same work).
// Invariants:
//  - a command identifier is the index of its slot; a slot is reused only after its completion arrived;
//  - write data goes in the capsule when it fits the in-capsule size, otherwise it waits for R2T and leaves
//    in H2CData PDUs of at most MAXH2CDATA bytes; read data is copied once, from the socket chunk straight
//    into the caller's buffer;
//  - the data path allocates nothing per command beyond what Node's socket writes need: capsule headers
//    live in one buffer made at open, and writes issued in one tick leave in one batch (cork/uncork);
//  - anything the controller sends that the specification does not allow fails the queue with a
//    ControllerProtocolError: the tests look for exactly that.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  CAPSULE_CQE, CAPSULE_SQE, DIGEST_LEN, HLEN, PduFlag, PduType, R2T, TERM, DATA,
  dataOffset, decodeICResp, encodeICReq, encodeTermReq, writeCommonHeader, writeDataHeader,
} from '../../target/protocol/pdu.js';
import { SQE, SQE_SIZE, SglId } from '../../target/protocol/sqe.js';
import { CQE } from '../../target/protocol/cqe.js';
import { AdminOpc, IoOpc } from '../../target/protocol/opcodes.js';
import { crc32c } from '../../target/protocol/crc32c.js';
import { C2HReader, type C2HInfo, type C2HSink } from './reader.js';
import { Cdw, dsmCommand, flushSqe, rwSqe, type DsmRange } from './commands.js';
import { CommandTimeoutError, ConnectionClosedError, ControllerProtocolError, NvmeStatusError, TermReqError } from './errors.js';

export interface QueueOptions {
  host: string;
  port: number;
  /** Ask for header / data digests in ICReq (the controller's ICResp decides). */
  hdgst?: boolean;
  ddgst?: boolean;
  /** Host PDU data alignment (0-based dwords) sent in ICReq. */
  hpda?: number;
  /** Most commands outstanding at once (the Connect SQSIZE the controller uses). Default 32. */
  depth?: number;
  /** Do not send ICReq: the caller speaks first through sendRaw() (fuzzing). */
  raw?: boolean;
  /** TCP connect plus ICResp, and each command: fail the queue after this long. Default 10 s / 30 s. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** TLS 1.3 with this external PSK before ICReq (as tlshd does for the Linux host; target/tls). */
  tls?: { identity: string; psk: Buffer };
}

/** A completion: status in the encoding of target/protocol/status.ts (0 is success). */
export interface Completion {
  status: number;
  dw0: number;
  dw1: number;
  /** Bytes of controller-to-host data that arrived. */
  bytes: number;
}

/**
 * Completion callback of the allocation-free API. `status` is -1 when the queue failed before the
 * command completed (queue.failure says why).
 */
export type CompletionCallback = (status: number, dw0: number, dw1: number, bytes: number) => void;

export interface TermReqInfo {
  fes: number;
  fei: number;
  offending: Buffer;
}

export interface CloseInfo {
  /** The C2HTermReq that arrived before the close, if any. */
  termReq: TermReqInfo | undefined;
  /** Why the queue failed (TermReqError, ControllerProtocolError, timeout, socket error), if it did. */
  error: Error | undefined;
  /** The controller closed first (its FIN came before this host ended the connection). */
  closedByController: boolean;
}

/** A PDU for a command this queue did not submit (only delivered when onUnexpected is set). */
export type UnexpectedHandler = (type: number, header: Buffer, info: C2HInfo) => void;

export const TRANSPORT_FAILED = -1;
/** In-capsule data allowed before Identify says otherwise: NVMe/TCP admin and fabrics commands take 8 KiB. */
export const DEFAULT_IN_CAPSULE = 8192;
/** Room for a capsule header, its digest and padding up to CPDA 31 (128-byte alignment). */
const SLOT_PDU = 128;
/** After a C2HTermReq the controller must close; past this the host drops the connection itself. */
export const TERMREQ_CLOSE_MS = 5000;

class Slot {
  busy = false;
  out: Buffer | undefined = undefined;
  inp: Buffer | undefined = undefined;
  /** Bytes of C2HData received / of H2CData sent so far. */
  got = 0;
  sent = 0;
  inCapsule = false;
  cb: CompletionCallback | undefined = undefined;
  startTick = 0;
  /** Order of submission (a host that completes commands itself does so in this order). */
  seq = 0;
  /** The capsule header without data (CH + SQE + header digest) and with data (up to PDO). */
  capsule: Buffer;
  capsuleData: Buffer;
  readonly ddgst = Buffer.alloc(DIGEST_LEN);
  constructor(readonly cid: number, readonly pdu: Buffer) {
    this.capsule = pdu;
    this.capsuleData = pdu;
  }
}

export class HostQueue implements C2HSink {
  /** Set once Connect succeeded; CapsuleResp SQID is checked against it. */
  qid: number | undefined;
  /** Most in-capsule data this queue sends (IOCCSZ * 16 - 64 for I/O queues). */
  inCapsuleMax = DEFAULT_IN_CAPSULE;
  hdgst = false;
  ddgst = false;
  cpda = 0;
  maxh2cdata = 0;
  /** SQ flow control disabled on Connect: C2HData may carry SUCCESS in place of a CapsuleResp. */
  sqFlowDisabled = false;
  /** Latest SQHD from a CapsuleResp. */
  sqhd = 0;
  onUnexpected: UnexpectedHandler | undefined;
  /** Called with each capsule as it leaves (its CID filled in): tests watch which CIDs a host reuses. */
  onSubmit: ((cid: number, sqe: Buffer) => void) | undefined;
  failure: Error | undefined;
  termReq: TermReqInfo | undefined;
  readonly stats = { capsuleResp: 0, c2hData: 0, r2t: 0, h2cData: 0, bytesIn: 0, bytesOut: 0 };
  readonly closed: Promise<CloseInfo>;
  readonly depth: number;
  private readonly sock: Socket;
  private readonly reader: C2HReader;
  private readonly slots: Slot[];
  private readonly free: number[];
  private readonly waiters: Array<() => void> = [];
  private corked = false;
  private ended = false;
  private peerEnded = false;
  private outstanding = 0;
  private submitted = 0;
  private tick = 0;
  private timer: NodeJS.Timeout | undefined;
  private icResolve: ((ok: boolean) => void) | undefined;
  private readonly hpda: number;
  private readonly commandTimeoutTicks: number;

  private constructor(sock: Socket, o: QueueOptions) {
    this.sock = sock;
    this.depth = o.depth ?? 32;
    if (this.depth < 1 || this.depth > 0xffff) throw new RangeError(`queue depth ${this.depth}`);
    this.hpda = o.hpda ?? 0;
    this.reader = new C2HReader(this);
    this.reader.hpda = this.hpda;
    const pool = Buffer.alloc(this.depth * SLOT_PDU);
    this.slots = [];
    this.free = [];
    for (let i = 0; i < this.depth; i++) this.slots.push(new Slot(i, pool.subarray(i * SLOT_PDU, (i + 1) * SLOT_PDU)));
    for (let i = this.depth - 1; i >= 0; i--) this.free.push(i);
    this.configureSlots();
    this.commandTimeoutTicks = Math.ceil((o.commandTimeoutMs ?? 30_000) / 1000);
    this.closed = new Promise((resolve) => {
      sock.on('close', () => {
        if (this.timer) clearInterval(this.timer);
        const error = this.failure;
        this.fail(new ConnectionClosedError(this.peerEnded && !this.ended ? 'controller closed the connection' : 'connection closed'), false);
        resolve({ termReq: this.termReq, error, closedByController: this.peerEnded && !this.ended });
      });
    });
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('end', () => {
      this.peerEnded = true;
    });
    sock.on('error', (e) => this.fail(e, true));
    this.timer = setInterval(() => this.onTick(), 1000);
    this.timer.unref();
  }

  /** Connects, and unless `raw`, exchanges ICReq/ICResp. */
  static async open(o: QueueOptions): Promise<HostQueue> {
    const sock = o.tls
      ? tlsConnect({ host: o.host, port: o.port, minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256', checkServerIdentity: () => undefined, pskCallback: () => o.tls! }).setNoDelay(true)
      : netConnect({ host: o.host, port: o.port, noDelay: true });
    const timeoutMs = o.connectTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to ${o.host}:${o.port}: timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once(o.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(t);
        sock.off('error', reject);
        resolve();
      });
      sock.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    const q = new HostQueue(sock, o);
    if (!o.raw) await q.initialize(o, timeoutMs);
    return q;
  }

  private async initialize(o: QueueOptions, timeoutMs: number): Promise<void> {
    const done = new Promise<boolean>((resolve) => {
      this.icResolve = resolve;
    });
    this.put(encodeICReq({ pfv: 0, hpda: this.hpda, hdgst: !!o.hdgst, ddgst: !!o.ddgst, maxr2t: 0 }));
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      t = setTimeout(() => resolve(false), timeoutMs);
    });
    const ok = await Promise.race([done, timeout, this.closed.then(() => false)]);
    clearTimeout(t);
    if (!ok) {
      const e = this.failure ?? new Error(`no ICResp within ${timeoutMs} ms`);
      this.destroy();
      throw e;
    }
    if ((this.hdgst && !o.hdgst) || (this.ddgst && !o.ddgst)) {
      const e = new ControllerProtocolError('ICResp enabled a digest the host did not ask for');
      this.fail(e, true);
      throw e;
    }
  }

  /** Commands in flight. */
  get inflight(): number {
    return this.outstanding;
  }

  get isOpen(): boolean {
    return !this.failure && !this.ended;
  }

  // ---- submission ----

  /**
   * Submits a 64-byte SQE (its CID and data pointer are filled in here) with optional host-to-controller
   * data `out` or a controller-to-host buffer `inp`. Calls `cb` once, with the completion.
   */
  submitCb(sqe: Buffer, out: Buffer | undefined, inp: Buffer | undefined, cb: CompletionCallback): void {
    const i = this.free.pop();
    if (i === undefined) {
      if (this.failure) return cb(TRANSPORT_FAILED, 0, 0, 0);
      this.waiters.push(() => this.submitCb(sqe, out, inp, cb));
      return;
    }
    const slot = this.slots[i];
    sqe.copy(slot.pdu, CAPSULE_SQE, 0, SQE_SIZE);
    this.send(slot, out, inp, cb);
  }

  /**
   * Read or Write (or any command shaped like them: SLBA in CDW10/11, NLB in CDW12) without allocating:
   * the SQE is written straight into the slot's capsule. `buf` is the data (Write) or destination (Read).
   */
  rwCb(opc: number, nsid: number, slba: number, nlb: number, buf: Buffer, cdw12Flags: number, cb: CompletionCallback): void {
    const i = this.free.pop();
    if (i === undefined) {
      if (this.failure) return cb(TRANSPORT_FAILED, 0, 0, 0);
      this.waiters.push(() => this.rwCb(opc, nsid, slba, nlb, buf, cdw12Flags, cb));
      return;
    }
    const slot = this.slots[i];
    const p = slot.pdu;
    const s = CAPSULE_SQE;
    p.fill(0, s, s + SQE_SIZE);
    p[s + SQE.OPC] = opc;
    p.writeUInt32LE(nsid, s + SQE.NSID);
    p.writeUInt32LE(slba % 0x1_0000_0000, s + SQE.CDW10);
    p.writeUInt32LE(Math.floor(slba / 0x1_0000_0000), s + SQE.CDW11);
    p.writeUInt32LE((((nlb - 1) & 0xffff) | cdw12Flags) >>> 0, s + SQE.CDW12);
    if (opc === IoOpc.Write) this.send(slot, buf, undefined, cb);
    else this.send(slot, undefined, buf, cb);
  }

  private send(slot: Slot, out: Buffer | undefined, inp: Buffer | undefined, cb: CompletionCallback): void {
    if (this.failure) {
      this.free.push(slot.cid);
      return cb(TRANSPORT_FAILED, 0, 0, 0);
    }
    const p = slot.pdu;
    const s = CAPSULE_SQE;
    p.writeUInt16LE(slot.cid, s + SQE.CID);
    p[s + SQE.FLAGS] = (p[s + SQE.FLAGS] & 0x3f) | 0x40; // PSDT 01b: SGL, as fabrics require
    const len = out ? out.length : inp ? inp.length : 0;
    const inCapsule = out !== undefined && len > 0 && len <= this.inCapsuleMax;
    p.writeUInt32LE(0, s + SQE.SGL_ADDR);
    p.writeUInt32LE(0, s + SQE.SGL_ADDR + 4);
    p.writeUInt32LE(len, s + SQE.SGL_LEN);
    p[s + SQE.SGL_LEN + 4] = 0;
    p[s + SQE.SGL_LEN + 5] = 0;
    p[s + SQE.SGL_LEN + 6] = 0;
    p[s + SQE.SGL_TYPE] = inCapsule ? SglId.InCapsule : SglId.Transport;
    slot.busy = true;
    slot.out = out;
    slot.inp = inp;
    slot.got = 0;
    slot.sent = inCapsule ? len : 0;
    slot.inCapsule = inCapsule;
    slot.cb = cb;
    slot.startTick = this.tick;
    slot.seq = this.submitted++;
    this.outstanding++;
    this.onSubmit?.(slot.cid, p.subarray(CAPSULE_SQE, CAPSULE_SQE + SQE_SIZE));
    const hd = this.hdgst ? DIGEST_LEN : 0;
    if (inCapsule) {
      const dd = this.ddgst ? DIGEST_LEN : 0;
      const head = slot.capsuleData;
      writeCommonHeader(p, PduType.CapsuleCmd, (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0), HLEN.CapsuleCmd, head.length, head.length + len + dd);
      if (hd) p.writeUInt32LE(crc32c(p.subarray(0, HLEN.CapsuleCmd)), HLEN.CapsuleCmd);
      this.put(head);
      this.put(out!);
      if (dd) {
        slot.ddgst.writeUInt32LE(crc32c(out!), 0);
        this.put(slot.ddgst);
      }
    } else {
      writeCommonHeader(p, PduType.CapsuleCmd, hd ? PduFlag.HDGSTF : 0, HLEN.CapsuleCmd, 0, HLEN.CapsuleCmd + hd);
      if (hd) p.writeUInt32LE(crc32c(p.subarray(0, HLEN.CapsuleCmd)), HLEN.CapsuleCmd);
      this.put(slot.capsule);
    }
  }

  // ---- promise API ----

  /** Submits and resolves with the completion, whatever its status; rejects only when the queue fails. */
  submit(sqe: Buffer, o: { out?: Buffer; inp?: Buffer } = {}): Promise<Completion> {
    return new Promise((resolve, reject) => {
      this.submitCb(sqe, o.out, o.inp, (status, dw0, dw1, bytes) => {
        if (status === TRANSPORT_FAILED) reject(this.failure ?? new ConnectionClosedError());
        else resolve({ status, dw0, dw1, bytes });
      });
    });
  }

  /** Submits and throws NvmeStatusError unless the command succeeded. */
  async exec(sqe: Buffer, what: string, o: { out?: Buffer; inp?: Buffer } = {}): Promise<Completion> {
    const c = await this.submit(sqe, o);
    if (c.status !== 0) throw new NvmeStatusError(c.status, what, c.dw0);
    return c;
  }

  private rw(opc: number, nsid: number, slba: number, nlb: number, buf: Buffer, flags: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.rwCb(opc, nsid, slba, nlb, buf, flags, (status) => {
        if (status === 0) resolve();
        else if (status === TRANSPORT_FAILED) reject(this.failure ?? new ConnectionClosedError());
        else reject(new NvmeStatusError(status, `${what} nsid ${nsid} slba ${slba} nlb ${nlb}`));
      });
    });
  }

  /** Reads `nlb` blocks at `slba` into `dst` (its length must be nlb * block size). */
  read(nsid: number, slba: number, nlb: number, dst: Buffer): Promise<void> {
    return this.rw(IoOpc.Read, nsid, slba, nlb, dst, 0, 'Read');
  }

  write(nsid: number, slba: number, nlb: number, src: Buffer, o: { fua?: boolean } = {}): Promise<void> {
    return this.rw(IoOpc.Write, nsid, slba, nlb, src, o.fua ? Cdw.FUA : 0, 'Write');
  }

  async flush(nsid: number): Promise<void> {
    await this.exec(flushSqe(nsid), `Flush nsid ${nsid}`);
  }

  async writeZeroes(nsid: number, slba: number, nlb: number, o: { deallocate?: boolean } = {}): Promise<void> {
    await this.exec(rwSqe(IoOpc.WriteZeroes, nsid, slba, nlb, o.deallocate ? Cdw.DEAC : 0), `Write Zeroes nsid ${nsid} slba ${slba}`);
  }

  async dsm(nsid: number, ranges: DsmRange[], o: { deallocate?: boolean } = { deallocate: true }): Promise<void> {
    const { sqe, data } = dsmCommand(nsid, ranges, o.deallocate ?? true);
    await this.exec(sqe, `Dataset Management nsid ${nsid}`, { out: data });
  }

  // ---- raw access (fuzzing) ----

  /** Sends bytes as they are. */
  sendRaw(b: Buffer): void {
    this.put(b);
  }

  /** Sends an H2CTermReq and closes: the controller must close without answering. */
  terminate(fes: number, fei = 0, offending: Buffer = Buffer.alloc(0)): void {
    this.put(encodeTermReq(PduType.H2CTermReq, fes, fei, offending));
    this.close();
  }

  /**
   * Completes the outstanding commands `which` picks with `status`, in the order they were submitted, without
   * telling the controller (SPDK's host does this to its AERs at detach and reset, lib/nvme/nvme_tcp.c
   * nvme_tcp_admin_qpair_abort_aers); their CIDs are free again at once, the last one on top. Returns the CIDs.
   * A completion the controller sends for one of them later is a protocol error unless onUnexpected is set.
   */
  completeLocally(which: (sqe: Buffer) => boolean, status: number): number[] {
    const picked = this.slots.filter((s) => s.busy && which(s.pdu.subarray(CAPSULE_SQE, CAPSULE_SQE + SQE_SIZE))).sort((a, b) => a.seq - b.seq);
    for (const s of picked) this.complete(s, status, 0, 0);
    return picked.map((s) => s.cid);
  }

  /** Ends the connection after what is queued leaves. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.sock.end();
  }

  destroy(): void {
    this.ended = true;
    this.sock.destroy();
  }

  // ---- receiving ----

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    this.stats.bytesIn += chunk.length;
    try {
      this.reader.feed(chunk);
    } catch (e) {
      if (e instanceof TermReqError) {
        // The controller closes after a C2HTermReq (NVMe/TCP 1.0, 3.6.2.3); wait for it to, within reason.
        this.fail(e, false);
        setTimeout(() => this.destroy(), TERMREQ_CLOSE_MS).unref();
      } else {
        this.fail(e instanceof Error ? e : new Error(String(e)), true);
      }
    }
  }

  onHeader(header: Buffer, info: C2HInfo): void {
    if (info.type !== PduType.C2HData) return;
    const cid = header.readUInt16LE(DATA.CCCID);
    const slot = this.slots[cid];
    if (!slot?.busy) {
      if (this.onUnexpected) return this.onUnexpected(info.type, header, info);
      throw new ControllerProtocolError(`C2HData for command ${cid}, which is not outstanding`);
    }
    const datao = header.readUInt32LE(DATA.DATAO);
    if (!slot.inp) throw new ControllerProtocolError(`C2HData for command ${cid}, which reads no data`);
    if (datao !== slot.got) throw new ControllerProtocolError(`C2HData for command ${cid} at offset ${datao}, expected ${slot.got}`);
    if (datao + info.dataLen > slot.inp.length) {
      throw new ControllerProtocolError(`C2HData for command ${cid}: [${datao}, +${info.dataLen}) beyond the ${slot.inp.length} bytes asked`);
    }
    this.reader.dataInto(slot.inp, datao);
  }

  onPdu(h: Buffer, info: C2HInfo): void {
    switch (info.type) {
      case PduType.CapsuleResp: return this.onCapsuleResp(h, info);
      case PduType.C2HData: return this.onC2HData(h, info);
      case PduType.R2T: return this.onR2T(h, info);
      case PduType.ICResp: return this.onICResp(h);
      case PduType.C2HTermReq: {
        this.termReq = { fes: h.readUInt16LE(TERM.FES), fei: h.readUInt32LE(TERM.FEI), offending: Buffer.from(h.subarray(HLEN.TermReq)) };
        throw new TermReqError(this.termReq.fes, this.termReq.fei, this.termReq.offending);
      }
    }
  }

  private onICResp(h: Buffer): void {
    const r = decodeICResp(h);
    if (!this.icResolve && !this.onUnexpected) throw new ControllerProtocolError('ICResp without ICReq');
    if (r.pfv !== 0) throw new ControllerProtocolError(`ICResp PFV ${r.pfv}, expected 0`);
    if (r.cpda > 31) throw new ControllerProtocolError(`ICResp CPDA ${r.cpda} above 31`);
    if (r.maxh2cdata < 4096 || r.maxh2cdata % 4 !== 0) throw new ControllerProtocolError(`ICResp MAXH2CDATA ${r.maxh2cdata}: must be >= 4096 and a multiple of 4`);
    this.hdgst = r.hdgst;
    this.ddgst = r.ddgst;
    this.cpda = r.cpda;
    this.maxh2cdata = r.maxh2cdata;
    this.reader.hdgst = r.hdgst;
    this.reader.ddgst = r.ddgst;
    this.configureSlots();
    const resolve = this.icResolve;
    this.icResolve = undefined;
    resolve?.(true);
  }

  private onCapsuleResp(h: Buffer, info: C2HInfo): void {
    this.stats.capsuleResp++;
    const cid = h.readUInt16LE(CAPSULE_CQE + CQE.CID);
    const slot = this.slots[cid];
    if (!slot?.busy) {
      if (this.onUnexpected) return this.onUnexpected(info.type, h, info);
      throw new ControllerProtocolError(`CapsuleResp for command ${cid}, which is not outstanding`);
    }
    const sqid = h.readUInt16LE(CAPSULE_CQE + CQE.SQID);
    if (this.qid !== undefined && sqid !== this.qid) throw new ControllerProtocolError(`CapsuleResp SQID ${sqid} on queue ${this.qid}`);
    const status = h.readUInt16LE(CAPSULE_CQE + CQE.STATUS) >>> 1;
    if (status === 0 && slot.out && slot.sent < slot.out.length) {
      throw new ControllerProtocolError(`command ${cid} completed successfully after ${slot.sent} of ${slot.out.length} bytes of its data`);
    }
    this.sqhd = h.readUInt16LE(CAPSULE_CQE + CQE.SQHD);
    this.complete(slot, status, h.readUInt32LE(CAPSULE_CQE + CQE.DW0), h.readUInt32LE(CAPSULE_CQE + CQE.DW1));
  }

  private onC2HData(h: Buffer, info: C2HInfo): void {
    this.stats.c2hData++;
    const cid = h.readUInt16LE(DATA.CCCID);
    const slot = this.slots[cid];
    if (!slot?.busy) {
      if (this.onUnexpected) return;
      throw new ControllerProtocolError(`C2HData for command ${cid}, which is not outstanding`);
    }
    slot.got += info.dataLen;
    if (info.flags & PduFlag.DATA_SUCCESS) {
      // NVMe/TCP 1.0, 3.6.2.7: SUCCESS only on the last C2HData, and only with SQ flow control disabled.
      if (!(info.flags & PduFlag.DATA_LAST)) throw new ControllerProtocolError(`C2HData for command ${cid} has SUCCESS without LAST_PDU`);
      if (!this.sqFlowDisabled) throw new ControllerProtocolError(`C2HData for command ${cid} has SUCCESS but SQ flow control is enabled`);
      this.complete(slot, 0, 0, 0);
    }
  }

  private onR2T(h: Buffer, info: C2HInfo): void {
    this.stats.r2t++;
    const cid = h.readUInt16LE(R2T.CCCID);
    const slot = this.slots[cid];
    if (!slot?.busy) {
      if (this.onUnexpected) return this.onUnexpected(info.type, h, info);
      throw new ControllerProtocolError(`R2T for command ${cid}, which is not outstanding`);
    }
    const ttag = h.readUInt16LE(R2T.TTAG);
    const r2to = h.readUInt32LE(R2T.R2TO);
    const r2tl = h.readUInt32LE(R2T.R2TL);
    if (!slot.out || slot.inCapsule) throw new ControllerProtocolError(`R2T for command ${cid}, which has no data waiting`);
    if (r2to !== slot.sent || r2tl === 0 || r2to + r2tl > slot.out.length) {
      throw new ControllerProtocolError(`R2T for command ${cid} asks [${r2to}, +${r2tl}) of ${slot.out.length} bytes, ${slot.sent} already sent`);
    }
    slot.sent += r2tl;
    this.sendH2CData(cid, ttag, slot.out, r2to, r2tl);
  }

  /** Data asked by one R2T, in PDUs of at most MAXH2CDATA bytes; LAST_PDU on the last (NVMe/TCP 1.0, 3.6.2.6). */
  private sendH2CData(cid: number, ttag: number, data: Buffer, r2to: number, r2tl: number): void {
    const hd = this.hdgst ? DIGEST_LEN : 0;
    const dd = this.ddgst ? DIGEST_LEN : 0;
    const pdo = dataOffset(HLEN.Data, this.hdgst, this.cpda);
    const n = Math.ceil(r2tl / this.maxh2cdata);
    const heads = Buffer.alloc(n * (pdo + dd));
    for (let k = 0, off = r2to; k < n; k++) {
      const len = Math.min(this.maxh2cdata, r2to + r2tl - off);
      const at = k * (pdo + dd);
      const last = off + len === r2to + r2tl;
      const flags = (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0) | (last ? PduFlag.DATA_LAST : 0);
      writeDataHeader(heads, PduType.H2CData, flags, pdo, pdo + len + dd, cid, ttag, off, len, at);
      if (hd) heads.writeUInt32LE(crc32c(heads.subarray(at, at + HLEN.Data)), at + HLEN.Data);
      const piece = data.subarray(off, off + len);
      this.put(heads.subarray(at, at + pdo));
      this.put(piece);
      if (dd) {
        heads.writeUInt32LE(crc32c(piece), at + pdo);
        this.put(heads.subarray(at + pdo, at + pdo + dd));
      }
      this.stats.h2cData++;
      off += len;
    }
  }

  private complete(slot: Slot, status: number, dw0: number, dw1: number): void {
    const cb = slot.cb!;
    const bytes = slot.got;
    slot.busy = false;
    slot.cb = undefined;
    slot.out = undefined;
    slot.inp = undefined;
    this.outstanding--;
    this.free.push(slot.cid);
    cb(status, dw0, dw1, bytes);
    if (this.waiters.length && this.free.length) this.waiters.shift()!();
  }

  // ---- plumbing ----

  private configureSlots(): void {
    const hd = this.hdgst ? DIGEST_LEN : 0;
    const pdo = dataOffset(HLEN.CapsuleCmd, this.hdgst, this.cpda);
    for (const s of this.slots) {
      s.capsule = s.pdu.subarray(0, HLEN.CapsuleCmd + hd);
      s.capsuleData = s.pdu.subarray(0, pdo);
      s.pdu.fill(0, HLEN.CapsuleCmd + hd);
    }
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.sock.uncork();
  };

  private put(b: Buffer): void {
    if (this.sock.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(this.uncork);
    }
    this.stats.bytesOut += b.length;
    this.sock.write(b);
  }

  private onTick(): void {
    this.tick++;
    if (this.outstanding === 0) return;
    for (const s of this.slots) {
      // An Asynchronous Event Request is outstanding until an event comes: no timeout (nor on Linux's host).
      if (this.qid === 0 && s.pdu[CAPSULE_SQE + SQE.OPC] === AdminOpc.AsyncEventRequest) continue;
      if (s.busy && this.tick - s.startTick > this.commandTimeoutTicks) {
        const op = s.pdu[CAPSULE_SQE + SQE.OPC];
        this.fail(new CommandTimeoutError(`command ${s.cid} (opcode 0x${op.toString(16)})`, this.commandTimeoutTicks * 1000), true);
        return;
      }
    }
  }

  /** Fails every outstanding command; `destroy` also drops the connection. */
  private fail(e: Error, destroy: boolean): void {
    if (!this.failure) this.failure = e;
    if (destroy) this.destroy();
    for (const s of this.slots) {
      if (s.busy) this.complete(s, TRANSPORT_FAILED, 0, 0);
    }
    const w = this.waiters.splice(0);
    for (const f of w) f();
    const resolve = this.icResolve;
    this.icResolve = undefined;
    resolve?.(false);
  }
}
