// Micro-benchmark of the state store's costs, called by `npm run bench` (test/bench) and by a test.
// Figures are per operation, in nanoseconds, on a real mapped state file in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateFile } from './state-file.js';
import { Stage } from './layout.js';
import type { ControllerRecord, StateDurability, StateLog, SubsystemIdentity } from './types.js';

export interface StateStoreBench {
  /** One in-flight stage change: one word store (connection-records.ts: IF_ORDERED records). */
  inflightStageNs: number;
  /**
   * What one read or in-capsule write costs, as the connection stores it (connection.ts track/complete, its
   * test "state-file stores per I/O"): begin at executing, end.
   */
  inflightPerIoNs: number;
  /** The same for a write whose data comes by R2T: begin at data-in, executing, end. */
  inflightPerR2tIoNs: number;
  /** One SQ head store on a qpair record. */
  sqhdStoreNs: number;
  /** One controller record write (two-slot, 656 bytes, CRC), durability process: no system call. */
  controllerWriteNs: number;
  /** The same with durability node: msync(MS_SYNC) of the pages touched. */
  controllerWriteSyncNs: number;
  /** allocateCntlid with durability node (allocator record + msync). */
  allocateCntlidSyncNs: number;
  /** openStateFile of an existing file (restored) + close, default capacities. */
  reopenMs: number;
  iterations: number;
}

const quiet: StateLog = { error() {}, warn() {}, info() {} };

const identity: SubsystemIdentity = {
  nqn: 'nqn.2024-01.io.nvmeof:bench',
  namespaces: [{ nsid: 1, size: 1 << 30, blockSize: 512, uuid: Buffer.alloc(16, 1), nguid: Buffer.alloc(16, 2), eui64: Buffer.alloc(8, 3) }],
};

function controller(n: number): ControllerRecord {
  return {
    cntlid: 1 + (n % 100), hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:bench-host', hostId: Buffer.alloc(16, 7), subnqn: identity.nqn,
    katoMs: 5000, aenConfig: 0, cc: 0x460001, csts: 1, savedFeatures: [], lastSeenMs: n, createdMs: 0,
  };
}

function nsPer(start: bigint, n: number): number {
  return Number(process.hrtime.bigint() - start) / n;
}

async function open(path: string, durability: StateDurability) {
  return openStateFile({ path, identity, durability, log: quiet, bootId: 'bench' });
}

export async function benchStateStore(o: { dir?: string; iterations?: number; syncIterations?: number } = {}): Promise<StateStoreBench> {
  const iterations = o.iterations ?? 1_000_000;
  const syncIterations = o.syncIterations ?? 200;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'state-bench-'));
  const path = join(dir, 'state.bin');
  try {
    let sf = await open(path, 'process');
    const c = sf.connections;
    const q = c.allocateQpair();
    c.writeQpair(q, { cntlid: 1, qid: 1, sqsize: 127, sqhd: 0, hdgst: false, ddgst: false, epoch: 1 });
    const warm = Math.min(iterations, 100_000);
    const h0 = c.begin(q, 1, 1, 1, 0, 0, 7);
    for (let i = 0; i < warm; i++) c.stage(h0, 1 + (i & 3));
    let t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) c.stage(h0, 1 + (i & 3));
    const inflightStageNs = nsPer(t, iterations);
    c.end(h0);

    const perIo = () => {
      const h = c.begin(q, 1, 2, 1, 4096, 0, 7, Stage.executing);
      c.end(h);
    };
    for (let i = 0; i < warm; i++) perIo();
    t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) perIo();
    const inflightPerIoNs = nsPer(t, iterations);

    const perR2tIo = () => {
      const h = c.begin(q, 1, 1, 1, 4096, 0, 255, Stage['data-in']);
      c.stage(h, Stage.executing);
      c.end(h);
    };
    for (let i = 0; i < warm; i++) perR2tIo();
    t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) perR2tIo();
    const inflightPerR2tIoNs = nsPer(t, iterations);

    t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) c.storeSqhd(q, i & 0x7f);
    const sqhdStoreNs = nsPer(t, iterations);

    const slot = sf.allocateControllerSlot();
    const ctrlIterations = Math.max(1, Math.floor(iterations / 10));
    for (let i = 0; i < 1000; i++) sf.writeController(slot, controller(i));
    t = process.hrtime.bigint();
    for (let i = 0; i < ctrlIterations; i++) sf.writeController(slot, controller(i));
    const controllerWriteNs = nsPer(t, ctrlIterations);
    sf.close();

    sf = await open(path, 'node');
    const s2 = sf.liveControllers()[0]?.slot ?? sf.allocateControllerSlot();
    t = process.hrtime.bigint();
    for (let i = 0; i < syncIterations; i++) sf.writeController(s2, controller(i));
    const controllerWriteSyncNs = nsPer(t, syncIterations);
    t = process.hrtime.bigint();
    for (let i = 0; i < syncIterations; i++) sf.allocateCntlid();
    const allocateCntlidSyncNs = nsPer(t, syncIterations);
    sf.close();

    t = process.hrtime.bigint();
    sf = await open(path, 'process');
    sf.close();
    const reopenMs = Number(process.hrtime.bigint() - t) / 1e6;

    return { inflightStageNs, inflightPerIoNs, inflightPerR2tIoNs, sqhdStoreNs, controllerWriteNs, controllerWriteSyncNs, allocateCntlidSyncNs, reopenMs, iterations };
  } finally {
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
  }
}
