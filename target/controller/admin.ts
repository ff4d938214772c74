// Admin commands of an enabled controller (NVMe Base 2.0, 5; Linux drivers/nvme/target/admin-cmd.c).
import { AdminOpc, Cns } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { IDENTIFY_SIZE } from '../protocol/identify-layout.js';
import type { Controller } from './controller.js';
import type { Request } from './request.js';
import { activeNamespaceList, identifyController, identifyNamespace, namespaceDescriptors, MAX_NSID } from './identify.js';
import { executeGetLogPage, type LogSources } from './log-pages.js';
import { executeGetFeatures, executeSetFeatures } from './features.js';
import { rescap } from './reservations.js';
import type { Qpair } from './qpair.js';
import { discoveryAdminRefusal } from './discovery-admin.js';

/**
 * What a capsule does whose command identifier is that of a command still outstanding on its queue
 * (NVMe Base 2.0, 4.2: a CID is unique among a queue's outstanding commands, so any collision is the host's
 * error). 'retire': the outstanding command is an Asynchronous Event Request on an admin queue; it ends
 * without a completion and the new command runs. 'conflict': a protocol error (the association is broken).
 *
 * Tolerance of what SPDK's host does (v24.09, lib/nvme/nvme_tcp.c nvme_tcp_admin_qpair_abort_aers): at
 * detach and reset it completes its own outstanding AERs as aborted, never sending Abort, frees their CIDs
 * and reuses one at once (a Property Get of CC with the CID of its last AER). SPDK's target and Linux nvmet
 * accept that; the AER is one the host no longer waits for, so retiring it loses nothing. Only an AER:
 * any other outstanding command still has a completion the host is waiting for, and on an I/O queue
 * there are no AERs, so every other collision stays an error.
 */
export function onCidReuse(qid: number | undefined, outstandingOpcode: number): 'retire' | 'conflict' {
  return qid === 0 && outstandingOpcode === AdminOpc.AsyncEventRequest ? 'retire' : 'conflict';
}

/**
 * Retires `outstanding` if `onCidReuse` says so (its controller forgets the AER: no event completes it
 * later). True when retired; the caller then drops it from its in-flight commands and records.
 */
export function retireOnCidReuse(outstanding: Request, q: Qpair | undefined): boolean {
  if (onCidReuse(q?.qid, outstanding.opcode) !== 'retire') return false;
  return q!.ctrl.retireAer(outstanding);
}

function executeIdentify(req: Request, ctrl: Controller): void {
  const cns = req.cdw(10) & 0xff;
  const csi = req.cdw(11) >>> 24;
  if (req.transferLen !== IDENTIFY_SIZE) return req.complete(Status.SglDataLengthInvalid);
  const sub = ctrl.subsys;
  const nsid = req.nsid;
  switch (cns) {
    case Cns.Controller:
      return req.completeWithData(identifyController(ctrl));
    case Cns.Namespace:
      if (nsid === 0 || nsid > MAX_NSID) return req.complete(Status.InvalidNamespace);
      return req.completeWithData(identifyNamespace(sub.namespaces.get(nsid), rescap(sub, nsid)));
    case Cns.ActiveNsList:
      if (nsid >= 0xfffffffe) return req.complete(Status.InvalidNamespace);
      return req.completeWithData(activeNamespaceList(sub.activeNsids(), nsid));
    case Cns.NsDescriptorList: {
      const ns = sub.namespaces.get(nsid);
      if (!ns) return req.complete(Status.InvalidNamespace);
      return req.completeWithData(namespaceDescriptors(ns));
    }
    case Cns.CsiNamespace:
    case Cns.CsiController:
      // NVM command set specific structures: all fields zero means "no limits reported".
      if (csi !== 0) return req.complete(Status.InvalidField);
      if (cns === Cns.CsiNamespace && !sub.namespaces.has(nsid)) return req.complete(Status.InvalidNamespace);
      return req.completeWithData(Buffer.alloc(IDENTIFY_SIZE));
    default:
      return req.complete(Status.InvalidField);
  }
}

export function executeAdmin(req: Request, ctrl: Controller, logs: LogSources): void {
  if (ctrl.isDiscovery) {
    const refusal = discoveryAdminRefusal(req);
    if (refusal !== 0) return req.complete(refusal);
  }
  switch (req.opcode) {
    case AdminOpc.Identify:
      return executeIdentify(req, ctrl);
    case AdminOpc.GetLogPage:
      return executeGetLogPage(req, ctrl, logs);
    case AdminOpc.SetFeatures:
      return executeSetFeatures(req, ctrl);
    case AdminOpc.GetFeatures:
      return executeGetFeatures(req, ctrl);
    case AdminOpc.AsyncEventRequest:
      return ctrl.queueAer(req);
    case AdminOpc.KeepAlive:
      ctrl.touch();
      return req.complete(0);
    case AdminOpc.Abort:
      // Commands run to completion quickly; report "not aborted" (dw0 bit 0 set), as nvmet does.
      return req.complete(0, 1);
    default:
      return req.complete(Status.InvalidOpcode);
  }
}
