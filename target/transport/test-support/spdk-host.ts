// What the SPDK-host tests share: the capture of SPDK v24.09's host against SPDK's target
// (target/protocol/testdata/spdk-host-vs-spdk-target.jsonl), a Target with one subsystem like the capture's
// (a namespace of 4096-byte blocks), Connections over an in-memory wire, and the SQEs SPDK's host builds
// (lib/nvme/nvme_ctrlr_cmd.c, nvme_fabric.c: PSDT SGL, a Transport SGL Data Block descriptor of length 0 for
// commands without data, exactly as buildSqe makes them; checked against the capture in spdk-host.test.ts).
import { readFileSync } from 'node:fs';
import { Connection } from '../connection.js';
import { MemWire } from './mem-wire.js';
import { StateFileRecorder } from '../state-recorder.js';
import { Target } from '../../controller/target.js';
import { nullObserver } from '../../controller/observer.js';
import { Subsystem } from '../../subsystem/subsystem.js';
import { Namespace } from '../../subsystem/namespace.js';
import { MemoryBackend } from '../../subsystem/backends/memory.js';
import { deriveNamespaceIds } from '../../subsystem/identity.js';
import { CAPSULE_CQE, PduType, readCommonHeader, readDataHeader } from '../../protocol/pdu.js';
import { readCqe, type Cqe } from '../../protocol/cqe.js';
import { buildSqe, SQE } from '../../protocol/sqe.js';
import { AdminOpc, FabricsType } from '../../protocol/opcodes.js';
import { encodeConnectData } from '../../protocol/connect.js';
import { Prop } from '../../protocol/properties.js';
import { capsulePdu, connectSqe, icReqPdu } from './host-pdus.js';

export const NQN = 'nqn.2016-06.io.spdk:cnode1';
/** spdk_nvme_perf's host NQN when none is given (a uuid NQN; the capture cut it off). */
export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:664574af-3a7a-4326-86fc-0ed9d6d81897';
/** SPDK's default keep-alive timeout (MIN_KEEP_ALIVE_TIMEOUT_IN_MS, lib/nvme/nvme_internal.h), sent in every Connect. */
export const SPDK_KATO_MS = 10_000;
/** SPDK's admin queue: 32 entries (DEFAULT_ADMIN_QUEUE_SIZE), Connect SQSIZE 31. */
export const SPDK_ADMIN_SQSIZE = 31;
/** CC as SPDK's nvme_ctrlr_enable writes it: EN, CSS 0, MPS 0, AMS 0, SHN 0, IOSQES 6, IOCQES 4. */
export const SPDK_CC_ENABLE = 0x00460001;

// ---- the capture ----

export interface CapturedPdu {
  stream: number;
  dir: 'h2c' | 'c2h';
  index: number;
  type: string;
  pdo: number;
  plen: number;
  /** The PDU, or its first cut_at bytes when `cut`. */
  bytes: Buffer;
  cut: boolean;
}

// Compiled to dist/target/transport/test-support/: the vectors stay in the source tree.
const CAPTURE = new URL('../../../../target/protocol/testdata/spdk-host-vs-spdk-target.jsonl', import.meta.url);

export function spdkCapture(): CapturedPdu[] {
  return readFileSync(CAPTURE, 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
    const o = JSON.parse(l) as Omit<CapturedPdu, 'bytes' | 'cut'> & { hex: string; cut_at?: number };
    return { stream: o.stream, dir: o.dir, index: o.index, type: o.type, pdo: o.pdo, plen: o.plen, bytes: Buffer.from(o.hex, 'hex'), cut: o.cut_at !== undefined };
  }).sort((a, b) => a.stream - b.stream || a.dir.localeCompare(b.dir) || a.index - b.index);
}

/**
 * A captured Connect as our target can take it: its SQE as SPDK sent it, its data rebuilt from the host
 * identifier and cntlid the capture kept (its NQNs were cut off) and this rig's NQNs.
 */
export function capturedConnect(p: CapturedPdu): Buffer {
  const sqe = p.bytes.subarray(8, 72);
  const data = p.bytes.subarray(p.pdo);
  return capsulePdu(Buffer.from(sqe), encodeConnectData({ hostid: Buffer.from(data.subarray(0, 16)), cntlid: data.readUInt16LE(16), subnqn: NQN, hostnqn: HOSTNQN }));
}

// ---- the target ----

export interface HostConn {
  wire: MemWire;
  conn: Connection;
}

export interface SpdkRig {
  target: Target;
  sub: Subsystem;
  /** Protocol errors the target reported (kind), and controllers it removed (cntlid: reason). */
  protocolErrors: string[];
  removed: string[];
  /** A new connection, after its ICReq/ICResp. */
  open(): HostConn;
}

/** The capture's target: one subsystem, namespace 1 of 4096-byte blocks (64 MiB: every LBA the capture reads). */
export function spdkRig(): SpdkRig {
  const sub = new Subsystem('nvm', NQN, 'SPDK00000000000001', 'SPDK bdev Controller', [{ address: '127.0.0.1', port: 4420 }], undefined);
  sub.addNamespace(new Namespace(1, 4096, deriveNamespaceIds(NQN, 1), new MemoryBackend(64 << 20)));
  const protocolErrors: string[] = [];
  const removed: string[] = [];
  const target = new Target([sub], {
    observer: { ...nullObserver, protocolError: (_n, kind) => protocolErrors.push(kind), controllerRemoved: (c, reason) => removed.push(`${c.cntlid}: ${reason}`) },
  });
  const open = (): HostConn => {
    const wire = new MemWire();
    const conn = new Connection(wire, target, { recorder: new StateFileRecorder(target) });
    conn.feed(icReqPdu());
    const [icresp] = wire.take();
    if (icresp?.[0] !== PduType.ICResp) throw new Error('no ICResp');
    return { wire, conn };
  };
  return { target, sub, protocolErrors, removed, open };
}

// ---- what comes back ----

export interface Answer {
  cqes: Cqe[];
  /** C2HData PDUs: command and bytes. */
  data: Array<{ cid: number; datal: number }>;
  /** Type of every PDU, in order (a C2HTermReq would show here as 0x03). */
  types: number[];
}

export function parse(pdus: Buffer[]): Answer {
  const a: Answer = { cqes: [], data: [], types: [] };
  for (const p of pdus) {
    const type = readCommonHeader(p).type;
    a.types.push(type);
    if (type === PduType.CapsuleResp) a.cqes.push(readCqe(p, CAPSULE_CQE));
    if (type === PduType.C2HData) {
      const h = readDataHeader(p);
      a.data.push({ cid: h.cccid, datal: h.datal });
    }
  }
  return a;
}

const tick = () => new Promise((r) => setImmediate(r));

/** Feeds `pdu` and collects what the target sends until `done` says it is all there (or 50 turns of the loop). */
export async function exchange(c: HostConn, pdu: Buffer, done: (a: Answer) => boolean = (a) => a.cqes.length > 0): Promise<Answer> {
  c.conn.feed(pdu);
  const got: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    got.push(...c.wire.take());
    if (done(parse(got))) break;
    await tick();
  }
  return parse(got);
}

/** Sends one command and returns its single CQE (throws if none or several came). */
export async function command(c: HostConn, sqe: Buffer, data?: Buffer): Promise<Cqe> {
  const a = await exchange(c, capsulePdu(sqe, data));
  if (a.cqes.length !== 1) throw new Error(`expected one completion, got ${a.cqes.length} (PDU types ${a.types.join(',')})`);
  return a.cqes[0];
}

// ---- SPDK's commands ----

/** Fabrics Connect as nvme_fabric_qpair_connect sends it: CID 0, SQSIZE, KATO on every queue; cntlid 0xFFFF for the admin queue. */
export function spdkConnect(qid: number, cntlid: number, sqsize: number, hostid: Buffer, hostnqn = HOSTNQN): Buffer {
  const sqe = connectSqe(qid, { sqsize, kato: SPDK_KATO_MS });
  sqe.writeUInt16LE(0, SQE.CID);
  return capsulePdu(sqe, encodeConnectData({ hostid, cntlid, subnqn: NQN, hostnqn }));
}

// Property Get/Set fields (NVMe over Fabrics 1.1, 3.4-3.5): ATTRIB in CDW10, OFST in CDW11, VALUE from CDW12.
export function propertyGet(cid: number, offset: number): Buffer {
  const b = buildSqe({ opc: AdminOpc.Fabrics, cid, fctype: FabricsType.PropertyGet });
  b[SQE.CDW10] = offset === Prop.CAP ? 1 : 0; // ATTRIB: 8 bytes for CAP
  b.writeUInt32LE(offset, SQE.CDW11); // OFST
  return b;
}

export function propertySet(cid: number, offset: number, value: number): Buffer {
  const b = buildSqe({ opc: AdminOpc.Fabrics, cid, fctype: FabricsType.PropertySet });
  b.writeUInt32LE(offset, SQE.CDW11); // OFST
  b.writeUInt32LE(value >>> 0, SQE.CDW12); // VALUE
  return b;
}

export const aer = (cid: number) => buildSqe({ opc: AdminOpc.AsyncEventRequest, cid });
export const keepAlive = (cid: number) => buildSqe({ opc: AdminOpc.KeepAlive, cid });
export const getFeatures = (cid: number, fid: number) => buildSqe({ opc: AdminOpc.GetFeatures, cid, cdw10: fid });
/** Abort (spdk_nvme_ctrlr_cmd_abort): SQID in CDW10 bits 15:0, the CID to abort in bits 31:16. */
export const abort = (cid: number, sqid: number, abortCid: number) => buildSqe({ opc: AdminOpc.Abort, cid, cdw10: (sqid | (abortCid << 16)) >>> 0 });
