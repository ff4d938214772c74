// Reservations on a namespace added live survive a restart (state/reservation-sidecar.ts): the target runs with
// --config FILE and a state file, nsid 2 is added by rewriting the file, a host registers and acquires on it,
// then the target is killed (SIGKILL) and started again: Report shows the registrant and the reservation (the
// sidecar's record, imported into the resized state file); then a clean stop and start keeps them too (now
// from the state file's own record). Under in-pod resume the worker writes reservations: the worker is
// SIGKILLed instead, and the one the supervisor starts (which reads the configuration with nsid 2) imports the
// sidecar at its start and serves the registrant and the reservation. With the TypeScript host; ports are free
// ones (freePort).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostController, NvmeStatusError, asyncEventRequestSqe, resvAcquireCommand, resvRegisterCommand, resvReportSqe } from './index.js';
import { freePort, startTarget, SUPERVISOR_MAIN, TARGET_MAIN, type TargetProcess } from '../support/target-process.js';
import { killServingWorker } from '../resume/support.js';
import { statusName } from '../../target/protocol/status.js';
import { FeatureId } from '../../target/protocol/opcodes.js';
import { AcquireAction, RegCtlExt, RegisterAction, ResvStatus, ResvType } from '../../target/protocol/reservations.js';
import { AEN_NAMESPACE_ATTRIBUTE, AEN_NAMESPACE_ATTRIBUTE_CHANGED } from '../../target/controller/namespace-notices.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:live-resv';
const HOSTID = Buffer.alloc(16, 0x2d);
const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID.toString('hex')}`;
const KEY = 0x5eedn;
const MiB = 1 << 20;

const root = mkdtempSync(join(tmpdir(), 'live-resv-'));
after(() => rmSync(root, { recursive: true, force: true }));

function writeConfig(dir: string, generation: number, ns2: boolean, port: number, metricsPort: number): void {
  const stateFile = join(dir, 'state.bin');
  const configFile = join(dir, 'config.json');
  const c = {
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation, logLevel: 'info',
    metrics: { address: '127.0.0.1', port: metricsPort },
    subsystems: [{
      nqn: NQN, hosts: [HOSTNQN], listeners: [{ address: '127.0.0.1', port }], stateFile,
      namespaces: [
        { nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 8 * MiB } },
        ...(ns2 ? [{ nsid: 2, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns2.img'), size: 8 * MiB } }] : []),
      ],
    }],
  };
  // Replaced atomically, so the watcher never reads half a file.
  writeFileSync(`${configFile}.tmp`, JSON.stringify(c));
  renameSync(`${configFile}.tmp`, configFile);
}

/** Reservation Report of nsid 2 (extended data structure): type, and each registrant's key and holder bit. */
async function report(c: HostController): Promise<{ rtype: number; regs: Array<{ key: bigint; holder: boolean; hostid: string }> }> {
  const b = Buffer.alloc(4096);
  const r = await c.io[0].submit(resvReportSqe(2, b.length), { inp: b });
  if (r.status !== 0) throw new NvmeStatusError(r.status, 'Reservation Report');
  const regs = [];
  for (let i = 0; i < b.readUInt16LE(ResvStatus.REGCTL); i++) {
    const at = ResvStatus.EXT_HEADER_SIZE + i * RegCtlExt.SIZE;
    regs.push({ key: b.readBigUInt64LE(at + RegCtlExt.RKEY), holder: (b[at + RegCtlExt.RCSTS] & 1) === 1, hostid: b.subarray(at + RegCtlExt.HOSTID, at + RegCtlExt.HOSTID + 16).toString('hex') });
  }
  return { rtype: b[ResvStatus.RTYPE], regs };
}

const EXPECTED = { rtype: ResvType.WriteExclusive, regs: [{ key: KEY, holder: true, hostid: HOSTID.toString('hex') }] };

for (const [name, main] of [['the target', TARGET_MAIN], ['in-pod resume', SUPERVISOR_MAIN]] as const) {
  test(`${name}: reservations on a namespace added live survive a kill and a clean restart`, { timeout: 90_000 }, async () => {
    const dir = join(root, main === TARGET_MAIN ? 'target' : 'resume');
    mkdirSync(dir);
    const stateFile = join(dir, 'state.bin');
    const configFile = join(dir, 'config.json');
    const port = await freePort();
    const metricsPort = await freePort();
    const resume = main === SUPERVISOR_MAIN ? ['--connection-slots', '16', '--rx-ring', '4M', '--rings', join(dir, 'rings')] : [];
    const start = () => startTarget([...resume, '--config', configFile], { main, keepLines: 2000 });
    writeConfig(dir, 1, false, port, metricsPort);
    let target: TargetProcess | undefined = await start();
    let host: HostController | undefined;
    const connect = async () => (host = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOSTNQN, hostid: HOSTID }));
    try {
      const a = await connect();
      assert.equal((await a.setFeatures(FeatureId.AsyncEventConfig, AEN_NAMESPACE_ATTRIBUTE)).status, 0);
      const aen = a.admin.submit(asyncEventRequestSqe());
      writeConfig(dir, 2, true, port, metricsPort);
      assert.equal((await aen).dw0, AEN_NAMESPACE_ATTRIBUTE_CHANGED);
      assert.deepEqual(await a.activeNamespaces(), [1, 2]);
      assert.ok(existsSync(`${stateFile}.reservations-nsid-2.bin`), 'nsid 2 has a reservation sidecar');

      const reg = resvRegisterCommand(2, { action: RegisterAction.Register, nrkey: KEY });
      assert.equal(statusName((await a.io[0].submit(reg.sqe, { out: reg.data })).status), 'Success');
      const acq = resvAcquireCommand(2, { action: AcquireAction.Acquire, rtype: ResvType.WriteExclusive, crkey: KEY });
      assert.equal(statusName((await a.io[0].submit(acq.sqe, { out: acq.data })).status), 'Success');
      assert.deepEqual(await report(a), EXPECTED);

      // Killed: the acknowledged Register and Acquire are in the sidecar; the next start imports them.
      a.destroy();
      let t0 = Date.now();
      if (main === SUPERVISOR_MAIN) {
        await killServingWorker(`127.0.0.1:${metricsPort}`);
        console.log(`${name}: worker SIGKILLed -> another serves in ${Date.now() - t0} ms`);
      } else {
        await target.kill('SIGKILL');
        t0 = Date.now();
        target = await start();
        console.log(`${name}: restart after SIGKILL: serving in ${Date.now() - t0} ms`);
      }
      assert.ok(target.lines.some((l) => l.includes('imported into the state file')), 'the import is logged');
      assert.equal(existsSync(`${stateFile}.reservations-nsid-2.bin`), false, 'the sidecar is gone once imported');
      assert.deepEqual(await report(await connect()), EXPECTED);

      // A clean stop and start: the state file's own record now.
      host!.destroy();
      await target.kill('SIGTERM');
      t0 = Date.now();
      target = await start();
      console.log(`${name}: restart after SIGTERM: serving in ${Date.now() - t0} ms`);
      assert.deepEqual(await report(await connect()), EXPECTED);
    } finally {
      host?.destroy();
      await target?.kill('SIGTERM');
      target = undefined;
    }
  });
}
