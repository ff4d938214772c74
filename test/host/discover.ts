// `nvme discover` in a few lines: connect to the discovery controller, read the discovery log, disconnect.
import { DISCOVERY_NQN } from '../../target/protocol/opcodes.js';
import type { DiscoveryRecord } from '../../target/protocol/discovery-log.js';
import { HostController } from './controller.js';

export async function discover(o: { host: string; port: number; hostnqn?: string; hostid?: Buffer; hdgst?: boolean; ddgst?: boolean }): Promise<DiscoveryRecord[]> {
  const ctrl = await HostController.connect({ ...o, subnqn: DISCOVERY_NQN, ioQueues: 0, adminDepth: 8 });
  try {
    return (await ctrl.discoveryLog()).records;
  } finally {
    await ctrl.disconnect();
  }
}
