// Discovery Log Page Change Notices: how a discovery controller tells a host that stays connected (a persistent
// discovery controller, `nvme discover -p`) that its discovery log changed (NVMe Base 2.0, 5.2: Asynchronous
// Event Request, Notice type 2h, information F0h; 5.27.1.7: Asynchronous Event Configuration bit 31).
// Invariants, as Linux nvmet keeps them (drivers/nvme/target/discovery.c __nvmet_disc_changed, nvmet.h
// nvmet_aen_bit_disabled / nvmet_clear_aen_bit):
//  - a notice goes only to a controller whose host enabled it (AEC bit 31, set by Set Features);
//  - after one notice, that controller gets no other until its host reads the discovery log with RAE clear
//    (the event is masked until then: NVMe Base 2.0, 5.2.1), so a host that is slow to read is told once;
//  - the notice is an ordinary asynchronous event: it completes an outstanding AER, or waits for the next one
//    (Controller.raiseAsyncEvent).
// The mask is kept here, beside the rule, per controller object: it dies with its controller. A controller
// rebuilt by in-pod resume starts unmasked, so at worst its host is told twice and reads the log once more.
import type { Controller } from './controller.js';

/** OAES and Asynchronous Event Configuration bit 31: Discovery Log Page Change Notices. */
export const AEN_DISCOVERY_CHANGE = 0x8000_0000;

/** AER completion DW0: type Notice (2h), information Discovery Log Page Change (F0h), log page 70h. */
export const AEN_DISCOVERY_LOG_CHANGED = 0x02 | (0xf0 << 8) | (0x70 << 16);

/** The Asynchronous Event Configuration bits a discovery controller accepts: nvmet's NVMET_DISC_AEN_CFG_OPTIONAL. */
export function validDiscoveryAsyncEventConfig(cdw11: number): boolean {
  return ((cdw11 >>> 0) & ~AEN_DISCOVERY_CHANGE) === 0;
}

/** Whether a log change is reported to a controller with this configuration and mask state. */
export function noticeDue(asyncEventConfig: number, masked: boolean): boolean {
  return ((asyncEventConfig >>> 0) & AEN_DISCOVERY_CHANGE) !== 0 && !masked;
}

const masked = new WeakSet<Controller>();

/**
 * Tells `ctrl` (a discovery controller) that its discovery log changed, if its host enabled the notice and
 * has read the log since the last one. True when the notice was raised.
 */
export function noticeDiscoveryLogChanged(ctrl: Controller): boolean {
  if (!ctrl.isDiscovery || ctrl.destroyed) return false;
  if (!noticeDue(ctrl.features.asyncEventConfig, masked.has(ctrl))) return false;
  masked.add(ctrl);
  ctrl.raiseAsyncEvent(AEN_DISCOVERY_LOG_CHANGED);
  return true;
}

/** The host read the discovery log: without RAE (Retain Asynchronous Event) that unmasks the next notice. */
export function discoveryLogRead(ctrl: Controller, retainAsyncEvent: boolean): void {
  if (!retainAsyncEvent) masked.delete(ctrl);
}
