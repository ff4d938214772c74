// Set Features and Get Features (NVMe Base 2.0, 5.27, 5.15) for the features a fabrics controller has.
// Nothing is saveable (ONCS bit 4 clear): SV=1 gets Feature Identifier Not Saveable, and the saved value of
// every feature is its default. On fabrics the host identifier comes from Connect, so Set Features of it is a
// Command Sequence Error, as Linux nvmet answers.
import { FeatureId } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { MAX_IO_QUEUES, type Controller } from './controller.js';
import type { Request } from './request.js';
import { getReservationFeature, isReservationFeature, setReservationFeature } from './reservations.js';

const SEL_CURRENT = 0;
const SEL_SUPPORTED = 3;
/** Get Features SEL=3 capability bits: saveable, namespace specific, changeable. */
const CAP_CHANGEABLE = 1 << 2;

const CHANGEABLE = new Set<number>([FeatureId.VolatileWriteCache, FeatureId.NumberOfQueues, FeatureId.AsyncEventConfig, FeatureId.KeepAliveTimer, FeatureId.TemperatureThreshold]);
const READABLE = new Set<number>([...CHANGEABLE, FeatureId.HostIdentifier, FeatureId.PowerManagement, FeatureId.Arbitration, FeatureId.ErrorRecovery, FeatureId.WriteAtomicity, FeatureId.InterruptCoalescing]);

const NUM_QUEUES = ((MAX_IO_QUEUES - 1) << 16) | (MAX_IO_QUEUES - 1);

export function executeSetFeatures(req: Request, ctrl: Controller): void {
  const cdw10 = req.cdw(10);
  const fid = cdw10 & 0xff;
  const save = (cdw10 & 0x8000_0000) !== 0;
  const cdw11 = req.cdw(11);
  if (fid === FeatureId.HostIdentifier) return req.complete(Status.CommandSequenceError);
  if (isReservationFeature(fid)) return save ? req.complete(Status.FeatureNotSaveable) : setReservationFeature(req, ctrl);
  if (!CHANGEABLE.has(fid)) return req.complete(READABLE.has(fid) ? Status.FeatureNotChangeable : Status.InvalidField);
  if (save) return req.complete(Status.FeatureNotSaveable);
  if (ctrl.isDiscovery && fid !== FeatureId.AsyncEventConfig && fid !== FeatureId.KeepAliveTimer) return req.complete(Status.InvalidField);
  switch (fid) {
    case FeatureId.VolatileWriteCache:
      ctrl.features.volatileWriteCache = (cdw11 & 1) !== 0;
      return req.complete(0);
    case FeatureId.NumberOfQueues: {
      if ((cdw11 & 0xffff) === 0xffff || cdw11 >>> 16 === 0xffff) return req.complete(Status.InvalidField);
      // Report what the controller allows; the host uses the smaller of that and what it asked (as nvmet does).
      return req.complete(0, NUM_QUEUES);
    }
    case FeatureId.AsyncEventConfig:
      ctrl.features.asyncEventConfig = cdw11;
      return req.complete(0);
    case FeatureId.KeepAliveTimer:
      ctrl.kato = cdw11;
      ctrl.startKeepAlive();
      return req.complete(0);
    case FeatureId.TemperatureThreshold:
      // Only the composite sensor's over-temperature threshold (TMPSEL 0, THSEL 0) is kept.
      if ((cdw11 >>> 16) & 0x3f) return req.complete(Status.InvalidField);
      ctrl.features.temperatureThreshold = cdw11 & 0xffff;
      return req.complete(0);
  }
  req.complete(Status.InvalidField);
}

export function executeGetFeatures(req: Request, ctrl: Controller): void {
  const cdw10 = req.cdw(10);
  const fid = cdw10 & 0xff;
  const sel = (cdw10 >>> 8) & 0x7;
  if (isReservationFeature(fid)) return getReservationFeature(req, ctrl);
  if (!READABLE.has(fid) || sel > SEL_SUPPORTED) return req.complete(Status.InvalidField);
  if (sel === SEL_SUPPORTED) return req.complete(0, CHANGEABLE.has(fid) ? CAP_CHANGEABLE : 0);
  // SEL 1 (default) and 2 (saved) read the same: nothing is saveable.
  const current = sel === SEL_CURRENT;
  switch (fid) {
    case FeatureId.VolatileWriteCache:
      return req.complete(0, current ? (ctrl.features.volatileWriteCache ? 1 : 0) : 1);
    case FeatureId.NumberOfQueues:
      return req.complete(0, NUM_QUEUES);
    case FeatureId.AsyncEventConfig:
      return req.complete(0, current ? ctrl.features.asyncEventConfig : 0);
    case FeatureId.KeepAliveTimer:
      return req.complete(0, current ? ctrl.kato : 0);
    case FeatureId.TemperatureThreshold:
      return req.complete(0, current ? ctrl.features.temperatureThreshold : 0x157);
    case FeatureId.HostIdentifier:
      // Only the 128-bit host identifier exists on fabrics (EXHID must be set).
      if ((req.cdw(11) & 1) === 0) return req.complete(Status.InvalidField);
      if (req.transferLen < 16) return req.complete(Status.SglDataLengthInvalid);
      return req.completeWithData(Buffer.from(ctrl.hostid));
    default:
      return req.complete(0, 0);
  }
}
