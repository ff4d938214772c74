// Shared test fixtures for the state store: identities, a log that records lines, temporary dirs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { ControllerRecord, StateLog, SubsystemIdentity } from '../types.js';

export const NQN = 'nqn.2024-01.io.nvmeof:test-subsystem';
export const BOOT_ID = '0b7f3c2e-1111-4222-8333-444455556666';

function bytes(seed: string, n: number): Buffer {
  return createHash('sha256').update(seed).digest().subarray(0, n);
}

export function testIdentity(nqn = NQN, nsids: number[] = [1, 2]): SubsystemIdentity {
  return {
    nqn,
    namespaces: nsids.map((nsid) => ({
      nsid, size: 64 * 1024 * 1024 * nsid, blockSize: nsid % 2 ? 512 : 4096,
      uuid: bytes(`uuid${nqn}${nsid}`, 16), nguid: bytes(`nguid${nqn}${nsid}`, 16), eui64: bytes(`eui${nqn}${nsid}`, 8),
    })),
  };
}

export function testController(cntlid: number, n = cntlid): ControllerRecord {
  return {
    cntlid,
    hostNqn: `nqn.2014-08.org.nvmexpress:uuid:host-${n}`,
    hostId: bytes(`host${n}`, 16),
    subnqn: NQN,
    katoMs: 5000 + n,
    aenConfig: 0x100 + n,
    cc: 0x460001,
    csts: 1,
    savedFeatures: [{ fid: 0x07, dword: n }, { fid: 0x0b, dword: n * 2 }],
    lastSeenMs: 1_700_000_000_000 + n,
    createdMs: 1_700_000_000_000,
  };
}

export interface RecordingLog extends StateLog {
  lines: Array<{ level: string; msg: string; meta?: Record<string, unknown> }>;
}

export function recordingLog(): RecordingLog {
  const lines: RecordingLog['lines'] = [];
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => { lines.push({ level, msg, meta }); };
  return { lines, error: at('error'), warn: at('warn'), info: at('info') };
}

export function tempDir(prefix = 'state-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const SMALL_CAPACITY = { controllers: 8, qpairs: 8, inflightPerQpair: 16 };
