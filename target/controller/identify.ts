// Identify data structures (CNS 00h, 01h, 02h, 03h, 05h, 06h), built from the subsystem and controller.
import { IDENTIFY_SIZE, IdCtrl, IdNs, CtrlType, NsIdType } from '../protocol/identify-layout.js';
import { NVME_VERSION, MAX_QUEUE_ENTRIES } from '../protocol/properties.js';
import { FIRMWARE_REVISION } from '../version.js';
import type { Namespace } from '../subsystem/namespace.js';
import { AERL, type Controller } from './controller.js';
import { ONCS_RESERVATIONS } from '../protocol/reservations.js';
import { INLINE_DATA_SIZE, MDTS } from './limits.js';
import { AEN_DISCOVERY_CHANGE } from './discovery-notices.js';
import { AEN_NAMESPACE_ATTRIBUTE } from './namespace-notices.js';

/** Highest NSID the controller may ever report (NN); NSIDs above it are invalid, below it inactive or active. */
export const MAX_NSID = 1024;

function ascii(b: Buffer, at: number, len: number, s: string): void {
  b.write(s.slice(0, len).padEnd(len, ' '), at, len, 'ascii');
}

export function identifyController(ctrl: Controller): Buffer {
  const b = Buffer.alloc(IDENTIFY_SIZE);
  const sub = ctrl.subsys;
  ascii(b, IdCtrl.SN, 20, sub.serial);
  ascii(b, IdCtrl.MN, 40, sub.model);
  ascii(b, IdCtrl.FR, 8, FIRMWARE_REVISION);
  b[IdCtrl.RAB] = 6;
  // CMIC: bit 0 multiple ports, bit 1 multiple controllers (several hosts attach to one subsystem).
  b[IdCtrl.CMIC] = ctrl.isDiscovery ? 0 : 0x03;
  b[IdCtrl.MDTS] = MDTS;
  b.writeUInt16LE(ctrl.cntlid, IdCtrl.CNTLID);
  b.writeUInt32LE(NVME_VERSION, IdCtrl.VER);
  // CTRATT: bit 0 128-bit host identifier, bit 6 traffic-based keep alive.
  b.writeUInt32LE(0x1 | 0x40, IdCtrl.CTRATT);
  b[IdCtrl.CNTRLTYPE] = ctrl.isDiscovery ? CtrlType.Discovery : CtrlType.Io;
  b[IdCtrl.ACL] = 3;
  b[IdCtrl.AERL] = AERL;
  b[IdCtrl.FRMW] = 0x3; // slot 1 read-only, one slot
  // LPA: bit 1 commands supported and effects log (an I/O controller's only: a discovery controller has the
  // discovery log alone), bit 2 extended data for Get Log Page.
  b[IdCtrl.LPA] = ctrl.isDiscovery ? 0x04 : 0x06;
  // OAES: the optional events each kind of controller sends, which the Linux host enables with Set Features
  // 0Bh (drivers/nvme/host/core.c nvme_enable_aen, NVME_AEN_SUPPORTED) and then keeps an AER outstanding for.
  // A discovery controller: bit 31, Discovery Log Page Change Notices (discovery-notices.ts). An I/O
  // controller: bit 8, Namespace Attribute Notices (namespace-notices.ts), so a live configuration change's
  // new, removed or grown namespace reaches the host without a reconnect.
  b.writeUInt32LE(ctrl.isDiscovery ? AEN_DISCOVERY_CHANGE : AEN_NAMESPACE_ATTRIBUTE, IdCtrl.OAES);
  b[IdCtrl.ELPE] = 63;
  b.writeUInt16LE(0x157, IdCtrl.WCTEMP);
  b.writeUInt16LE(0x175, IdCtrl.CCTEMP);
  b.writeUInt16LE(10, IdCtrl.KAS); // 1 s granularity
  b.writeUInt32LE(0x0000_0001 | (1 << 20), IdCtrl.SGLS); // SGLs supported; in-capsule (offset) data
  b.write(sub.nqn, IdCtrl.SUBNQN, 256, 'utf8');
  b.writeUInt32LE((64 + INLINE_DATA_SIZE) / 16, IdCtrl.IOCCSZ);
  b.writeUInt32LE(1, IdCtrl.IORCSZ);
  b[IdCtrl.MSDBD] = 1;
  b.writeUInt16LE(MAX_QUEUE_ENTRIES, IdCtrl.MAXCMD);
  if (!ctrl.isDiscovery) {
    b[IdCtrl.SQES] = 0x66;
    b[IdCtrl.CQES] = 0x44;
    b.writeUInt32LE(MAX_NSID, IdCtrl.NN);
    // ONCS: bit 2 Dataset Management, bit 3 Write Zeroes, bit 5 reservations.
    b.writeUInt16LE(0x04 | 0x08 | ONCS_RESERVATIONS, IdCtrl.ONCS);
    b[IdCtrl.VWC] = 0x01; // a volatile write cache is present: Flush makes writes durable
  }
  // Power state 0: 25 W max (units of 0.01 W), as nvmet reports.
  b.writeUInt16LE(0x9c4, IdCtrl.PSD0);
  return b;
}

/** `rescap`: the reservation capabilities of the namespace (RESCAP). */
export function identifyNamespace(ns: Namespace | undefined, rescap = 0): Buffer {
  const b = Buffer.alloc(IDENTIFY_SIZE);
  if (!ns) return b; // an inactive NSID reads as zeroes (NVMe Base 2.0, 5.17.2.1)
  const n = BigInt(ns.nsze);
  b.writeBigUInt64LE(n, IdNs.NSZE);
  b.writeBigUInt64LE(n, IdNs.NCAP);
  b.writeBigUInt64LE(n, IdNs.NUSE);
  b[IdNs.NLBAF] = 0;
  b[IdNs.FLBAS] = 0;
  b[IdNs.NMIC] = 0x01; // may be attached to several controllers at once
  b[IdNs.RESCAP] = rescap;
  b[IdNs.DLFEAT] = 0x01; // deallocated blocks read as zeroes
  ns.ids.nguid.copy(b, IdNs.NGUID);
  ns.ids.eui64.copy(b, IdNs.EUI64);
  b.writeUInt16LE(0, IdNs.LBAF0); // no metadata
  b[IdNs.LBAF0 + 2] = ns.lbaShift;
  return b;
}

export function activeNamespaceList(nsids: number[], after: number): Buffer {
  const b = Buffer.alloc(IDENTIFY_SIZE);
  let i = 0;
  for (const id of nsids) {
    if (id <= after) continue;
    if (i >= IDENTIFY_SIZE / 4) break;
    b.writeUInt32LE(id, i * 4);
    i++;
  }
  return b;
}

export function namespaceDescriptors(ns: Namespace): Buffer {
  const b = Buffer.alloc(IDENTIFY_SIZE);
  let at = 0;
  const put = (type: number, id: Buffer) => {
    b[at] = type;
    b[at + 1] = id.length;
    id.copy(b, at + 4);
    at += 4 + id.length;
  };
  put(NsIdType.Eui64, ns.ids.eui64);
  put(NsIdType.Nguid, ns.ids.nguid);
  put(NsIdType.Uuid, ns.ids.uuid);
  put(NsIdType.Csi, Buffer.from([0])); // NVM command set
  return b;
}
