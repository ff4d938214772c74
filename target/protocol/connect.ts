// Fabrics Connect command and data layouts (NVMe over Fabrics 1.1, 3.3; Linux struct nvmf_connect_*).

/** SQE byte offsets of Connect fields. */
export const ConnectSqe = { RECFMT: 40, QID: 42, SQSIZE: 44, CATTR: 46, KATO: 48 } as const;
/** CATTR bit 2: the host disables SQ flow control on this queue. */
export const CATTR_DISABLE_SQFLOW = 0x04;

export const CONNECT_DATA_SIZE = 1024;
export const ConnectData = { HOSTID: 0, CNTLID: 16, SUBNQN: 256, HOSTNQN: 512 } as const;
export const DYNAMIC_CNTLID = 0xffff;

/**
 * AUTHREQ of a successful Connect's result dword 0 (NVMe over Fabrics 1.1, 3.3; Linux NVME_CONNECT_AUTHREQ_*):
 * ATR, the host must authenticate this queue before any other command; ASCR, secure channel concatenation
 * is required (never set here: this target does not offer it).
 */
export const AUTHREQ_ATR = 1 << 17;
export const AUTHREQ_ASCR = 1 << 18;

/** Result dword of a failed Connect with Invalid Parameters: which field (IATTR: 1 = in the data). */
export function invalidParam(inData: boolean, offset: number): number {
  return ((inData ? 1 : 0) << 16) | offset;
}

export interface ConnectFields {
  recfmt: number;
  qid: number;
  sqsize: number;
  cattr: number;
  kato: number;
  hostid: Buffer;
  cntlid: number;
  subnqn: string;
  hostnqn: string;
}

function nqnAt(data: Buffer, at: number): string {
  const raw = data.subarray(at, at + 256);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? 256 : end).toString('utf8');
}

/** The subsystem NQN a Connect's data names. */
export function connectSubnqn(data: Buffer): string {
  return nqnAt(data, ConnectData.SUBNQN);
}

export function decodeConnect(sqe: Buffer, data: Buffer): ConnectFields {
  return {
    recfmt: sqe.readUInt16LE(ConnectSqe.RECFMT),
    qid: sqe.readUInt16LE(ConnectSqe.QID),
    sqsize: sqe.readUInt16LE(ConnectSqe.SQSIZE),
    cattr: sqe[ConnectSqe.CATTR],
    kato: sqe.readUInt32LE(ConnectSqe.KATO),
    hostid: Buffer.from(data.subarray(ConnectData.HOSTID, ConnectData.HOSTID + 16)),
    cntlid: data.readUInt16LE(ConnectData.CNTLID),
    subnqn: connectSubnqn(data),
    hostnqn: nqnAt(data, ConnectData.HOSTNQN),
  };
}

export function encodeConnectData(f: { hostid: Buffer; cntlid: number; subnqn: string; hostnqn: string }): Buffer {
  const b = Buffer.alloc(CONNECT_DATA_SIZE);
  f.hostid.copy(b, ConnectData.HOSTID, 0, 16);
  b.writeUInt16LE(f.cntlid, ConnectData.CNTLID);
  b.write(f.subnqn, ConnectData.SUBNQN, 256, 'utf8');
  b.write(f.hostnqn, ConnectData.HOSTNQN, 256, 'utf8');
  return b;
}
