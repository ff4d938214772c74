// Live reconfiguration under in-pod resume (issue 20, 5): the supervisor holds the sockets, its worker watches
// the --config file. A namespace added while the worker serves reaches the host (AEN, Identify); a listener
// added is opened by the supervisor (the worker asks it) and takes a host; the worker is SIGKILLed and its
// successor, which reads the file and the supervisor's listener table when it starts, serves the newest
// configuration on the same connections, the new listener's included; then that listener is removed (its
// connection ends, its port refuses) while a namespace grows; a listener on a port another process holds is
// refused whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';
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

test('in-pod resume: live changes reach the worker; the supervisor opens and closes listeners; a new worker serves the newest file and table', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-resume-live-'));
  const [port, port2, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const held = (holder.address() as { port: number }).port;
  const path = join(dir, 'config.json');
  const write = (generation: number, o: { ns2Bytes?: number; extraListener?: number }) => {
    writeFileSync(`${path}.new`, JSON.stringify({
      apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation, logLevel: 'info',
      metrics: { address: '127.0.0.1', port: metricsPort },
      subsystems: [{
        nqn: NQN, allowAnyHost: true, stateFile: join(dir, 'state.bin'),
        listeners: [{ address: '127.0.0.1', port }, ...(o.extraListener ? [{ address: '127.0.0.1', port: o.extraListener }] : [])],
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
  let host2: HostController | undefined;
  const connects = (p: number) => new Promise<boolean>((res) => {
    const c = connect({ host: '127.0.0.1', port: p }, () => { c.destroy(); res(true); });
    c.on('error', () => res(false));
  });
  const generation = (g: number) => waitFor(`generation ${g}`, async () => ((await configBlock()).generation === g ? true : undefined), 10_000);
  try {
    host = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN });
    assert.equal((await host.setFeatures(FeatureId.AsyncEventConfig, AEN_NAMESPACE_ATTRIBUTE)).status, 0);
    const aen = host.admin.submit(asyncEventRequestSqe());
    write(2, { ns2Bytes: 4 * MiB });
    assert.equal((await aen).dw0, AEN_NAMESPACE_ATTRIBUTE_CHANGED);
    assert.deepEqual(await host.activeNamespaces(), [1, 2]);

    write(3, { ns2Bytes: 4 * MiB, extraListener: port2 });
    await generation(3);
    host2 = await HostController.connect({ host: '127.0.0.1', port: port2, subnqn: NQN });
    assert.deepEqual(await host2.activeNamespaces(), [1, 2], 'a host through the listener the supervisor opened');

    await killServingWorker(metrics);
    // The new worker read the file and the supervisor's listener table when it started.
    assert.equal((await configBlock()).generation, 3);
    assert.deepEqual(await host.activeNamespaces(), [1, 2]);
    assert.deepEqual(await host2.activeNamespaces(), [1, 2], 'the connection through the new listener resumed too');
    assert.equal(await connects(port2), true);

    write(4, { ns2Bytes: 8 * MiB });
    await generation(4);
    await host2.admin.closed;
    assert.equal(await connects(port2), false, 'the removed listener\'s port refuses');
    assert.equal((await host.identifyNamespace(2)).nsze, 8 * MiB / 512);
    const data = Buffer.alloc(4096, 0x3c);
    await host.io[0].write(2, 8 * MiB / 512 - 8, 8, data);
    const back = Buffer.alloc(4096);
    await host.io[0].read(2, 8 * MiB / 512 - 8, 8, back);
    assert.ok(back.equals(data), 'the grown end of nsid 2 reads back');

    // SIGHUP to the supervisor (PID 1 in the pod) is passed to the worker, which reads the file: the
    // supervisor keeps serving.
    target.child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(target.child.exitCode, null, 'the supervisor lives through SIGHUP');
    assert.deepEqual(await host.activeNamespaces(), [1, 2]);

    write(5, { ns2Bytes: 8 * MiB, extraListener: held });
    const refused = await waitFor('the held port refused', async () => (await configBlock()).rejected, 10_000);
    assert.equal(refused.generation, 5);
    assert.match(refused.error, /the supervisor could not open the listeners: .*EADDRINUSE/);
    assert.equal((await configBlock()).generation, 4);
  } finally {
    host?.destroy();
    host2?.destroy();
    holder.close();
    await target.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
