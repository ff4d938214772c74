// The host library behaving as SPDK v24.09's user-space host (lib/nvme) does, where that differs from the
// Linux host the rest of the library follows. SPDK cannot be built here, so this is the model the tests run
// against the real target process; target/transport/spdk-host.test.ts checks the same behaviour against the
// bytes SPDK's host really sent (target/protocol/testdata/spdk-host-vs-spdk-target.jsonl). What it copies:
//  - CIDs: a freed command identifier goes back on top of the free list (nvme_tcp.c nvme_tcp_req_put inserts
//    at the head), as HostQueue's slot stack does, so serial admin commands all use the same CID;
//  - initialisation (nvme_ctrlr.c nvme_ctrlr_process_init): Property Get VS, CAP, CC, CSTS; a controller
//    found enabled is disabled first; CC = EN | IOSQES 6 | IOCQES 4; CSTS polled for RDY; Identify; Set
//    Features Asynchronous Event Configuration; min(AERL + 1, 4) AERs at once (CIDs 0-3); Get Features KATO,
//    whose answer becomes the keep-alive timeout; Set Features Number of Queues; Identify of the active
//    namespaces and their descriptors; Keep Alive at once and then every KATO/2;
//  - every Connect carries KATO (nvme_fabric.c), the admin queue's cntlid is always 0xFFFF, I/O queues take
//    the lowest free qid and CAP.MQES + 1 entries (spdk_nvme_perf asks for UINT16_MAX);
//  - an I/O queue is freed by closing its socket, without a Fabrics Disconnect;
//  - detach (nvme_ctrlr_destruct_async): its AERs completed inside the host as aborted (never sent an Abort),
//    Property Get CC (with the CID of its last AER), CC.SHN = 01b, CSTS polled until SHST = 10b for at least
//    10 s, then the admin socket closes;
//  - reset (spdk_nvme_ctrlr_reset): AERs completed inside the host, the admin socket closed, a new admin
//    Connect (cntlid 0xFFFF, same host NQN and host ID) and the whole initialisation, then each I/O queue
//    connected again, same qid, on a new socket, to the cntlid the new Connect returned;
//  - Abort (spdk_nvme_ctrlr_cmd_abort): SQID and CID in CDW10 on the admin queue.
import { DYNAMIC_CNTLID } from '../../target/protocol/connect.js';
import { CC, CSTS, Prop } from '../../target/protocol/properties.js';
import { AdminOpc, FeatureId } from '../../target/protocol/opcodes.js';
import { SQE, SQE_SIZE } from '../../target/protocol/sqe.js';
import { IdCtrl } from '../../target/protocol/identify-layout.js';
import { abortSqe, asyncEventRequestSqe } from './commands.js';
import { HostController, DEFAULT_HOSTNQN, connectQueue, queueOpts, type ControllerOptions } from './controller.js';
import { HostQueue, type Completion } from './queue.js';
import { randomBytes } from 'node:crypto';

/** MIN_KEEP_ALIVE_TIMEOUT_IN_MS: SPDK's default KATO, sent in every Connect. */
export const SPDK_KATO_MS = 10_000;
/** DEFAULT_ADMIN_QUEUE_SIZE. */
export const SPDK_ADMIN_DEPTH = 32;
/** NVME_MAX_ASYNC_EVENTS: at most this many AERs, fewer if AERL says so. */
export const SPDK_MAX_AERS = 4;
/** Asynchronous Event Configuration as the capture shows it: SMART critical warnings 0x1f, namespace attribute notices. */
export const SPDK_AEC = 0x11f;
/** Number of Queues asked for: 1024 submission and completion queues (DEFAULT_MAX_IO_QUEUES), 0-based. */
export const SPDK_NUM_QUEUES = 0x03ff03ff;
/** How nvme_tcp_admin_qpair_abort_aers completes AERs: Generic, Command Aborted due to SQ Deletion. */
export const ABORTED_SQ_DELETION = 0x08;
/** nvme_ctrlr_shutdown_set_cc_done: at least 10 s for CSTS.SHST to say complete. */
export const SPDK_SHUTDOWN_TIMEOUT_MS = 10_000;

const isAer = (sqe: Buffer) => sqe[SQE.OPC] === AdminOpc.AsyncEventRequest;

/** What one capsule was: its CID and what it asked (opcode, or fabrics type and property offset). */
export interface SentCommand {
  cid: number;
  opc: number;
  /** Fabrics commands: FCTYPE and, for Property Get/Set, the offset. */
  fctype?: number;
  offset?: number;
}

export class SpdkController extends HostController {
  /** Every capsule sent on the admin queue (all admin queues, across resets). */
  readonly adminSent: SentCommand[] = [];
  /** Asynchronous events received (completion DW0), in order. */
  readonly events: number[] = [];
  /** The keep-alive timeout in force (Get Features KATO's answer), and Keep Alives sent. */
  kato = 0;
  keepAlives = 0;
  /** Entries per I/O queue: CAP.MQES + 1 (spdk_nvme_perf asks for UINT16_MAX); its Connect SQSIZE is one less. */
  ioEntries = 0;
  private stopping = false;

  static override async connect(o: ControllerOptions): Promise<SpdkController> {
    const opts = { ...o, kato: o.kato ?? SPDK_KATO_MS, hostnqn: o.hostnqn ?? DEFAULT_HOSTNQN, hostid: o.hostid ?? randomBytes(16) };
    const ctrl = new SpdkController(await SpdkController.openAdmin(opts), 0, opts);
    try {
      await ctrl.initialize();
      for (let i = 0; i < (o.ioQueues ?? 1); i++) await ctrl.connectIoQueue();
      return ctrl;
    } catch (e) {
      ctrl.destroy();
      throw e;
    }
  }

  private static async openAdmin(opts: ControllerOptions): Promise<HostQueue> {
    return HostQueue.open({ ...queueOpts(opts), depth: SPDK_ADMIN_DEPTH });
  }

  /** nvme_ctrlr_process_init for a fabrics controller, from CONNECT_ADMINQ to READY. */
  private async initialize(): Promise<void> {
    const admin = this.admin;
    admin.onSubmit = (cid, sqe) => this.adminSent.push(describe(cid, sqe));
    this.cntlid = await connectQueue(admin, this.opts, 0, SPDK_ADMIN_DEPTH - 1, DYNAMIC_CNTLID, this.opts.kato!, 0);
    await this.propertyGet(Prop.VS);
    const cap = await this.propertyGet(Prop.CAP);
    this.ioEntries = Math.min(0xffff, Number(cap & 0xffffn) + 1);
    const readyMs = Number((cap >> 24n) & 0xffn) * 500;
    const cc = Number(await this.propertyGet(Prop.CC));
    const csts = Number(await this.propertyGet(Prop.CSTS));
    if (cc & CC.EN) {
      if (!(csts & CSTS.RDY)) await this.pollCsts((v) => (v & CSTS.RDY) !== 0, readyMs, 'CSTS.RDY = 1 before disabling');
      await this.propertySet(Prop.CC, cc & ~CC.EN);
      await this.pollCsts((v) => (v & CSTS.RDY) === 0, readyMs, 'CSTS.RDY = 0');
    }
    await this.propertySet(Prop.CC, CC.EN | (6 << CC.IOSQES_SHIFT) | (4 << CC.IOCQES_SHIFT));
    await this.pollCsts((v) => (v & CSTS.RDY) !== 0, readyMs, 'CSTS.RDY = 1');
    this.info = await this.identifyController();
    this.ioccszBytes = Math.max(0, this.info.ioccsz * 16 - SQE_SIZE);
    await this.setFeatures(FeatureId.AsyncEventConfig, SPDK_AEC);
    const aers = Math.min(SPDK_MAX_AERS, this.info.raw[IdCtrl.AERL] + 1);
    for (let i = 0; i < aers; i++) this.postAer(admin);
    const kato = await this.getFeatures(FeatureId.KeepAliveTimer);
    this.kato = kato.dw0 >>> 0;
    await this.setFeatures(FeatureId.NumberOfQueues, SPDK_NUM_QUEUES);
    for (const nsid of await this.activeNamespaces()) {
      await this.identifyNamespace(nsid);
      await this.namespaceDescriptors(nsid);
    }
    // nvme_ctrlr_set_keep_alive_timeout_done: the first Keep Alive as soon as possible, then every KATO/2.
    if (this.kato > 0) {
      await this.keepAlive();
      this.startKeepAlive(this.kato);
    }
  }

  override async keepAlive(): Promise<void> {
    this.keepAlives++;
    await super.keepAlive();
  }

  /** One AER; an event's completion posts the next (nvme_ctrlr_async_event_cb), an aborted one does not. */
  private postAer(admin: HostQueue): void {
    admin.submit(asyncEventRequestSqe()).then((c) => {
      if (c.status !== 0) return;
      this.events.push(c.dw0 >>> 0);
      if (!this.stopping && admin === this.admin && admin.isOpen) this.postAer(admin);
    }, () => { /* the queue failed: its owner sees that */ });
  }

  private async pollCsts(done: (csts: number) => boolean, ms: number, what: string): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const csts = Number(await this.propertyGet(Prop.CSTS));
      if (done(csts)) return csts;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${what} (CSTS 0x${csts.toString(16)})`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * spdk_nvme_ctrlr_alloc_io_qpair: the lowest free qid (or `qid`), `entries` entries (SQSIZE one less, KATO
   * too, in its Connect); a full queue holds one entry less than it has, so that many commands are outstanding.
   */
  override async connectIoQueue(qid = this.lowestFreeQid(), entries = this.ioEntries): Promise<HostQueue> {
    const q = await HostQueue.open({ ...queueOpts(this.opts), depth: entries - 1 });
    try {
      await connectQueue(q, this.opts, qid, entries - 1, this.cntlid, this.opts.kato!, 0);
      q.inCapsuleMax = this.ioccszBytes;
    } catch (e) {
      q.destroy();
      throw e;
    }
    this.io.push(q);
    this.io.sort((a, b) => a.qid! - b.qid!);
    return q;
  }

  private lowestFreeQid(): number {
    let qid = 1;
    while (this.io.some((q) => q.qid === qid)) qid++;
    return qid;
  }

  /** spdk_nvme_ctrlr_free_io_qpair: the socket closes; no Disconnect is sent. */
  async freeIoQueue(q: HostQueue): Promise<void> {
    const i = this.io.indexOf(q);
    if (i >= 0) this.io.splice(i, 1);
    q.close();
    await q.closed;
  }

  /** nvme_tcp_admin_qpair_abort_aers: the AERs complete inside the host; their CIDs are free (the last on top). */
  abortAersLocally(): number[] {
    return this.admin.completeLocally(isAer, ABORTED_SQ_DELETION);
  }

  /** spdk_nvme_ctrlr_cmd_abort: Abort of command `cid` on queue `sqid`. */
  abort(sqid: number, cid: number): Promise<Completion> {
    return this.admin.exec(abortSqe(sqid, cid), `Abort sqid ${sqid} cid ${cid}`);
  }

  /** spdk_nvme_detach: I/O queues freed, AERs completed inside the host, CC.SHN, CSTS.SHST polled, admin socket closed. */
  async detach(): Promise<void> {
    this.stopping = true;
    this.stopKeepAlive();
    for (const q of [...this.io]) await this.freeIoQueue(q);
    this.abortAersLocally();
    try {
      if (this.admin.isOpen) {
        const cc = Number(await this.propertyGet(Prop.CC));
        await this.propertySet(Prop.CC, (cc & ~CC.SHN_MASK) | (1 << CC.SHN_SHIFT));
        await this.pollCsts((v) => (v & (0x3 << CSTS.SHST_SHIFT)) === CSTS.SHST_COMPLETE, SPDK_SHUTDOWN_TIMEOUT_MS, 'CSTS.SHST complete');
      }
    } finally {
      this.admin.close();
      await this.admin.closed;
    }
  }

  override disconnect(): Promise<void> {
    return this.detach();
  }

  /**
   * spdk_nvme_ctrlr_reset: AERs completed inside the host, the admin socket closed (the controller goes, and
   * the target closes its I/O queues), a new admin queue and the whole initialisation, then every I/O queue
   * connected again with its qid to the new cntlid.
   */
  async reset(): Promise<void> {
    this.stopKeepAlive();
    this.abortAersLocally();
    this.admin.close();
    await this.admin.closed;
    this.admin = await SpdkController.openAdmin(this.opts);
    await this.initialize();
    const old = this.io.splice(0);
    for (const q of old) {
      q.destroy();
      await q.closed;
      await this.connectIoQueue(q.qid!, q.depth + 1);
    }
  }
}

function describe(cid: number, sqe: Buffer): SentCommand {
  const opc = sqe[SQE.OPC];
  if (opc !== AdminOpc.Fabrics) return { cid, opc };
  return { cid, opc, fctype: sqe[SQE.FCTYPE], offset: sqe.readUInt32LE(SQE.CDW11) };
}

