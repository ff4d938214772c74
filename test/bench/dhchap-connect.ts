// What DH-HMAC-CHAP costs a connect (issue 21, 5, the DH-HMAC-CHAP half), per DH group: the TypeScript host
// connects an admin queue and authenticates it (bidirectional, SHA-256) against the target process, N times
// per group, and the script reports the Connect alone, the authentication, and the target's CPU per
// authentication (its threads' schedstat before and after). The host's own DH work is in this process, so
// the authentication's wall time is both sides' work; the target's CPU is its own. `npm run bench` prints
// the table (section `dhchap`); alone, by hand (not in CI):
//
//   node dist/test/bench/dhchap-connect.js [--rounds 15]
//
// Ports: OS-assigned (freePort).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { freePort, startTarget } from '../support/target-process.js';
import { cpuSeconds } from '../host/target-process.js';
import { authenticateQueue, connectRaw, writeDhchapConfig } from '../host/auth.js';
import { formatDhchapSecret } from '../../target/auth/secret.js';
import { DYNAMIC_CNTLID } from '../../target/protocol/connect.js';
import { DH_GROUP_NAMES } from '../../target/config/dhchap.js';

const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const NQN = 'nqn.2026-01.io.nvmeof.bench:dhchap';
const HOSTID = Buffer.from('0b1e2c3d4f5a4b6c8d7e9f0a1b2c3d4e', 'hex');
const SECRET = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x21) });
const CTRL_SECRET = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x22) });

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

/** Writes the table, one row per DH group, to `out` as each row is measured. */
export async function dhchapConnectTable(rounds: number, out: (s: string) => void): Promise<void> {
  out(`Connect and bidirectional DH-HMAC-CHAP (SHA-256), TypeScript host, ${rounds} connects per group; median (p90):\n\n`);
  out('| DH group | Connect (ms) | authentication (ms) | target CPU per authentication (ms) |\n|---|--:|--:|--:|\n');
  for (const group of DH_GROUP_NAMES) {
    const dir = mkdtempSync(join(tmpdir(), 'nvmeof-dhchap-bench-'));
    const port = await freePort();
    const metricsPort = await freePort();
    const config = writeDhchapConfig(dir, { port, metricsPort, nqn: NQN, host: HOST, secret: SECRET, ctrlSecret: CTRL_SECRET, dhGroups: [group], backing: 'memory' });
    const target = await startTarget(['--config', config]);
    const connectMs: number[] = [];
    const authMs: number[] = [];
    const cpuMs: number[] = [];
    try {
      for (let i = 0; i < rounds + 1; i++) {
        const t0 = performance.now();
        const { q } = await connectRaw(port, { qid: 0, cntlid: DYNAMIC_CNTLID, subnqn: NQN, hostnqn: HOST, hostid: HOSTID });
        const t1 = performance.now();
        const cpu0 = cpuSeconds(target.pid);
        const got = await authenticateQueue(q, { hostnqn: HOST, subnqn: NQN, secret: SECRET, ctrlSecret: CTRL_SECRET });
        const t2 = performance.now();
        const cpu1 = cpuSeconds(target.pid);
        q.close();
        if ((got.dhGroup === 0) !== (group === 'null')) throw new Error(`negotiated group ${got.dhGroup} for ${group}`);
        if (i === 0) continue; // the first connect warms both processes up
        connectMs.push(t1 - t0);
        authMs.push(t2 - t1);
        cpuMs.push((cpu1 - cpu0) * 1000);
      }
    } finally {
      await target.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
    const cell = (xs: number[]) => `${quantile(xs, 0.5).toFixed(1)} (${quantile(xs, 0.9).toFixed(1)})`;
    out(`| ${group} | ${cell(connectMs)} | ${cell(authMs)} | ${cell(cpuMs)} |\n`);
  }
}

// Run as a script (not when bench.ts imports it).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
  dhchapConnectTable(Number(values.rounds), (s) => process.stdout.write(s)).catch((e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
