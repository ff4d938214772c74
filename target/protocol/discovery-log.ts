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

export interface DiscoveryRecord {
  subtype: number;
  portid: number;
  subnqn: string;
  traddr: string;
  trsvcid: string;
  adrfam: number;
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
    b[at + DiscEntry.TREQ] = TREQ_SECURE_CHANNEL_NOT_SPECIFIED | TREQ_DISABLE_SQFLOW;
    b.writeUInt16LE(r.portid, at + DiscEntry.PORTID);
    b.writeUInt16LE(0xffff, at + DiscEntry.CNTLID);
    b.writeUInt16LE(32, at + DiscEntry.ASQSZ);
    b.write(r.trsvcid.padEnd(32, ' '), at + DiscEntry.TRSVCID, 32, 'ascii');
    b.write(r.subnqn, at + DiscEntry.SUBNQN, 256, 'utf8');
    b.write(r.traddr.padEnd(256, ' '), at + DiscEntry.TRADDR, 256, 'ascii');
    // TSAS for TCP: SECTYPE 0 (no security): all zero.
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
    });
  }
  return { genctr: b.readBigUInt64LE(DiscHdr.GENCTR), records };
}
