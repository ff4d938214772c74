// Discovery Log Page (LID 70h) layout (NVMe over Fabrics 1.1, 5.3; Linux struct nvmf_disc_rsp_page_*).

export const DISC_HEADER_SIZE = 1024;
export const DISC_ENTRY_SIZE = 1024;
export const DiscHdr = { GENCTR: 0, NUMREC: 8, RECFMT: 16 } as const;
export const DiscEntry = {
  TRTYPE: 0, ADRFAM: 1, SUBTYPE: 2, TREQ: 3, PORTID: 4, CNTLID: 6, ASQSZ: 8, EFLAGS: 10,
  TRSVCID: 32, SUBNQN: 256, TRADDR: 512, TSAS: 768,
} as const;
export const TrType = { Tcp: 3 } as const;
export const AdrFam = { Ipv4: 1, Ipv6: 2 } as const;
export const SubType = { DiscoveryReferral: 1, Nvme: 2, CurrentDiscovery: 3 } as const;
/**
 * TREQ: bits 1:0 secure channel (00b not specified), bit 2 SQ flow control disable supported. This target
 * has no TLS, and says nothing of it, as Linux nvmet with no TLS key on the port (TREQ 04h in its discovery
 * log, target/protocol/testdata). Never 10b "not required": libnvme 1.3 (Debian bookworm's nvme-cli 2.3)
 * then connects with `tls` (libnvme src/nvme/fabrics.c nvmf_connect_disc_entry), which kernel 6.1 refuses
 * ("unknown parameter ... 'tls'"), so `nvme connect-all` connected nothing; later libnvme asks for
 * `concat` (secure concatenation) instead, which this target lacks too.
 */
export const TREQ_SECURE_CHANNEL_NOT_SPECIFIED = 0x00;
export const TREQ_DISABLE_SQFLOW = 0x04;
/**
 * A port with TLS (target/tls): bits 1:0 say whether the secure channel is required (01b) or not (10b), and
 * TSAS byte 0 (SECTYPE) is TLS 1.3 (02h), as nvmet's discovery entry for a port with addr_tsas "tls1.3"
 * (Linux include/linux/nvme.h NVMF_TREQ_REQUIRED / NVMF_TREQ_NOT_REQUIRED, NVMF_TCP_SECTYPE_TLS13). For
 * 'allowed' that is 10b on purpose, so libnvme 1.3 (nvme-cli 2.3) asks kernel 6.1 for `tls` on that port and
 * fails to connect it with connect-all: a port that admits TLS says so, a host that cannot use it connects by hand.
 */
export const TREQ_SECURE_CHANNEL_REQUIRED = 0x01;
export const TREQ_SECURE_CHANNEL_NOT_REQUIRED = 0x02;
export const TCP_SECTYPE_NONE = 0x00;
export const TCP_SECTYPE_TLS13 = 0x02;

export interface DiscoveryRecord {
  subtype: number;
  portid: number;
  subnqn: string;
  traddr: string;
  trsvcid: string;
  adrfam: number;
  /** The port's TLS mode (absent: off). */
  tls?: 'required' | 'allowed' | 'off';
}

/** TREQ and TSAS SECTYPE of a port by its TLS mode. */
export function secureChannel(tls: DiscoveryRecord['tls']): { treq: number; sectype: number } {
  if (tls === 'required') return { treq: TREQ_SECURE_CHANNEL_REQUIRED | TREQ_DISABLE_SQFLOW, sectype: TCP_SECTYPE_TLS13 };
  if (tls === 'allowed') return { treq: TREQ_SECURE_CHANNEL_NOT_REQUIRED | TREQ_DISABLE_SQFLOW, sectype: TCP_SECTYPE_TLS13 };
  return { treq: TREQ_SECURE_CHANNEL_NOT_SPECIFIED | TREQ_DISABLE_SQFLOW, sectype: TCP_SECTYPE_NONE };
}

export function encodeDiscoveryLog(genctr: bigint, records: DiscoveryRecord[]): Buffer {
  const b = Buffer.alloc(DISC_HEADER_SIZE + records.length * DISC_ENTRY_SIZE);
  b.writeBigUInt64LE(genctr, DiscHdr.GENCTR);
  b.writeBigUInt64LE(BigInt(records.length), DiscHdr.NUMREC);
  b.writeUInt16LE(0, DiscHdr.RECFMT);
  records.forEach((r, i) => {
    const at = DISC_HEADER_SIZE + i * DISC_ENTRY_SIZE;
    b[at + DiscEntry.TRTYPE] = TrType.Tcp;
    b[at + DiscEntry.ADRFAM] = r.adrfam;
    b[at + DiscEntry.SUBTYPE] = r.subtype;
    const sc = secureChannel(r.tls);
    b[at + DiscEntry.TREQ] = sc.treq;
    b.writeUInt16LE(r.portid, at + DiscEntry.PORTID);
    b.writeUInt16LE(0xffff, at + DiscEntry.CNTLID);
    b.writeUInt16LE(32, at + DiscEntry.ASQSZ);
    b.write(r.trsvcid.padEnd(32, ' '), at + DiscEntry.TRSVCID, 32, 'ascii');
    b.write(r.subnqn, at + DiscEntry.SUBNQN, 256, 'utf8');
    b.write(r.traddr.padEnd(256, ' '), at + DiscEntry.TRADDR, 256, 'ascii');
    // TSAS for TCP: byte 0 SECTYPE, the rest reserved (zero).
    b[at + DiscEntry.TSAS] = sc.sectype;
  });
  return b;
}

export function decodeDiscoveryLog(b: Buffer): { genctr: bigint; records: DiscoveryRecord[] } {
  const n = Number(b.readBigUInt64LE(DiscHdr.NUMREC));
  const records: DiscoveryRecord[] = [];
  for (let i = 0; i < n && DISC_HEADER_SIZE + (i + 1) * DISC_ENTRY_SIZE <= b.length; i++) {
    const at = DISC_HEADER_SIZE + i * DISC_ENTRY_SIZE;
    const str = (o: number, l: number) => b.subarray(at + o, at + o + l).toString('utf8').replace(/[\0 ]+$/, '');
    records.push({
      subtype: b[at + DiscEntry.SUBTYPE],
      adrfam: b[at + DiscEntry.ADRFAM],
      portid: b.readUInt16LE(at + DiscEntry.PORTID),
      trsvcid: str(DiscEntry.TRSVCID, 32),
      subnqn: str(DiscEntry.SUBNQN, 256),
      traddr: str(DiscEntry.TRADDR, 256),
      ...(b[at + DiscEntry.TSAS] === TCP_SECTYPE_TLS13 ? { tls: (b[at + DiscEntry.TREQ] & 3) === TREQ_SECURE_CHANNEL_REQUIRED ? 'required' as const : 'allowed' as const } : {}),
    });
  }
  return { genctr: b.readBigUInt64LE(DiscHdr.GENCTR), records };
}
