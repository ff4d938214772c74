// Controller properties reachable with Property Get/Set (NVMe Base 2.0, 3.1.4) and the values this target reports.

export const Prop = { CAP: 0x00, VS: 0x08, CC: 0x14, CSTS: 0x1c, NSSR: 0x20 } as const;

export const CC = {
  EN: 1 << 0,
  SHN_SHIFT: 14,
  SHN_MASK: 0x3 << 14,
  IOSQES_SHIFT: 16,
  IOCQES_SHIFT: 20,
} as const;

export const CSTS = {
  RDY: 1 << 0,
  CFS: 1 << 1,
  SHST_SHIFT: 2,
  SHST_NORMAL: 0 << 2,
  SHST_OCCURRING: 1 << 2,
  SHST_COMPLETE: 2 << 2,
} as const;

/** NVMe 1.3.0: the version whose features the Linux host uses without CSI-specific commands. */
export const NVME_VERSION = 0x00010300;

/** Entries per queue the target accepts (CAP.MQES + 1, and the largest Connect SQSIZE + 1). */
export const MAX_QUEUE_ENTRIES = 1024;

/**
 * CAP: MQES = 1023, CQR = 1 (contiguous queues, as fabrics require), TO = 15 (7.5 s to become ready),
 * CSS bit 0 (NVM command set), MPSMIN = MPSMAX = 0 (4 KiB pages). Same shape as Linux nvmet.
 */
export function capValue(): bigint {
  return BigInt(MAX_QUEUE_ENTRIES - 1) | (1n << 16n) | (15n << 24n) | (1n << 37n);
}
