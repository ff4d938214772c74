// Byte offsets of the Identify data structures this target fills (NVMe Base 2.0, 5.17.2; NVM Command Set 1.0, 4.1.5).

export const IDENTIFY_SIZE = 4096;

export const IdCtrl = {
  VID: 0, SSVID: 2, SN: 4, MN: 24, FR: 64, RAB: 72, IEEE: 73, CMIC: 76, MDTS: 77, CNTLID: 78, VER: 80,
  RTD3R: 84, RTD3E: 88, OAES: 92, CTRATT: 96, CNTRLTYPE: 111,
  OACS: 256, ACL: 258, AERL: 259, FRMW: 260, LPA: 261, ELPE: 262, NPSS: 263, AVSCC: 264, APSTA: 265,
  WCTEMP: 266, CCTEMP: 268, KAS: 320,
  SQES: 512, CQES: 513, MAXCMD: 514, NN: 516, ONCS: 520, FUSES: 522, FNA: 524, VWC: 525, AWUN: 526,
  AWUPF: 528, NVSCC: 530, ACWU: 532, SGLS: 536, MNAN: 540, SUBNQN: 768,
  IOCCSZ: 1792, IORCSZ: 1796, ICDOFF: 1800, FCATT: 1802, MSDBD: 1803, OFCS: 1804,
  PSD0: 2048,
} as const;

export const CtrlType = { Io: 1, Discovery: 2 } as const;

export const IdNs = {
  NSZE: 0, NCAP: 8, NUSE: 16, NSFEAT: 24, NLBAF: 25, FLBAS: 26, MC: 27, DPC: 28, DPS: 29, NMIC: 30,
  RESCAP: 31, FPI: 32, DLFEAT: 33, NGUID: 104, EUI64: 120, LBAF0: 128,
} as const;

/** Namespace Identification Descriptor types (CNS 03h). */
export const NsIdType = { Eui64: 1, Nguid: 2, Uuid: 3, Csi: 4 } as const;
