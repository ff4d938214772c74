// A host's view of one NVMe controller reached over NVMe/TCP: the admin queue, Connect (dynamic model,
// cntlid 0xFFFF), enabling through Property Set of CC, Identify, logs, features, keep-alive, I/O queues
// and an orderly disconnect (NVMe over Fabrics 1.1, 3 and 7; NVMe Base 2.0, 3.5.1 for initialization).
import { randomBytes } from 'node:crypto';
import { encodeConnectData, CATTR_DISABLE_SQFLOW, DYNAMIC_CNTLID } from '../../target/protocol/connect.js';
import { CC, CSTS, Prop } from '../../target/protocol/properties.js';
import { Cns, DISCOVERY_NQN, LogId } from '../../target/protocol/opcodes.js';
import { IDENTIFY_SIZE, IdCtrl, IdNs } from '../../target/protocol/identify-layout.js';
import { decodeDiscoveryLog, DISC_HEADER_SIZE, DISC_ENTRY_SIZE, DiscHdr, type DiscoveryRecord } from '../../target/protocol/discovery-log.js';
import { SQE_SIZE } from '../../target/protocol/sqe.js';
import {
  connectSqe, disconnectSqe, getFeaturesSqe, getLogPageSqe, identifySqe, keepAliveSqe, propertyGetSqe, propertySetSqe, setFeaturesSqe,
} from './commands.js';
import { HostQueue, type Completion, type QueueOptions } from './queue.js';
import { NvmeStatusError } from './errors.js';

export const DEFAULT_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-6e766d656f66';

export interface ControllerOptions {
  host: string;
  port: number;
  subnqn: string;
  hostnqn?: string;
  /** 16-byte host identifier; random when absent. */
  hostid?: Buffer;
  /** Keep Alive Timeout in ms sent on the admin Connect (0: none). With a KATO the host sends Keep Alive every KATO/2. */
  kato?: number;
  hdgst?: boolean;
  ddgst?: boolean;
  /** TLS with an external PSK on every queue (QueueOptions.tls). */
  tls?: { identity: string; psk: Buffer };
  /** I/O queues to connect (default 1; a discovery controller gets none). */
  ioQueues?: number;
  /** Outstanding commands per I/O queue (default 32) and on the admin queue (default 32). */
  queueDepth?: number;
  adminDepth?: number;
  /** Set CATTR bit 2 on I/O queue Connects (the controller may then skip CapsuleResp after C2HData). */
  disableSqFlow?: boolean;
  /** Send Keep Alive every KATO/2 (default true; false lets a test watch the controller expire). */
  sendKeepAlive?: boolean;
  /** Set CC.EN and wait for CSTS.RDY (default true). */
  enable?: boolean;
  commandTimeoutMs?: number;
}

export interface ControllerInfo {
  vid: number;
  sn: string;
  mn: string;
  fr: string;
  cntlid: number;
  ver: number;
  mdts: number;
  cntrltype: number;
  sqes: number;
  cqes: number;
  nn: number;
  oncs: number;
  vwc: number;
  kas: number;
  sgls: number;
  subnqn: string;
  /** In-capsule data an I/O command may carry: IOCCSZ * 16 - 64 bytes. */
  ioccsz: number;
  iorcsz: number;
  msdbd: number;
  raw: Buffer;
}

export interface NamespaceInfo {
  nsid: number;
  nsze: number;
  ncap: number;
  nuse: number;
  nmic: number;
  dlfeat: number;
  blockSize: number;
  nguid: Buffer;
  eui64: Buffer;
  raw: Buffer;
}

function str(b: Buffer, at: number, len: number): string {
  return b.subarray(at, at + len).toString('latin1').replace(/[\0 ]+$/, '');
}

export function decodeIdentifyController(b: Buffer): ControllerInfo {
  return {
    vid: b.readUInt16LE(IdCtrl.VID),
    sn: str(b, IdCtrl.SN, 20),
    mn: str(b, IdCtrl.MN, 40),
    fr: str(b, IdCtrl.FR, 8),
    cntlid: b.readUInt16LE(IdCtrl.CNTLID),
    ver: b.readUInt32LE(IdCtrl.VER),
    mdts: b[IdCtrl.MDTS],
    cntrltype: b[IdCtrl.CNTRLTYPE],
    sqes: b[IdCtrl.SQES],
    cqes: b[IdCtrl.CQES],
    nn: b.readUInt32LE(IdCtrl.NN),
    oncs: b.readUInt16LE(IdCtrl.ONCS),
    vwc: b[IdCtrl.VWC],
    kas: b.readUInt16LE(IdCtrl.KAS),
    sgls: b.readUInt32LE(IdCtrl.SGLS),
    subnqn: str(b, IdCtrl.SUBNQN, 256),
    ioccsz: b.readUInt32LE(IdCtrl.IOCCSZ),
    iorcsz: b.readUInt32LE(IdCtrl.IORCSZ),
    msdbd: b[IdCtrl.MSDBD],
    raw: b,
  };
}

export function decodeIdentifyNamespace(nsid: number, b: Buffer): NamespaceInfo {
  const flbas = b[IdNs.FLBAS] & 0xf;
  const lbads = b[IdNs.LBAF0 + flbas * 4 + 2];
  return {
    nsid,
    nsze: Number(b.readBigUInt64LE(IdNs.NSZE)),
    ncap: Number(b.readBigUInt64LE(IdNs.NCAP)),
    nuse: Number(b.readBigUInt64LE(IdNs.NUSE)),
    nmic: b[IdNs.NMIC],
    dlfeat: b[IdNs.DLFEAT],
    blockSize: lbads ? 2 ** lbads : 0,
    nguid: Buffer.from(b.subarray(IdNs.NGUID, IdNs.NGUID + 16)),
    eui64: Buffer.from(b.subarray(IdNs.EUI64, IdNs.EUI64 + 8)),
    raw: b,
  };
}

/** Namespace Identification Descriptors (CNS 03h): type, then the identifier bytes. */
export function decodeNsDescriptors(b: Buffer): Array<{ type: number; value: Buffer }> {
  const out: Array<{ type: number; value: Buffer }> = [];
  for (let at = 0; at + 4 <= b.length;) {
    const type = b[at];
    const len = b[at + 1];
    if (type === 0 || len === 0) break;
    out.push({ type, value: Buffer.from(b.subarray(at + 4, at + 4 + len)) });
    at += 4 + len;
  }
  return out;
}

export class HostController {
  readonly io: HostQueue[] = [];
  info: ControllerInfo | undefined;
  private kaTimer: NodeJS.Timeout | undefined;
  protected ioccszBytes = 0;

  protected constructor(
    /** The admin queue and the controller's cntlid: both change when a host resets the controller (spdk.ts). */
    public admin: HostQueue,
    public cntlid: number,
    readonly opts: ControllerOptions & { hostnqn: string; hostid: Buffer },
  ) {}

  /** Connects the admin queue, enables the controller, identifies it and connects the I/O queues. */
  static async connect(o: ControllerOptions): Promise<HostController> {
    const opts = { ...o, hostnqn: o.hostnqn ?? DEFAULT_HOSTNQN, hostid: o.hostid ?? randomBytes(16) };
    const adminDepth = o.adminDepth ?? 32;
    const admin = await HostQueue.open({ ...queueOpts(opts), depth: adminDepth });
    let ctrl: HostController | undefined;
    try {
      const cntlid = await connectQueue(admin, opts, 0, adminDepth, DYNAMIC_CNTLID, o.kato ?? 0, 0);
      ctrl = new HostController(admin, cntlid, opts);
      if (o.enable ?? true) await ctrl.enable();
      if (o.subnqn !== DISCOVERY_NQN && (o.enable ?? true)) {
        ctrl.info = await ctrl.identifyController();
        ctrl.ioccszBytes = Math.max(0, ctrl.info.ioccsz * 16 - SQE_SIZE);
        const n = o.ioQueues ?? 1;
        for (let qid = 1; qid <= n; qid++) await ctrl.connectIoQueue(qid, o.queueDepth ?? 32);
      }
      if (o.kato && (o.sendKeepAlive ?? true)) ctrl.startKeepAlive(o.kato);
      return ctrl;
    } catch (e) {
      ctrl?.stopKeepAlive();
      for (const q of ctrl?.io ?? []) q.destroy();
      admin.destroy();
      throw e;
    }
  }

  /** Connects I/O queue `qid` on its own TCP connection. */
  async connectIoQueue(qid: number, depth: number, queueOptions: Partial<QueueOptions> = {}): Promise<HostQueue> {
    const q = await HostQueue.open({ ...queueOpts(this.opts), depth, ...queueOptions });
    try {
      const cattr = this.opts.disableSqFlow ? CATTR_DISABLE_SQFLOW : 0;
      await connectQueue(q, this.opts, qid, depth, this.cntlid, 0, cattr);
      q.sqFlowDisabled = cattr !== 0;
      q.inCapsuleMax = this.ioccszBytes;
    } catch (e) {
      q.destroy();
      throw e;
    }
    this.io.push(q);
    return q;
  }

  // ---- properties ----

  async propertyGet(offset: number): Promise<bigint> {
    const c = await this.admin.exec(propertyGetSqe(offset, offset === Prop.CAP), `Property Get 0x${offset.toString(16)}`);
    return BigInt(c.dw0 >>> 0) | (BigInt(c.dw1 >>> 0) << 32n);
  }

  async propertySet(offset: number, value: number): Promise<void> {
    await this.admin.exec(propertySetSqe(offset, BigInt(value >>> 0)), `Property Set 0x${offset.toString(16)}`);
  }

  /** CC.EN = 1 with IOSQES 6 (64-byte SQEs) and IOCQES 4 (16-byte CQEs); waits for CSTS.RDY within CAP.TO. */
  async enable(): Promise<void> {
    const cap = await this.propertyGet(Prop.CAP);
    const toMs = Number((cap >> 24n) & 0xffn) * 500 || 500;
    await this.propertySet(Prop.CC, CC.EN | (6 << CC.IOSQES_SHIFT) | (4 << CC.IOCQES_SHIFT));
    await this.waitCsts((csts) => (csts & CSTS.RDY) !== 0, toMs, 'CSTS.RDY');
  }

  /** Normal shutdown notification (CC.SHN = 01b); waits for CSTS.SHST = complete. */
  async shutdown(): Promise<void> {
    const cc = Number(await this.propertyGet(Prop.CC));
    await this.propertySet(Prop.CC, (cc & ~CC.SHN_MASK) | (1 << CC.SHN_SHIFT));
    await this.waitCsts((csts) => (csts & (0x3 << CSTS.SHST_SHIFT)) === CSTS.SHST_COMPLETE, 5000, 'CSTS.SHST complete');
  }

  private async waitCsts(done: (csts: number) => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const csts = Number(await this.propertyGet(Prop.CSTS));
      if (csts & CSTS.CFS) throw new Error(`controller fatal status (CSTS 0x${csts.toString(16)}) waiting for ${what}`);
      if (done(csts)) return;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${what} (CSTS 0x${csts.toString(16)})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // ---- admin commands ----

  async identify(cns: number, nsid = 0, o: { cntid?: number; csi?: number } = {}): Promise<Buffer> {
    const b = Buffer.alloc(IDENTIFY_SIZE);
    await this.admin.exec(identifySqe(cns, nsid, o.cntid ?? 0, o.csi ?? 0), `Identify CNS 0x${cns.toString(16)} nsid ${nsid}`, { inp: b });
    return b;
  }

  async identifyController(): Promise<ControllerInfo> {
    return decodeIdentifyController(await this.identify(Cns.Controller));
  }

  async identifyNamespace(nsid: number): Promise<NamespaceInfo> {
    return decodeIdentifyNamespace(nsid, await this.identify(Cns.Namespace, nsid));
  }

  /** Active namespace IDs above `after` (CNS 02h). */
  async activeNamespaces(after = 0): Promise<number[]> {
    const b = await this.identify(Cns.ActiveNsList, after);
    const ids: number[] = [];
    for (let at = 0; at < b.length; at += 4) {
      const id = b.readUInt32LE(at);
      if (id === 0) break;
      ids.push(id);
    }
    return ids;
  }

  async namespaceDescriptors(nsid: number): Promise<Array<{ type: number; value: Buffer }>> {
    return decodeNsDescriptors(await this.identify(Cns.NsDescriptorList, nsid));
  }

  async getLogPage(lid: number, len: number, o: { nsid?: number; lsp?: number; lpo?: number; rae?: boolean } = {}): Promise<Buffer> {
    const b = Buffer.alloc(len);
    await this.admin.exec(getLogPageSqe(lid, len, o), `Get Log Page 0x${lid.toString(16)}`, { inp: b });
    return b;
  }

  /**
   * The discovery log page, read as NVMe over Fabrics 1.1, 5.3 asks: the header, then every record, then
   * the header again; a changed GENCTR means the log changed in between, so it is read again.
   */
  async discoveryLog(): Promise<{ genctr: bigint; records: DiscoveryRecord[] }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const head = await this.getLogPage(LogId.Discovery, DISC_HEADER_SIZE);
      const numrec = Number(head.readBigUInt64LE(DiscHdr.NUMREC));
      const full = await this.getLogPage(LogId.Discovery, DISC_HEADER_SIZE + numrec * DISC_ENTRY_SIZE);
      const again = await this.getLogPage(LogId.Discovery, DISC_HEADER_SIZE);
      if (again.readBigUInt64LE(DiscHdr.GENCTR) === full.readBigUInt64LE(DiscHdr.GENCTR)) return decodeDiscoveryLog(full);
    }
    throw new Error('discovery log kept changing');
  }

  getFeatures(fid: number, o: { sel?: number; cdw11?: number; nsid?: number; inp?: Buffer } = {}): Promise<Completion> {
    return this.admin.exec(getFeaturesSqe(fid, o), `Get Features 0x${fid.toString(16)}`, { inp: o.inp });
  }

  setFeatures(fid: number, cdw11: number, o: { save?: boolean; nsid?: number; out?: Buffer } = {}): Promise<Completion> {
    return this.admin.exec(setFeaturesSqe(fid, cdw11, o), `Set Features 0x${fid.toString(16)}`, { out: o.out });
  }

  async keepAlive(): Promise<void> {
    await this.admin.exec(keepAliveSqe(), 'Keep Alive');
  }

  /** Keep Alive every KATO/2 (at least every 100 ms) until stopped or one fails. */
  protected startKeepAlive(kato: number): void {
    this.stopKeepAlive();
    this.kaTimer = setInterval(() => {
      this.keepAlive().catch(() => this.stopKeepAlive());
    }, Math.max(100, Math.floor(kato / 2)));
    this.kaTimer.unref();
  }

  protected stopKeepAlive(): void {
    if (this.kaTimer) clearInterval(this.kaTimer);
    this.kaTimer = undefined;
  }

  // ---- teardown ----

  /**
   * Orderly teardown, as the Linux host does it: Disconnect on each I/O queue, shutdown notification,
   * then the admin connection closes (which ends the controller).
   */
  async disconnect(o: { shutdown?: boolean } = {}): Promise<void> {
    this.stopKeepAlive();
    for (const q of this.io.splice(0)) {
      try {
        if (q.isOpen) await q.exec(disconnectSqe(), `Disconnect qid ${q.qid}`);
      } finally {
        q.close();
        await q.closed;
      }
    }
    try {
      if ((o.shutdown ?? true) && this.admin.isOpen) await this.shutdown();
    } finally {
      this.admin.close();
      await this.admin.closed;
    }
  }

  /** Drops every connection at once, without telling the controller. */
  destroy(): void {
    this.stopKeepAlive();
    for (const q of this.io) q.destroy();
    this.admin.destroy();
  }
}

export function queueOpts(o: ControllerOptions): QueueOptions {
  return { host: o.host, port: o.port, hdgst: o.hdgst, ddgst: o.ddgst, commandTimeoutMs: o.commandTimeoutMs, tls: o.tls };
}

/** Fabrics Connect on `q` (NVMe over Fabrics 1.1, 3.3); returns the cntlid from the completion. */
export async function connectQueue(
  q: HostQueue,
  o: { subnqn: string; hostnqn: string; hostid: Buffer },
  qid: number, depth: number, cntlid: number, kato: number, cattr: number,
): Promise<number> {
  const data = encodeConnectData({ hostid: o.hostid, cntlid, subnqn: o.subnqn, hostnqn: o.hostnqn });
  const c = await q.submit(connectSqe({ qid, sqsize: depth, cattr, kato }), { out: data });
  if (c.status !== 0) throw new NvmeStatusError(c.status, `Connect qid ${qid} to ${o.subnqn}`, c.dw0);
  q.qid = qid;
  return c.dw0 & 0xffff;
}
