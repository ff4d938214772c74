// Reservations on the wire (NVMe Base 2.0: 7.2 Reservation Acquire, 7.3 Register, 7.4 Release, 7.5 Report;
// 5.16.1.x Reservation Notification log page 80h; 5.27.1.x features 82h and 83h; 8.19 Reservations).

/** Reservation Type (RTYPE). 0 is reserved: on a namespace it means "not reserved". */
export const ResvType = {
  WriteExclusive: 1,
  ExclusiveAccess: 2,
  WriteExclusiveRegistrantsOnly: 3,
  ExclusiveAccessRegistrantsOnly: 4,
  WriteExclusiveAllRegistrants: 5,
  ExclusiveAccessAllRegistrants: 6,
} as const;

/** Reservation Register Action (RREGA, CDW10 bits 2:0). */
export const RegisterAction = { Register: 0, Unregister: 1, Replace: 2 } as const;
/** Reservation Acquire Action (RACQA, CDW10 bits 2:0). */
export const AcquireAction = { Acquire: 0, Preempt: 1, PreemptAndAbort: 2 } as const;
/** Reservation Release Action (RRELA, CDW10 bits 2:0). */
export const ReleaseAction = { Release: 0, Clear: 1 } as const;
/** Change Persist Through Power Loss State (CPTPL, Register CDW10 bits 31:30); 1 is reserved. */
export const Cptpl = { NoChange: 0, Clear: 2, Persist: 3 } as const;

/** CDW10 fields shared by Register, Acquire and Release. */
export const ResvCdw10 = {
  ACTION_MASK: 0x7,
  IEKEY: 1 << 3,
  RTYPE_SHIFT: 8, // Acquire, Release: bits 15:8
  CPTPL_SHIFT: 30, // Register: bits 31:30
} as const;
/** Report CDW11 bit 0: Extended Data Structure (128-bit host identifiers). */
export const REPORT_EDS = 1;

/** Host-to-controller data: Register (CRKEY, NRKEY), Acquire (CRKEY, PRKEY), Release (CRKEY); keys u64 LE. */
export const RESV_REGISTER_DATA_SIZE = 16;
export const RESV_ACQUIRE_DATA_SIZE = 16;
export const RESV_RELEASE_DATA_SIZE = 8;

/** Reservation Status data structure header (the extended one is 64 bytes; bytes 24..63 reserved). */
export const ResvStatus = { GEN: 0, RTYPE: 4, REGCTL: 5, PTPLS: 9, EXT_HEADER_SIZE: 64 } as const;
/** Registered Controller Extended data structure (64 bytes each, after the header). */
export const RegCtlExt = { SIZE: 64, CNTLID: 0, RCSTS: 2, RKEY: 8, HOSTID: 16 } as const;
/** RCSTS bit 0: the host holds the reservation. */
export const RCSTS_HOLDER = 1;
/** CNTLID of a registrant reported as a host rather than one controller (dynamic controller model). */
export const CNTLID_DYNAMIC = 0xffff;

/** Reservation Notification log page (80h): one 64-byte entry per read. */
export const ResvLog = { SIZE: 64, COUNT: 0, TYPE: 8, NALP: 9, NSID: 12 } as const;
/** Reservation Notification Log Page Type; 0 is an empty log page. */
export const ResvNotice = { RegistrationPreempted: 1, ReservationReleased: 2, ReservationPreempted: 3 } as const;
export type ResvNoticeType = (typeof ResvNotice)[keyof typeof ResvNotice];
/** Feature 82h (Reservation Notification Mask), CDW11: bit n masks notices of type n (REGPRE 1, RESREL 2, RESPRE 3). */
export const RESV_MASK_ALL = (1 << ResvNotice.RegistrationPreempted) | (1 << ResvNotice.ReservationReleased) | (1 << ResvNotice.ReservationPreempted);
/** Feature 83h (Reservation Persistence), CDW11 bit 0: PTPL. */
export const FEATURE_PTPL = 1;

/**
 * Asynchronous event completion DW0 for "Reservation Log Page Available": type 6 (I/O command specific
 * status), information 00h, log page 80h.
 */
export const AEN_RESERVATION_LOG = 0x06 | (0x00 << 8) | (0x80 << 16);

/** Identify Controller ONCS bit 5: reservations supported. */
export const ONCS_RESERVATIONS = 1 << 5;
/** Identify Namespace RESCAP: bit 0 PTPL, bits 1..6 the six types, bit 7 IEKEY as in revision 1.3 and later. */
export const Rescap = {
  PTPL: 1 << 0,
  ALL_TYPES: 0x7e,
  IEKEY_1_3: 1 << 7,
} as const;
