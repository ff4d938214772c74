// What a discovery-only listener (a `discoveryListeners` entry, e.g. port 8009) admits: a queue may be
// connected there to the discovery subsystem only (NVMe over Fabrics 1.1, 5: a discovery controller).
import { AdminOpc, DISCOVERY_NQN } from '../protocol/opcodes.js';
import { ConnectData, connectSubnqn, invalidParam } from '../protocol/connect.js';
import { Status } from '../protocol/status.js';
import type { Qpair } from './qpair.js';
import type { Request } from './request.js';

/**
 * A command that arrived, with its data, on a discovery-only listener: a Connect to another subsystem is
 * completed at once with Connect Invalid Parameters naming SUBNQN in its data (true: the caller stops there).
 */
export function refusedOnDiscoveryListener(req: Request, q: Qpair | undefined): boolean {
  if (req.opcode !== AdminOpc.Fabrics || q || !req.data) return false;
  if (connectSubnqn(req.data) === DISCOVERY_NQN) return false;
  req.complete(Status.ConnectInvalidParameters, invalidParam(true, ConnectData.SUBNQN));
  return true;
}
