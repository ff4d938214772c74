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

function executeIdentify(req: Request, ctrl: Controller): void {
  const cns = req.cdw(10) & 0xff;
  const csi = req.cdw(11) >>> 24;
  if (req.transferLen !== IDENTIFY_SIZE) return req.complete(Status.SglDataLengthInvalid);
  const sub = ctrl.subsys;
  const nsid = req.nsid;
  if (ctrl.isDiscovery && cns !== Cns.Controller) return req.complete(Status.InvalidField);
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
