// I/O commands of the NVM command set (NVM Command Set 1.0, 3; Linux drivers/nvme/target/io-cmd-file.c).
// Checks happen in checkIo() before any data is requested from the host, so a bad command never costs an R2T.
// A backend's failure is reported to the controller (its target logs and counts it) and answered with the
// status of backendErrorStatus().
import { IoOpc } from '../protocol/opcodes.js';
import { Status, isMediaError } from '../protocol/status.js';
import type { Namespace } from '../subsystem/namespace.js';
import type { Subsystem } from '../subsystem/subsystem.js';
import type { SmartCounters } from '../subsystem/smart.js';
import type { Request } from './request.js';
import { dataBuffers } from './buffer-pool.js';

const FUA = 1 << 30;
const DSM_AD = 1 << 2;
const DSM_RANGE_SIZE = 16;

function slbaOf(req: Request): number {
  return req.cdw(11) * 0x1_0000_0000 + req.cdw(10);
}

function nlbOf(req: Request): number {
  return (req.cdw(12) & 0xffff) + 1;
}

/** Validates an I/O command; returns 0 or the status to complete it with. Pure: no side effects. */
export function checkIo(req: Request, sub: Subsystem): number {
  const op = req.opcode;
  if (op === IoOpc.Flush) {
    if (req.nsid === 0xffffffff) return 0;
    return sub.namespaces.has(req.nsid) ? 0 : Status.InvalidNamespace;
  }
  const ns = sub.namespaces.get(req.nsid);
  switch (op) {
    case IoOpc.Read:
    case IoOpc.Write: {
      if (!ns) return Status.InvalidNamespace;
      const slba = slbaOf(req);
      const nlb = nlbOf(req);
      if (!ns.inRange(slba, nlb)) return Status.LbaOutOfRange;
      if (req.transferLen !== nlb * ns.blockSize) return Status.SglDataLengthInvalid;
      return 0;
    }
    case IoOpc.WriteZeroes: {
      if (!ns) return Status.InvalidNamespace;
      if (!ns.inRange(slbaOf(req), nlbOf(req))) return Status.LbaOutOfRange;
      return 0;
    }
    case IoOpc.DatasetManagement: {
      if (!ns) return Status.InvalidNamespace;
      const nr = (req.cdw(10) & 0xff) + 1;
      if (req.transferLen !== nr * DSM_RANGE_SIZE) return Status.SglDataLengthInvalid;
      return 0;
    }
    default:
      return Status.InvalidOpcode;
  }
}

/**
 * The status for a command whose backend call failed with `e` (NVMe Base 2.0, 4.6.1.2.4; Linux nvmet's
 * errno_to_nvme_status() for the errno that has a better answer):
 *  - ENOSPC (the file system is full: a sparse file could not be filled in), and EDQUOT (the same under a
 *    quota): Capacity Exceeded, as nvmet;
 *  - anything else (EIO above all) on a Read: Unrecovered Read Error (SCT 2h, SC 81h);
 *  - on a Write, Write Zeroes, Dataset Management (Deallocate writes zeroes) or Flush: Write Fault
 *    (SCT 2h, SC 80h): the data could not be committed to the medium.
 * nvmet answers EIO with Internal Error; a host's block layer maps the two media errors to a medium error
 * (BLK_STS_MEDIUM), which names the disk, not the target, as the fault. Neither sets DNR: the host may retry,
 * and a transient failure of the file system or device may pass.
 */
export function backendErrorStatus(opcode: number, e: unknown): number {
  const code = errnoOf(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return Status.CapacityExceeded;
  return opcode === IoOpc.Read ? Status.UnrecoveredReadError : Status.WriteFault;
}

function errnoOf(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown';
}

/** Completes a command whose backend call on `ns` over [offset, offset + length) failed, reporting it first. */
function fail(req: Request, ns: Namespace, offset: number, length: number, e: unknown): void {
  const status = backendErrorStatus(req.opcode, e);
  const ctrl = req.qpair!.ctrl;
  if (isMediaError(status)) ctrl.subsys.smart.mediaErrors++;
  ctrl.backendError({
    subnqn: ctrl.subsys.nqn, nsid: ns.nsid, path: ns.backend.path, opcode: req.opcode, offset, length,
    errno: errnoOf(e), message: e instanceof Error ? e.message : String(e), status,
  });
  req.complete(status);
}

/** A Read's or Write's failure: its namespace and range from the command (off the data path). */
function failRw(req: Request, e: Error): void {
  const sub = req.qpair!.ctrl.subsys;
  const ns = (sub.namespaces.get(req.nsid) ?? sub.retiring.get(req.nsid)) as Namespace;
  fail(req, ns, slbaOf(req) * ns.blockSize, req.transferLen, e);
}

/** A Read's data is in its pooled buffer (backend read() callback: static, so nothing is allocated per I/O). */
function readDone(req: Request, err: Error | null): void {
  if (err) failRw(req, err);
  else req.completeWithData(req.pooled!);
}

/** A Write's data is in the backend. */
function writeDone(req: Request, err: Error | null): void {
  if (err) return failRw(req, err);
  const smart = req.qpair!.ctrl.subsys.smart;
  smart.hostWrites++;
  smart.unitsWritten += req.transferLen / 512;
  req.complete(0);
}

/** Executes a command that passed checkIo(); data for writes is in req.data. */
export function executeIo(req: Request, sub: Subsystem, smart: SmartCounters): void {
  const ns = sub.namespaces.get(req.nsid) as Namespace;
  // Removed by a live configuration change while the command's data moved (runtime/reconfigure.ts): the
  // nsid is inactive now, as a command arriving after it would be told.
  if (ns === undefined && req.nsid !== 0xffffffff) return req.complete(Status.InvalidNamespace);
  switch (req.opcode) {
    case IoOpc.Read: {
      const len = req.transferLen;
      const off = slbaOf(req) * ns.blockSize;
      smart.hostReads++;
      smart.unitsRead += len / 512;
      // Always a copy, never a view of a memory backend: the data must not change between its digest
      // and the socket, and a concurrent write to the range could change a view.
      req.pooled = dataBuffers.acquire(len);
      ns.backend.read(off, len, req.pooled, readDone, req);
      return;
    }
    case IoOpc.Write: {
      const off = slbaOf(req) * ns.blockSize;
      ns.backend.write(off, req.data as Buffer, (req.cdw(12) & FUA) !== 0, writeDone, req);
      return;
    }
    case IoOpc.Flush: {
      const targets = req.nsid === 0xffffffff ? [...sub.namespaces.values()] : [ns];
      // Every namespace is flushed; the first to fail is reported and answers the command.
      let failed: { ns: Namespace; e: unknown } | undefined;
      Promise.all(targets.map((n) => n.backend.flush().catch((e: unknown) => { failed ??= { ns: n, e }; })))
        .then(() => (failed ? fail(req, failed.ns, 0, failed.ns.backend.size, failed.e) : req.complete(0)));
      return;
    }
    case IoOpc.WriteZeroes: {
      // DEAC (CDW12 bit 25) or not, the range reads back as zeroes (DLFEAT = 1): both are the same zeroing.
      const off = slbaOf(req) * ns.blockSize;
      const len = nlbOf(req) * ns.blockSize;
      ns.backend.zero(off, len).then(() => req.complete(0), (e: unknown) => fail(req, ns, off, len, e));
      return;
    }
    case IoOpc.DatasetManagement: {
      if ((req.cdw(11) & DSM_AD) === 0) return req.complete(0); // only hints: nothing to do
      const data = req.data as Buffer;
      const ranges: Array<[number, number]> = [];
      for (let at = 0; at + DSM_RANGE_SIZE <= data.length; at += DSM_RANGE_SIZE) {
        const nlb = data.readUInt32LE(at + 4);
        const slba = Number(data.readBigUInt64LE(at + 8));
        if (!ns.inRange(slba, nlb)) return req.complete(Status.LbaOutOfRange);
        ranges.push([slba * ns.blockSize, nlb * ns.blockSize]);
      }
      // Deallocate: the ranges read back as zeroes afterwards (DLFEAT = 1). One at a time; the first to fail ends it.
      const zeroFrom = (i: number): void => {
        if (i === ranges.length) return req.complete(0);
        const [off, len] = ranges[i];
        ns.backend.zero(off, len).then(() => zeroFrom(i + 1), (e: unknown) => fail(req, ns, off, len, e));
      };
      zeroFrom(0);
      return;
    }
  }
}
