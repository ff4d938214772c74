// Fabrics commands (NVMe over Fabrics 1.1, 3; Linux drivers/nvme/target/fabrics-cmd.c): Connect binds a
// queue to a controller; Property Get/Set reach CAP, VS, CC and CSTS; Disconnect ends an I/O queue.
import { Status } from '../protocol/status.js';
import { CC, NVME_VERSION, Prop, capValue, MAX_QUEUE_ENTRIES } from '../protocol/properties.js';
import { AUTHREQ_ATR, CATTR_DISABLE_SQFLOW, CONNECT_DATA_SIZE, ConnectData, ConnectSqe, DYNAMIC_CNTLID, decodeConnect, invalidParam } from '../protocol/connect.js';
import { QueueAuth } from '../auth/queue-auth.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import { MAX_IO_QUEUES, type Controller } from './controller.js';
import { Qpair, type QueueTransport } from './qpair.js';
import type { Request } from './request.js';

/** What Connect needs from the target: subsystems, and controllers by cntlid. */
export interface ControllerDirectory {
  findSubsystem(nqn: string): Subsystem | undefined;
  /** Creates a controller with a fresh cntlid, or undefined when none is free. */
  createController(sub: Subsystem, hostnqn: string, hostid: Buffer, kato: number): Controller | undefined;
  findController(sub: Subsystem, cntlid: number): Controller | undefined;
  /** Called once a queue is connected (for metrics and logs). */
  queueConnected(q: Qpair): void;
}

export type ConnectOutcome = { ok: true; qpair: Qpair } | { ok: false };

/**
 * Validates a Connect (pure in everything but the directory it consults) and returns the bound queue.
 * Admin queue: qid 0, cntlid 0xFFFF (dynamic model), a new controller. I/O queue: an existing controller of
 * the same host, enabled, with a qid not yet connected and within the granted number of queues.
 */
export function executeConnect(req: Request, dir: ControllerDirectory, transport: QueueTransport): ConnectOutcome {
  const data = req.data;
  if (!data || data.length < CONNECT_DATA_SIZE) {
    req.complete(Status.SglDataLengthInvalid);
    return { ok: false };
  }
  const c = decodeConnect(req.sqe, data);
  const bad = (status: number, dw0 = 0): ConnectOutcome => {
    req.complete(status, dw0);
    return { ok: false };
  };
  if (c.recfmt !== 0) return bad(Status.ConnectIncompatibleFormat);
  const sub = dir.findSubsystem(c.subnqn);
  if (!sub) return bad(Status.ConnectInvalidParameters, invalidParam(true, ConnectData.SUBNQN));
  if (!sub.allowsHost(c.hostnqn)) return bad(Status.ConnectInvalidHost, invalidParam(true, ConnectData.HOSTNQN));
  // A TLS connection is bound to the host and subsystem of its PSK identity: a key for one pair admits no other.
  const tls = transport.tlsPeer;
  if (tls && (tls.hostNqn !== c.hostnqn || tls.subNqn !== c.subnqn)) return bad(Status.ConnectInvalidHost, invalidParam(true, ConnectData.HOSTNQN));
  if (c.sqsize === 0 || c.sqsize > MAX_QUEUE_ENTRIES - 1) return bad(Status.ConnectInvalidParameters, invalidParam(false, ConnectSqe.SQSIZE));
  const sqFlowControl = (c.cattr & CATTR_DISABLE_SQFLOW) === 0;
  if (c.qid === 0) {
    if (c.cntlid !== DYNAMIC_CNTLID) return bad(Status.ConnectInvalidParameters, invalidParam(true, ConnectData.CNTLID));
    const ctrl = dir.createController(sub, c.hostnqn, c.hostid, c.kato);
    if (!ctrl) return bad(Status.ConnectControllerBusy);
    const q = new Qpair(ctrl, 0, c.sqsize, transport, sqFlowControl);
    ctrl.admin = q;
    ctrl.startKeepAlive();
    req.qpair = q;
    const authreq = requireAuth(q);
    dir.queueConnected(q);
    req.complete(0, ctrl.cntlid | authreq);
    return { ok: true, qpair: q };
  }
  if (sub.kind === 'discovery') return bad(Status.ConnectInvalidParameters, invalidParam(false, ConnectSqe.QID));
  const ctrl = dir.findController(sub, c.cntlid);
  if (!ctrl || ctrl.destroyed) return bad(Status.ConnectInvalidParameters, invalidParam(true, ConnectData.CNTLID));
  if (ctrl.hostnqn !== c.hostnqn) return bad(Status.ConnectInvalidParameters, invalidParam(true, ConnectData.HOSTNQN));
  if (!ctrl.ready) return bad(Status.CommandSequenceError);
  if (c.qid > MAX_IO_QUEUES || ctrl.ioQueues.has(c.qid)) return bad(Status.ConnectInvalidParameters, invalidParam(false, ConnectSqe.QID));
  const q = new Qpair(ctrl, c.qid, c.sqsize, transport, sqFlowControl);
  ctrl.ioQueues.set(c.qid, q);
  req.qpair = q;
  const authreq = requireAuth(q);
  dir.queueConnected(q);
  req.complete(0, ctrl.cntlid | authreq);
  return { ok: true, qpair: q };
}

/**
 * A queue whose host has DH-HMAC-CHAP keys must authenticate: the Connect result says so with AUTHREQ.ATR on
 * the admin queue and on every I/O queue (nvmet_connect_result; the Linux host then authenticates each queue
 * before using it). Returns the AUTHREQ bits.
 */
function requireAuth(q: Qpair): number {
  const keys = q.ctrl.subsys.hostAuth.get(q.ctrl.hostnqn);
  if (!keys) return 0;
  q.auth = new QueueAuth(keys, q.ctrl.hostnqn, q.ctrl.subsys.nqn);
  return AUTHREQ_ATR;
}

const ATTRIB_SIZE_8 = 0x1;
const PROP_ATTRIB = 40;
const PROP_OFFSET = 44;
const PROP_VALUE = 48;

export function executePropertyGet(req: Request, ctrl: Controller): void {
  const size8 = (req.sqe[PROP_ATTRIB] & ATTRIB_SIZE_8) !== 0;
  const offset = req.sqe.readUInt32LE(PROP_OFFSET);
  let value: bigint;
  switch (offset) {
    case Prop.CAP: value = capValue(); break;
    case Prop.VS: value = BigInt(NVME_VERSION); break;
    case Prop.CC: value = BigInt(ctrl.cc); break;
    case Prop.CSTS: value = BigInt(ctrl.csts); break;
    default: return req.complete(Status.InvalidField);
  }
  if (size8 !== (offset === Prop.CAP)) return req.complete(Status.InvalidField);
  req.complete(0, Number(value & 0xffffffffn), Number(value >> 32n));
}

export function executePropertySet(req: Request, ctrl: Controller): void {
  const size8 = (req.sqe[PROP_ATTRIB] & ATTRIB_SIZE_8) !== 0;
  const offset = req.sqe.readUInt32LE(PROP_OFFSET);
  if (offset !== Prop.CC || size8) return req.complete(Status.InvalidField);
  const value = req.sqe.readUInt32LE(PROP_VALUE);
  ctrl.setCC(value);
  if ((value & CC.SHN_MASK) !== 0) ctrl.touch();
  req.complete(0);
}
