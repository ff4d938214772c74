// Discovery log entries (discovery-log.ts) against the ones Linux nvmet sent the Linux host
// (target/protocol/testdata, stream 0: its Get Log Page 70h of 3 KiB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DISC_ENTRY_SIZE, DISC_HEADER_SIZE, DiscEntry, SubType, AdrFam, decodeDiscoveryLog, encodeDiscoveryLog } from './discovery-log.js';
import { linuxCommand } from '../controller/test-support/harness.js';

test("an entry's TRTYPE, ADRFAM, SUBTYPE, TREQ, PORTID, CNTLID and ASQSZ are nvmet's: TREQ 04h, secure channel not specified", () => {
  const linux = linuxCommand(0, 14).c2hData!;
  const nvmeEntry = linux.subarray(DISC_HEADER_SIZE + DISC_ENTRY_SIZE, DISC_HEADER_SIZE + 2 * DISC_ENTRY_SIZE);
  assert.equal(nvmeEntry[DiscEntry.SUBTYPE], SubType.Nvme);
  const ours = encodeDiscoveryLog(1n, [{ subtype: SubType.Nvme, portid: 1, subnqn: 'nqn.2014-08.io.linux-host:ref', traddr: '10.0.2.15', trsvcid: '4420', adrfam: AdrFam.Ipv4 }])
    .subarray(DISC_HEADER_SIZE, DISC_HEADER_SIZE + DISC_ENTRY_SIZE);
  // Bytes 0-9; EFLAGS (10) and the strings differ by design (nvmet pads TRSVCID and TRADDR with NULs).
  assert.equal(ours.subarray(0, DiscEntry.EFLAGS).toString('hex'), nvmeEntry.subarray(0, DiscEntry.EFLAGS).toString('hex'));
  assert.equal(ours[DiscEntry.TREQ], 0x04, 'SQ flow control disable supported; bits 1:0 00b (libnvme 1.3 asks for TLS on 10b)');
});

test('a TLS port: TREQ secure channel required (01b) or not required (10b), TSAS SECTYPE TLS 1.3 (02h); decoded back', () => {
  const rec = { subtype: SubType.Nvme, portid: 1, subnqn: 'nqn.2026-01.io.test:tls', traddr: '10.0.2.15', trsvcid: '4580', adrfam: AdrFam.Ipv4 };
  const log = encodeDiscoveryLog(1n, [{ ...rec, tls: 'required' }, { ...rec, portid: 2, tls: 'allowed' }, { ...rec, portid: 3 }]);
  const entry = (i: number) => log.subarray(DISC_HEADER_SIZE + i * DISC_ENTRY_SIZE, DISC_HEADER_SIZE + (i + 1) * DISC_ENTRY_SIZE);
  assert.deepEqual([entry(0)[DiscEntry.TREQ], entry(0)[DiscEntry.TSAS]], [0x05, 0x02]);
  assert.deepEqual([entry(1)[DiscEntry.TREQ], entry(1)[DiscEntry.TSAS]], [0x06, 0x02]);
  assert.deepEqual([entry(2)[DiscEntry.TREQ], entry(2)[DiscEntry.TSAS]], [0x04, 0x00]);
  assert.deepEqual(decodeDiscoveryLog(log).records.map((r) => r.tls), ['required', 'allowed', undefined]);
});
