// The target's data path in one process, without sockets or a client: capsules fed to a Connection as the
// listener feeds a socket's chunks, completions written to a wire that only counts bytes, a memory
// namespace (which completes at once), the target's own metrics observer. What it measures is the
// JavaScript cost per I/O of parsing, executing and answering, with and without the state file's records,
// free of what makes the loopback figures noisy (the client sharing the CPUs, wake-ups, the kernel's TCP):
// the persistence cost as nanoseconds of the target's own work.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '../../target/transport/connection.js';
import type { Wire } from '../../target/transport/wire.js';
import { StateFileRecorder } from '../../target/transport/state-recorder.js';
import { Target } from '../../target/controller/target.js';
import { Subsystem } from '../../target/subsystem/subsystem.js';
import { Namespace } from '../../target/subsystem/namespace.js';
import { MemoryBackend } from '../../target/subsystem/backends/memory.js';
import { deriveNamespaceIds } from '../../target/subsystem/identity.js';
import { TargetMetrics } from '../../target/metrics.js';
import { subsystemIdentity } from '../../target/runtime/persistence.js';
import { openStateFile } from '../../target/state/state-file.js';
import { encodeICReq, writeCommonHeader, PduType, HLEN } from '../../target/protocol/pdu.js';
import { buildSqe, SglId } from '../../target/protocol/sqe.js';
import { readCqe } from '../../target/protocol/cqe.js';
import { encodeConnectData } from '../../target/protocol/connect.js';
import { AdminOpc, FabricsType, IoOpc } from '../../target/protocol/opcodes.js';
import type { IoRecords } from '../../target/controller/io-records.js';

const NQN = 'nqn.2026-01.io.nvmeof:data-path';
const HOST = 'nqn.2026-01.io.nvmeof:data-path-host';
const BLOCKS = (64 << 20) / 512;

/** Counts bytes; keeps the last buffer (for the setup's completions); runs `sent` at once. */
class CountingWire implements Wire {
  readonly peer = 'bench:1';
  readonly localAddress = '127.0.0.1';
  readonly localPort = 4420;
  bytes = 0;
  last: Buffer | undefined;
  write(b: Buffer, sent?: () => void): void {
    this.bytes += b.length;
    this.last = b;
    sent?.();
  }
  end(): void {}
  destroy(): void {}
}

function capsule(sqe: Buffer, data?: Buffer): Buffer {
  const pdo = data ? HLEN.CapsuleCmd : 0;
  const plen = HLEN.CapsuleCmd + (data?.length ?? 0);
  const b = Buffer.alloc(plen);
  writeCommonHeader(b, PduType.CapsuleCmd, 0, HLEN.CapsuleCmd, pdo, plen);
  sqe.copy(b, 8);
  if (data) data.copy(b, pdo);
  return b;
}

function connectCapsule(qid: number, cntlid: number): Buffer {
  const sqe = buildSqe({ opc: AdminOpc.Fabrics, cid: qid, fctype: FabricsType.Connect, sglId: SglId.InCapsule, sglLen: 1024 });
  sqe.writeUInt16LE(qid, 42);
  sqe.writeUInt16LE(127, 44);
  return capsule(sqe, encodeConnectData({ hostid: Buffer.alloc(16, 7), cntlid, subnqn: NQN, hostnqn: HOST }));
}

interface Rig {
  conn: Connection;
  wire: CountingWire;
  close(): void;
}

/** A target with one memory namespace and an I/O queue connected to it; `stateDir`: with a state file. */
async function rig(stateDir: string | undefined): Promise<Rig> {
  const sub = new Subsystem('nvm', NQN, 'SERIAL', 'MODEL', [{ address: '127.0.0.1', port: 4420 }], undefined);
  sub.addNamespace(new Namespace(1, 512, deriveNamespaceIds(NQN, 1), new MemoryBackend(BLOCKS * 512)));
  const records = new Map<Subsystem, IoRecords>();
  let close = () => {};
  if (stateDir) {
    const sf = await openStateFile({ path: join(stateDir, 'state.bin'), identity: subsystemIdentity(sub), durability: 'process', log: { error() {}, warn() {}, info() {} } });
    records.set(sub, sf.connections);
    close = () => sf.close();
  }
  const target = new Target([sub], { observer: new TargetMetrics([NQN]), records });
  const open = () => {
    const wire = new CountingWire();
    const conn = new Connection(wire, target, { recorder: new StateFileRecorder(target) });
    conn.feed(encodeICReq({ pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 }));
    return { wire, conn };
  };
  const admin = open();
  admin.conn.feed(connectCapsule(0, 0xffff));
  const cntlid = readCqe(admin.wire.last!, 8).dw0 & 0xffff;
  const cc = buildSqe({ opc: AdminOpc.Fabrics, cid: 2, fctype: FabricsType.PropertySet, cdw11: 0x14 });
  cc.writeUInt32LE(1 | (6 << 16) | (4 << 20), 48);
  admin.conn.feed(capsule(cc));
  const io = open();
  io.conn.feed(connectCapsule(1, cntlid));
  const status = readCqe(io.wire.last!, 8).status;
  if (status !== 0) throw new Error(`I/O queue Connect failed: status 0x${status.toString(16)}`);
  return { ...io, close };
}

/** `depth` 4 KiB reads or in-capsule writes at random LBAs, back to back: one socket chunk's worth. */
function chunk(write: boolean, depth: number, seed: number): Buffer {
  const parts: Buffer[] = [];
  let x = seed | 1;
  for (let i = 0; i < depth; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const slba = ((x >>> 0) % (BLOCKS / 8)) * 8;
    const sqe = buildSqe({
      opc: write ? IoOpc.Write : IoOpc.Read, cid: i, nsid: 1, sglId: write ? SglId.InCapsule : SglId.Transport, sglLen: 4096,
      cdw10: slba, cdw12: 7,
    });
    parts.push(capsule(sqe, write ? Buffer.alloc(4096, i) : undefined));
  }
  return Buffer.concat(parts);
}

export interface DataPathRow {
  workload: string;
  /** Median ns per I/O without and with the state file, and the median of the per-round ratios. */
  plainNs: number;
  stateNs: number;
  costRatio: number;
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];

/**
 * ns per I/O of 4 KiB random reads and in-capsule writes at depth 32, with and without persistence: `rounds`
 * rounds of `ios` I/Os each, the two rigs alternating (odd rounds in the other order).
 */
export async function benchDataPath(o: { rounds?: number; ios?: number } = {}): Promise<DataPathRow[]> {
  const rounds = o.rounds ?? 15;
  const ios = o.ios ?? 200_000;
  const dir = mkdtempSync(join(tmpdir(), 'data-path-bench-'));
  const plain = await rig(undefined);
  const state = await rig(dir);
  try {
    const rows: DataPathRow[] = [];
    for (const write of [false, true]) {
      const depth = 32;
      const chunks = Array.from({ length: 16 }, (_, i) => chunk(write, depth, i + 1));
      const run = (r: Rig, n: number): number => {
        const t = process.hrtime.bigint();
        for (let i = 0; i < n / depth; i++) r.conn.feed(chunks[i & 15]);
        return Number(process.hrtime.bigint() - t) / n;
      };
      run(plain, ios);
      run(state, ios);
      const a: number[] = [];
      const b: number[] = [];
      const ratios: number[] = [];
      for (let k = 0; k < rounds; k++) {
        const [first, second] = k % 2 === 0 ? [plain, state] : [state, plain];
        const x = run(first, ios);
        const y = run(second, ios);
        const [p, s] = first === plain ? [x, y] : [y, x];
        a.push(p);
        b.push(s);
        ratios.push(s / p);
      }
      rows.push({ workload: `4K rand${write ? 'write' : 'read'} QD${depth}`, plainNs: median(a), stateNs: median(b), costRatio: median(ratios) - 1 });
    }
    return rows;
  } finally {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
