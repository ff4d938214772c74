// A file namespace's backing truncated under the running target (issue 19: file namespaces are served
// through a MAP_SHARED mapping, and an access past the file's new end raises SIGBUS). Checked with the
// TypeScript host: the read past the end and every later I/O of that namespace fail with an error status
// (Unrecovered Read Error, Write Fault), the target logs a backend error naming SIGBUS, and the process lives
// on and serves the other namespace, whose data is intact. GET /recovery lists the offline namespace (`offline`:
// nsid, path, a reason naming SIGBUS, since when) and nvmeof_target_namespace_offline is 1 for it, 0 for the
// other (before the truncation: an empty list and 0 for both).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completionStatus, HostController } from './index.js';
import { freePort } from './target-process.js';
import { startTarget } from '../support/target-process.js';
import { Status } from '../../target/protocol/status.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:truncated';
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0c0c0c0c-0000-4000-8000-00000000000c';
const MiB = 1 << 20;

const dir = mkdtempSync(join(tmpdir(), 'backing-truncated-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a backing file truncated under the target: its namespace fails with an error status, the process serves the other one', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation: 1, logLevel: 'info',
    metrics: { address: '127.0.0.1', port: metricsPort },
    subsystems: [{
      nqn: NQN, hosts: [HOST], listeners: [{ address: '127.0.0.1', port }], stateFile: join(dir, 'state.bin'),
      namespaces: [
        { nsid: 1, blockSize: 4096, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 16 * MiB } },
        { nsid: 2, blockSize: 4096, backing: { kind: 'file', path: join(dir, 'ns2.img'), size: 16 * MiB } },
      ],
    }],
  }));
  const target = await startTarget(['--config', join(dir, 'config.json')]);
  let host: HostController | undefined;
  try {
    host = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOST });
    const q = host.io[0];
    const data = Buffer.alloc(4096, 0xa5);
    for (const nsid of [1, 2]) {
      await q.write(nsid, 0, 1, data);
      await q.write(nsid, 1024, 1, data); // at 4 MiB
    }
    const offline = async (): Promise<Array<Record<string, unknown>>> => ((await (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json()) as { offline: Array<Record<string, unknown>> }).offline;
    const gauge = async (nsid: number): Promise<string | undefined> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return new RegExp(`^nvmeof_target_namespace_offline\\{subsystem="${NQN}",nsid="${nsid}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    };
    assert.deepEqual(await offline(), [], 'no namespace offline before the truncation');
    assert.deepEqual([await gauge(1), await gauge(2)], ['0', '0']);
    truncateSync(join(dir, 'ns1.img'), MiB);

    assert.equal(await completionStatus(q.read(1, 1024, 1, Buffer.alloc(4096))), Status.UnrecoveredReadError, 'a read past the new end');
    assert.equal(await completionStatus(q.read(1, 0, 1, Buffer.alloc(4096))), Status.UnrecoveredReadError, 'the namespace is offline: a read inside the file too');
    assert.equal(await completionStatus(q.write(1, 0, 1, data)), Status.WriteFault, 'and writes');

    const back = Buffer.alloc(4096);
    await q.read(2, 1024, 1, back);
    assert.deepEqual(back, data, 'the other namespace serves, its data intact');
    await q.write(2, 2048, 1, data, { fua: true });
    assert.ok(target.lines.some((l) => l.includes('backend error') && l.includes('SIGBUS')), 'a backend error naming SIGBUS is logged');
    const listed = await offline();
    assert.equal(listed.length, 1, `only namespace 1 is offline: ${JSON.stringify(listed)}`);
    assert.deepEqual({ subsystem: listed[0].subsystem, nsid: listed[0].nsid, path: listed[0].path }, { subsystem: NQN, nsid: 1, path: join(dir, 'ns1.img') });
    assert.match(String(listed[0].reason), /SIGBUS .* at byte 4194304/, 'the reason names SIGBUS and the offset');
    assert.ok(Math.abs(Date.parse(String(listed[0].since)) - Date.now()) < 30_000, `since is a recent time: ${String(listed[0].since)}`);
    assert.deepEqual([await gauge(1), await gauge(2)], ['1', '0'], 'the gauge: 1 for the offline namespace, 0 for the other');
    assert.equal(target.child.exitCode, null, 'the target still runs');
    assert.equal(target.child.signalCode, null);
  } finally {
    await host?.disconnect().catch(() => { /* the target's exit ends it anyway */ });
    const end = await target.kill('SIGTERM');
    assert.equal(end.signal === 'SIGBUS', false, 'the target did not die of SIGBUS');
  }
});
