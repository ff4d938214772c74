// Get Log Page (NVMe Base 2.0, 5.16): the logs this target keeps, each built whole and then sliced at the offset.
import { AdminOpc, IoOpc, LogId } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { FIRMWARE_REVISION } from '../version.js';
import type { Controller } from './controller.js';
import type { Request } from './request.js';
import type { SmartCounters } from '../subsystem/smart.js';
import { RESERVATION_OPCODES, reservationLog } from './reservations.js';
import { discoveryLogRead } from './discovery-notices.js';
import { CHANGED_NAMESPACES_OVERFLOW, MAX_CHANGED_NAMESPACES } from './namespace-notices.js';

export interface LogSources {
  smart: SmartCounters;
  /** Discovery log for the controller's host (discovery controllers only). */
  discoveryLog(ctrl: Controller, localAddress: string): Buffer;
  /** Changed namespace list since the last read without RAE. */
  takeChangedNamespaces(ctrl: Controller, retain: boolean): number[];
}

function u128(b: Buffer, at: number, v: number): void {
  b.writeBigUInt64LE(BigInt(Math.floor(v)), at);
}

function errorLog(ctrl: Controller): Buffer {
  const b = Buffer.alloc(64 * 64);
  ctrl.errorLog.forEach((e, i) => {
    const at = i * 64;
    b.writeBigUInt64LE(e.count, at);
    b.writeUInt16LE(e.sqid, at + 8);
    b.writeUInt16LE(e.cid, at + 10);
    b.writeUInt16LE((e.status << 1) & 0xffff, at + 12);
    b.writeUInt16LE(0xffff, at + 14); // parameter error location: not specified
    b.writeUInt32LE(e.nsid, at + 24);
  });
  return b;
}

function smartLog(s: SmartCounters): Buffer {
  const b = Buffer.alloc(512);
  b[0] = 0; // critical warning
  b.writeUInt16LE(0x0141, 1); // composite temperature: 321 K (48 C)
  b[3] = 100; // available spare
  b[4] = 10; // available spare threshold
  b[5] = 0; // percentage used
  u128(b, 32, Math.ceil(s.unitsRead / 1000));
  u128(b, 48, Math.ceil(s.unitsWritten / 1000));
  u128(b, 64, s.hostReads);
  u128(b, 80, s.hostWrites);
  u128(b, 112, s.powerCycles);
  u128(b, 128, s.powerOnHoursBefore + (Date.now() - s.startedAt) / 3_600_000);
  u128(b, 144, s.unsafeShutdowns);
  u128(b, 160, s.mediaErrors);
  return b;
}

function firmwareLog(): Buffer {
  const b = Buffer.alloc(512);
  b[0] = 0x01; // active firmware in slot 1
  b.write(FIRMWARE_REVISION.padEnd(8, ' '), 8, 8, 'ascii');
  return b;
}

/** Log 04h: the nsids as the list holds them (namespace-notices.ts keeps it at 1024 entries at most). */
function changedNsLog(nsids: number[]): Buffer {
  const b = Buffer.alloc(MAX_CHANGED_NAMESPACES * 4);
  if (nsids.length > MAX_CHANGED_NAMESPACES) b.writeUInt32LE(CHANGED_NAMESPACES_OVERFLOW, 0);
  else nsids.forEach((id, i) => b.writeUInt32LE(id, i * 4));
  return b;
}

/** Commands Supported and Effects: CSUPP for every opcode this target executes, LBCC for content changes. */
function effectsLog(): Buffer {
  const b = Buffer.alloc(4096);
  const CSUPP = 1 << 0;
  const LBCC = 1 << 1;
  for (const opc of [AdminOpc.GetLogPage, AdminOpc.Identify, AdminOpc.Abort, AdminOpc.SetFeatures, AdminOpc.GetFeatures, AdminOpc.AsyncEventRequest, AdminOpc.KeepAlive]) {
    b.writeUInt32LE(CSUPP, opc * 4);
  }
  for (const opc of [IoOpc.Flush, IoOpc.Read, ...RESERVATION_OPCODES]) b.writeUInt32LE(CSUPP, 1024 + opc * 4);
  for (const opc of [IoOpc.Write, IoOpc.WriteZeroes, IoOpc.DatasetManagement]) b.writeUInt32LE(CSUPP | LBCC, 1024 + opc * 4);
  return b;
}

export function executeGetLogPage(req: Request, ctrl: Controller, src: LogSources): void {
  const cdw10 = req.cdw(10);
  const lid = cdw10 & 0xff;
  const rae = (cdw10 & (1 << 15)) !== 0;
  const numd = ((req.cdw(11) & 0xffff) * 0x10000 + (cdw10 >>> 16)) + 1;
  const len = numd * 4;
  const lpo = req.cdw(13) * 0x1_0000_0000 + req.cdw(12);
  if (len !== req.transferLen) return req.complete(Status.SglDataLengthInvalid);
  if (lpo % 4 !== 0) return req.complete(Status.InvalidField);
  let log: Buffer;
  if (ctrl.isDiscovery) {
    if (lid !== LogId.Discovery) return req.complete(Status.InvalidLogPage);
    log = src.discoveryLog(ctrl, req.qpair!.transport.localAddress);
    discoveryLogRead(ctrl, rae);
  } else {
    switch (lid) {
      case LogId.ErrorInfo: log = errorLog(ctrl); break;
      case LogId.Smart: log = smartLog(src.smart); break;
      case LogId.FirmwareSlot: log = firmwareLog(); break;
      case LogId.ChangedNsList: log = changedNsLog(src.takeChangedNamespaces(ctrl, rae)); break;
      case LogId.CommandsEffects: log = effectsLog(); break;
      case LogId.ReservationNotification: log = reservationLog(ctrl, rae, lpo === 0); break;
      default: return req.complete(Status.InvalidLogPage);
    }
  }
  if (lpo > log.length) return req.complete(Status.InvalidField);
  const out = Buffer.alloc(len);
  log.copy(out, 0, lpo, Math.min(log.length, lpo + len));
  req.completeWithData(out);
}
