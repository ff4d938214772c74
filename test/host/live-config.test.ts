// Live reconfiguration (issue 20) against the target process, with the TypeScript host: the target runs with
// --config FILE, and the file is rewritten the way the kubelet updates a ConfigMap volume (a new timestamped
// folder, then the `..data` symlink swapped atomically; the file is a symlink through `..data`). Checked:
// namespace 2 appears (the Namespace Attribute Changed AEN, log 04h, Identify's active namespace list), ns 1's
// growth is visible (Identify Namespace NSZE), a removed host's controller ends (its queues closed) while
// the other host goes on, a refused change keeps the old configuration serving and is reported by
// GET /recovery and the metrics, and the removed host connects again once listed. Times (file written ->
// host told) are printed, never asserted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostController, NvmeStatusError, asyncEventRequestSqe } from './index.js';
import { statusName } from '../../target/protocol/status.js';
import { freePort } from './target-process.js';
import { startTarget } from '../support/target-process.js';
import { FeatureId, LogId } from '../../target/protocol/opcodes.js';
import { IdCtrl } from '../../target/protocol/identify-layout.js';
import { AEN_NAMESPACE_ATTRIBUTE, AEN_NAMESPACE_ATTRIBUTE_CHANGED } from '../../target/controller/namespace-notices.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:live';
const HOST_A = 'nqn.2014-08.org.nvmexpress:uuid:0a0a0a0a-0000-4000-8000-00000000000a';
const HOST_B = 'nqn.2014-08.org.nvmexpress:uuid:0b0b0b0b-0000-4000-8000-00000000000b';
const MiB = 1 << 20;

const dir = mkdtempSync(join(tmpdir(), 'live-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `content` as the kubelet's atomic writer does: a new folder, then `..data` swapped to it. */
let version = 0;
function writeConfigMap(content: unknown): number {
  const folder = `..${Date.now()}_${++version}`;
  mkdirSync(join(dir, 'cm', folder), { recursive: true });
  writeFileSync(join(dir, 'cm', folder, 'config.json'), JSON.stringify(content));
  symlinkSync(folder, join(dir, 'cm', '..data_tmp'));
  renameSync(join(dir, 'cm', '..data_tmp'), join(dir, 'cm', '..data'));
  return Date.now();
}

function config(generation: number, o: { hosts: string[]; ns1Bytes: number; ns2: boolean; ns1Path?: string }, port: number, metricsPort: number): unknown {
  return {
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation, logLevel: 'info',
    metrics: { address: '127.0.0.1', port: metricsPort },
    subsystems: [{
      nqn: NQN, hosts: o.hosts, listeners: [{ address: '127.0.0.1', port }], stateFile: join(dir, 'state.bin'),
      namespaces: [
        { nsid: 1, blockSize: 512, backing: { kind: 'file', path: o.ns1Path ?? join(dir, 'ns1.img'), size: o.ns1Bytes } },
        ...(o.ns2 ? [{ nsid: 2, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns2.img'), size: 8 * MiB } }] : []),
      ],
    }],
  };
}

interface RecoveryConfig { generation: number; appliedAt: string; rejected?: { generation: number; error: string; at: string } }

test('a running target takes a new configuration file: namespaces, growth, hosts, a refusal', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  mkdirSync(join(dir, 'cm'));
  writeConfigMap(config(1, { hosts: [HOST_A, HOST_B], ns1Bytes: 16 * MiB, ns2: false }, port, metricsPort));
  symlinkSync('..data/config.json', join(dir, 'cm', 'config.json'));
  const target = await startTarget(['--config', join(dir, 'cm', 'config.json')]);
  const hosts: HostController[] = [];
  try {
    const recovery = async (): Promise<RecoveryConfig> => ((await (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json()) as { config: RecoveryConfig }).config;
    const metric = async (name: string) => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return text.split('\n').find((l) => l.startsWith(name))?.split(' ').pop();
    };
    const waitFor = async <T>(what: string, f: () => Promise<T | undefined>, ms = 10_000): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = await f();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms\n${target.lines.slice(-20).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    assert.equal((await recovery()).generation, 1);
    assert.equal(await metric('nvmeof_target_config_generation'), '1');

    const connect = async (hostnqn: string) => {
      const c = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn });
      hosts.push(c);
      return c;
    };
    const a = await connect(HOST_A);
    const b = await connect(HOST_B);
    assert.equal(a.info!.raw.readUInt32LE(IdCtrl.OAES), AEN_NAMESPACE_ATTRIBUTE, 'OAES bit 8');
    assert.equal((await a.setFeatures(FeatureId.AsyncEventConfig, AEN_NAMESPACE_ATTRIBUTE)).status, 0);
    assert.deepEqual(await a.activeNamespaces(), [1]);
    const changedList = async (c: HostController) => {
      const log = await c.getLogPage(LogId.ChangedNsList, 4096);
      const out: number[] = [];
      for (let at = 0; at < log.length && log.readUInt32LE(at) !== 0; at += 4) out.push(log.readUInt32LE(at));
      return out;
    };

    // Add nsid 2 and grow nsid 1: one AEN, both nsids in log 04h, both visible.
    let aen = a.admin.submit(asyncEventRequestSqe());
    let written = writeConfigMap(config(2, { hosts: [HOST_A, HOST_B], ns1Bytes: 32 * MiB, ns2: true }, port, metricsPort));
    const ev = await aen;
    console.log(`add ns 2 + grow ns 1: file written -> AEN at the host in ${Date.now() - written} ms`);
    assert.deepEqual([ev.status, ev.dw0], [0, AEN_NAMESPACE_ATTRIBUTE_CHANGED]);
    assert.deepEqual((await changedList(a)).sort(), [1, 2]);
    assert.deepEqual(await changedList(a), [], 'read without RAE: emptied');
    assert.deepEqual(await a.activeNamespaces(), [1, 2]);
    assert.equal((await a.identifyNamespace(1)).nsze, 32 * MiB / 512);
    assert.equal((await a.identifyNamespace(2)).nsze, 8 * MiB / 512);
    assert.ok(existsSync(join(dir, 'state.bin.reservations-nsid-2.bin')), 'nsid 2, added live, keeps its reservations in a sidecar');
    assert.deepEqual(await changedList(b), [2, 1], 'B did not enable the notice: its list holds the change all the same');
    const rc = await recovery();
    assert.equal(rc.generation, 2);
    assert.equal(rc.rejected, undefined);
    assert.equal(await metric('nvmeof_target_config_reloads_total{result="applied"}'), '1');
    // A write past ns 1's old end now succeeds.
    await a.io[0].write(1, 16 * MiB / 512, 8, Buffer.alloc(4096, 0x5a));

    // Remove host B: its controller's queues end; A goes on.
    written = writeConfigMap(config(3, { hosts: [HOST_A], ns1Bytes: 32 * MiB, ns2: true }, port, metricsPort));
    await b.admin.closed;
    await b.io[0].closed;
    console.log(`remove host B: file written -> B's queues closed in ${Date.now() - written} ms`);
    await a.io[0].read(1, 0, 8, Buffer.alloc(4096)); // A is untouched
    await assert.rejects(connect(HOST_B), (e: unknown) => e instanceof NvmeStatusError, 'B may not connect');
    await waitFor('generation 3', async () => ((await recovery()).generation === 3 ? true : undefined));

    // A change of nsid 1's backing is refused whole (the host change beside it too); generation 3 keeps serving.
    written = writeConfigMap(config(4, { hosts: [HOST_A, HOST_B], ns1Bytes: 32 * MiB, ns2: true, ns1Path: join(dir, 'other.img') }, port, metricsPort));
    const refused = await waitFor('the refusal', async () => (await recovery()).rejected);
    assert.equal(refused.generation, 4);
    assert.match(refused.error, /subsystems\[0\]\.namespaces\[0\]\.backing\.path: nsid 1's backing cannot change/);
    assert.equal((await recovery()).generation, 3);
    assert.equal(await metric('nvmeof_target_config_reloads_total{result="rejected"}'), '1');
    assert.ok(target.lines.some((l) => l.includes('configuration refused: subsystems[0].namespaces[0].backing.path')), 'one log line naming field and reason');
    await assert.rejects(connect(HOST_B), (e: unknown) => e instanceof NvmeStatusError, 'the refused host list did not apply');

    // B listed again and nsid 2 removed: B connects, A is told nsid 2 went.
    aen = a.admin.submit(asyncEventRequestSqe());
    written = writeConfigMap(config(5, { hosts: [HOST_A, HOST_B], ns1Bytes: 32 * MiB, ns2: false }, port, metricsPort));
    assert.equal((await aen).dw0, AEN_NAMESPACE_ATTRIBUTE_CHANGED);
    console.log(`remove ns 2: file written -> AEN at the host in ${Date.now() - written} ms`);
    assert.deepEqual(await changedList(a), [2]);
    assert.deepEqual(await a.activeNamespaces(), [1]);
    const r2 = await a.io[0].read(2, 0, 8, Buffer.alloc(4096)).catch((e: unknown) => e);
    assert.ok(r2 instanceof NvmeStatusError && statusName(r2.status) === 'InvalidNamespace', `a command on the removed nsid: ${String(r2)}`);
    const rc5 = await recovery();
    assert.equal(rc5.generation, 5);
    assert.equal(rc5.rejected, undefined, 'a later content applied: the rejection is gone');
    await waitFor('nsid 2\'s reservation sidecar deleted with it', async () => (existsSync(join(dir, 'state.bin.reservations-nsid-2.bin')) ? undefined : true));
    const b2 = await connect(HOST_B);
    assert.deepEqual(await b2.activeNamespaces(), [1]);
  } finally {
    for (const h of hosts) h.destroy();
    await target.kill('SIGTERM');
  }
});
