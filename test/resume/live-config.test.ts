// Live reconfiguration under in-pod resume (issue 20, 5): the supervisor holds the sockets, its worker watches
// the --config file. A namespace added while the worker serves reaches the host (AEN, Identify); a listener
// added is refused whole (the supervisor, not the worker, owns the listening sockets); a namespace grown is
// served; then the worker is SIGKILLed and its successor, which reads the file when it starts, serves the
// newest configuration on the same connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostController, asyncEventRequestSqe } from '../host/index.js';
import { freePort, startTarget, SUPERVISOR_MAIN } from '../support/target-process.js';
import { killServingWorker } from './support.js';
import { waitFor } from '../support/wait.js';
import { FeatureId } from '../../target/protocol/opcodes.js';
import { AEN_NAMESPACE_ATTRIBUTE, AEN_NAMESPACE_ATTRIBUTE_CHANGED } from '../../target/controller/namespace-notices.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:resume-live-config';
const MiB = 1 << 20;

interface ConfigBlock { generation: number; rejected?: { generation: number; error: string } }

test('in-pod resume: live changes reach the worker; a listener change is refused; a new worker serves the newest file', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-resume-live-'));
  const [port, port2, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const path = join(dir, 'config.json');
  const write = (generation: number, o: { ns2Bytes?: number; extraListener?: boolean }) => {
    writeFileSync(`${path}.new`, JSON.stringify({
      apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation, logLevel: 'info',
      metrics: { address: '127.0.0.1', port: metricsPort },
      subsystems: [{
        nqn: NQN, allowAnyHost: true, stateFile: join(dir, 'state.bin'),
        listeners: [{ address: '127.0.0.1', port }, ...(o.extraListener ? [{ address: '127.0.0.1', port: port2 }] : [])],
        namespaces: [
          { nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 8 * MiB } },
          ...(o.ns2Bytes ? [{ nsid: 2, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns2.img'), size: o.ns2Bytes } }] : []),
        ],
      }],
    }));
    renameSync(`${path}.new`, path);
  };
  write(1, {});
  const target = await startTarget(['--connection-slots', '8', '--rx-ring', '4M', '--rings', join(dir, 'rings'), '--config', path], { main: SUPERVISOR_MAIN, keepLines: 2000 });
  const metrics = `127.0.0.1:${metricsPort}`;
  const configBlock = async () => ((await (await fetch(`http://${metrics}/recovery`)).json()) as { config: ConfigBlock }).config;
  let host: HostController | undefined;
  try {
    host = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN });
    assert.equal((await host.setFeatures(FeatureId.AsyncEventConfig, AEN_NAMESPACE_ATTRIBUTE)).status, 0);
    const aen = host.admin.submit(asyncEventRequestSqe());
    write(2, { ns2Bytes: 4 * MiB });
    assert.equal((await aen).dw0, AEN_NAMESPACE_ATTRIBUTE_CHANGED);
    assert.deepEqual(await host.activeNamespaces(), [1, 2]);

    write(3, { ns2Bytes: 4 * MiB, extraListener: true });
    const refused = await waitFor('the listener change refused', async () => (await configBlock()).rejected, 10_000);
    assert.equal(refused.generation, 3);
    assert.match(refused.error, /in-pod resume's supervisor holds the listening sockets/);
    assert.equal((await configBlock()).generation, 2);

    write(4, { ns2Bytes: 8 * MiB });
    await waitFor('generation 4', async () => ((await configBlock()).generation === 4 ? true : undefined), 10_000);
    assert.equal((await host.identifyNamespace(2)).nsze, 8 * MiB / 512);

    await killServingWorker(metrics);
    // The new worker read the file when it started: generation 4, nsid 2 at its grown size, same connection.
    assert.equal((await configBlock()).generation, 4);
    assert.deepEqual(await host.activeNamespaces(), [1, 2]);
    assert.equal((await host.identifyNamespace(2)).nsze, 8 * MiB / 512);
    const data = Buffer.alloc(4096, 0x3c);
    await host.io[0].write(2, 8 * MiB / 512 - 8, 8, data);
    const back = Buffer.alloc(4096);
    await host.io[0].read(2, 8 * MiB / 512 - 8, 8, back);
    assert.ok(back.equals(data), 'the grown end of nsid 2 reads back through the new worker');
  } finally {
    host?.destroy();
    await target.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
