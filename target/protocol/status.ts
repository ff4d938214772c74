// NVMe status codes by name (NVMe Base 2.0, 4.6.1.2; NVMe over Fabrics 1.1 for Connect).
// Encoding: (SCT << 8) | SC, with DNR (bit 14) where a retry cannot succeed; the same encoding as Linux's NVME_SC_*.

export const DNR = 0x4000;
const GENERIC = 0x000;
const CMD_SPECIFIC = 0x100;
const MEDIA = 0x200;

export const Status = {
  Success: 0x0000,
  InvalidOpcode: GENERIC | 0x01 | DNR,
  InvalidField: GENERIC | 0x02 | DNR,
  CommandIdConflict: GENERIC | 0x03 | DNR,
  DataTransferError: GENERIC | 0x04,
  InternalError: GENERIC | 0x06,
  AbortRequested: GENERIC | 0x07,
  InvalidNamespace: GENERIC | 0x0b | DNR,
  CommandSequenceError: GENERIC | 0x0c | DNR,
  SglDataLengthInvalid: GENERIC | 0x0f | DNR,
  SglDescriptorTypeInvalid: GENERIC | 0x11 | DNR,
  HostIdInconsistentFormat: GENERIC | 0x18 | DNR,
  TransientTransportError: GENERIC | 0x22,
  LbaOutOfRange: GENERIC | 0x80 | DNR,
  CapacityExceeded: GENERIC | 0x81 | DNR,
  NamespaceNotReady: GENERIC | 0x82,
  ReservationConflict: GENERIC | 0x83 | DNR,
  // Command specific
  InvalidQueueIdentifier: CMD_SPECIFIC | 0x01 | DNR,
  InvalidQueueSize: CMD_SPECIFIC | 0x02 | DNR,
  AsyncEventLimitExceeded: CMD_SPECIFIC | 0x05 | DNR,
  InvalidLogPage: CMD_SPECIFIC | 0x09 | DNR,
  FeatureNotSaveable: CMD_SPECIFIC | 0x0d | DNR,
  FeatureNotChangeable: CMD_SPECIFIC | 0x0e | DNR,
  ConnectIncompatibleFormat: CMD_SPECIFIC | 0x80 | DNR,
  ConnectControllerBusy: CMD_SPECIFIC | 0x81,
  ConnectInvalidParameters: CMD_SPECIFIC | 0x82 | DNR,
  ConnectInvalidHost: CMD_SPECIFIC | 0x84 | DNR,
  /** A command other than Authentication Send/Receive on a queue that has not authenticated (Linux NVME_SC_AUTH_REQUIRED). */
  AuthRequired: CMD_SPECIFIC | 0x91 | DNR,
  // Media and data integrity errors (no DNR: a retry may succeed when the device's error was transient)
  WriteFault: MEDIA | 0x80,
  UnrecoveredReadError: MEDIA | 0x81,
} as const;

export function statusName(status: number): string {
  for (const [k, v] of Object.entries(Status)) if (v === status) return k;
  return `0x${status.toString(16)}`;
}

/** Status Code Type 2h: Media and Data Integrity Errors (what SMART counts as media errors). */
export function isMediaError(status: number): boolean {
  return (status & 0x700) === MEDIA;
}
