// Admin commands of a discovery controller (NVMe over Fabrics 1.1, 5; NVMe Base 2.0, 3.1.3: a discovery
// controller has no I/O queues and no namespaces). What it answers, as Linux nvmet's discovery controller
// (drivers/nvme/target/discovery.c nvmet_parse_discovery_cmd):
//  - Identify: the Identify Controller data structure only (CNTRLTYPE 2h, OAES bit 31: identify.ts);
//  - Get Log Page: the Discovery log (70h) only; a read without RAE re-arms the change notice
//    (log-pages.ts, discovery-notices.ts);
//  - Set/Get Features: Keep Alive Timer, and Asynchronous Event Configuration with bit 31 (Discovery Log
//    Page Change Notices) as its only settable bit;
//  - Asynchronous Event Request: kept outstanding (up to AERL + 1) until a notice completes it;
//  - Keep Alive: a persistent discovery controller's host sends it every KATO / 2 or so (Linux
//    drivers/nvme/host/core.c nvme_keep_alive_work), and a discovery controller without traffic for KATO
//    is removed like any other;
//  - anything else: Invalid Command Opcode (nvmet does the same; Abort is not among a discovery
//    controller's commands in NVMe Base 2.0, Figure 28).
import { AdminOpc, Cns, FeatureId, LogId } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import type { Request } from './request.js';
import { validDiscoveryAsyncEventConfig } from './discovery-notices.js';

/** The features a discovery controller has. */
const DISCOVERY_FEATURES = new Set<number>([FeatureId.KeepAliveTimer, FeatureId.AsyncEventConfig]);

/**
 * 0 if a discovery controller runs `req` (then as admin.ts runs it for any controller), else the status it
 * completes with at once.
 */
export function discoveryAdminRefusal(req: Request): number {
  switch (req.opcode) {
    case AdminOpc.Identify:
      return (req.cdw(10) & 0xff) === Cns.Controller ? 0 : Status.InvalidField;
    case AdminOpc.AsyncEventRequest:
    case AdminOpc.KeepAlive:
      return 0;
    case AdminOpc.GetLogPage:
      return (req.cdw(10) & 0xff) === LogId.Discovery ? 0 : Status.InvalidLogPage;
    case AdminOpc.GetFeatures:
      return DISCOVERY_FEATURES.has(req.cdw(10) & 0xff) ? 0 : Status.InvalidField;
    case AdminOpc.SetFeatures: {
      const fid = req.cdw(10) & 0xff;
      if (!DISCOVERY_FEATURES.has(fid)) return Status.InvalidField;
      return fid === FeatureId.AsyncEventConfig && !validDiscoveryAsyncEventConfig(req.cdw(11)) ? Status.InvalidField : 0;
    }
    default:
      return Status.InvalidOpcode;
  }
}
