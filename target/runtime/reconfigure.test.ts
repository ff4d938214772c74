// Live reconfiguration of a target run in this process (runtime/reconfigure.ts): a change that fails halfway
// through its preparation is refused whole and leaves nothing behind; subsystems come and go; a block device
// grown under the target is noticed and told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTarget, type RunningTarget } from './run.js';
import { recheckBlockDevices } from './reconfigure.js';
import { TcpFrontEnd } from '../transport/tcp-front-end.js';
import type { SubsystemConfig, TargetConfig } from '../config/config.js';
import { nullLogger } from '../controller/observer.js';
import { AEN_NAMESPACE_ATTRIBUTE, takeChangedNamespaces } from '../controller/namespace-notices.js';
import { AEN_DISCOVERY_CHANGE, AEN_DISCOVERY_LOG_CHANGED } from '../controller/discovery-notices.js';

const NQN = 'nqn.2026-01.io.example:reconfigure';
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000aa';
const MiB = 1 << 20;

function sub(dir: string, port: number, extra: Partial<SubsystemConfig> = {}): SubsystemConfig {
  return {
    nqn: NQN, allowAnyHost: true, listeners: [{ address: '127.0.0.1', port }],
    namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 4 * MiB } }],
    ...extra,
  };
}

const config = (generation: number, subsystems: SubsystemConfig[]): TargetConfig => ({ apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation, subsystems });

const logLevels: string[] = [];

async function withTarget(f: (r: RunningTarget, dir: string, port: number) => Promise<void>, first?: (dir: string) => SubsystemConfig): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reconfigure-'));
  // Port 0: the kernel picks one; the configuration names the one it picked from then on.
  const running = await runTarget(config(1, [first ? first(dir) : sub(dir, 0)]), nullLogger, new TcpFrontEnd(), { setLogLevel: (l) => logLevels.push(l) });
  const port = Number(running.frontEnd.addresses[0].split(':').pop());
  (running.config.subsystems[0].listeners[0] as { port: number }).port = port;
  try {
    await f(running, dir, port);
  } finally {
    await running.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

const nsids = (r: RunningTarget, nqn = NQN) => r.target.findSubsystem(nqn)?.activeNsids();

test('a change whose last step fails is refused whole: the namespace opened before it is closed, nothing is served', async () => {
  await withTarget(async (r, dir, port) => {
    const next = config(2, [sub(dir, port, {
      namespaces: [
        { nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 4 * MiB } },
        { nsid: 2, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns2.img'), size: 4 * MiB } },
        // A file under a file: ENOTDIR when it is created.
        { nsid: 3, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img', 'x.img'), size: 4 * MiB } },
      ],
    })]);
    const res = await r.reconfigure(next);
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.error, /nsid 3/);
    assert.deepEqual(nsids(r), [1], 'nsid 2 was not added');
    assert.equal(r.config.generation, 1, 'the old configuration is served');
    const status = r.configStatus.json();
    assert.equal(status.generation, 1);
    assert.equal(status.rejected?.generation, 2);
    // The same change without the bad namespace applies (nsid 2 is opened anew: the refused attempt closed it).
    next.subsystems[0].namespaces.pop();
    const ok = await r.reconfigure(next);
    assert.ok(ok.ok, ok.ok ? '' : ok.error);
    assert.deepEqual(nsids(r), [1, 2]);
    assert.equal(r.configStatus.json().rejected, undefined);
  });
});

test('a listening port another process holds refuses the change whole: the host list beside it is not applied', async () => {
  await withTarget(async (r, dir, port) => {
    const holder: Server = createServer();
    await new Promise<void>((res) => holder.listen(0, '127.0.0.1', res));
    const taken = (holder.address() as { port: number }).port;
    try {
      const res = await r.reconfigure(config(2, [sub(dir, port, {
        allowAnyHost: false, hosts: [HOST], listeners: [{ address: '127.0.0.1', port }, { address: '127.0.0.1', port: taken }],
      })]));
      assert.equal(res.ok, false);
      assert.match(res.ok ? '' : res.error, /EADDRINUSE/);
      assert.ok(r.target.findSubsystem(NQN)!.allowsHost('nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000bb'), 'still any host');
      assert.deepEqual(r.frontEnd.addresses, [`127.0.0.1:${port}`]);
    } finally {
      holder.close();
    }
  });
});

test('a subsystem added then removed: served, then its controllers ended and its NQN unknown', async () => {
  await withTarget(async (r, dir, port) => {
    const other: SubsystemConfig = {
      nqn: `${NQN}-2`, allowAnyHost: true, listeners: [{ address: '127.0.0.1', port }],
      namespaces: [{ nsid: 5, blockSize: 4096, backing: { kind: 'memory', size: MiB } }],
    };
    const added = await r.reconfigure(config(2, [sub(dir, port), other]));
    assert.ok(added.ok, added.ok ? '' : added.error);
    assert.deepEqual(nsids(r, other.nqn), [5]);
    const newSub = r.target.findSubsystem(other.nqn)!;
    const ctrl = r.target.createController(newSub, HOST, Buffer.alloc(16, 1), 0)!;
    const removed = await r.reconfigure(config(3, [sub(dir, port)]));
    assert.ok(removed.ok, removed.ok ? '' : removed.error);
    assert.equal(r.target.findSubsystem(other.nqn), undefined);
    assert.ok(ctrl.destroyed, 'its controller was ended');
    assert.equal(r.configStatus.served, 3);
  });
});

test('a block device grown under the target: noticed by the re-check, and every controller\'s changed list holds it', async () => {
  const blockSub = (dir: string): SubsystemConfig => {
    // A regular file stands in for the device: a block backing takes "any existing file used as is".
    writeFileSync(join(dir, 'dev.img'), Buffer.alloc(MiB));
    return { ...sub(dir, 0), namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'block', path: join(dir, 'dev.img') } }] };
  };
  await withTarget(async (r, dir) => {
    const s = r.target.findSubsystem(NQN)!;
    const ctrl = r.target.createController(s, HOST, Buffer.alloc(16, 2), 0)!;
    ctrl.features.asyncEventConfig = AEN_NAMESPACE_ATTRIBUTE;
    assert.equal((await recheckBlockDevices({ target: r.target, subsystems: [s], log: nullLogger })).size, 0, 'unchanged: nothing told');
    truncateSync(join(dir, 'dev.img'), 3 * MiB);
    const grown = await recheckBlockDevices({ target: r.target, subsystems: [s], log: nullLogger });
    assert.deepEqual([...grown.values()], [[1]]);
    assert.equal(s.namespaces.get(1)!.nsze, 3 * MiB / 512);
    assert.deepEqual(takeChangedNamespaces(ctrl, false), [1]);
  }, blockSub);
});

test('a host list change tells discovery controllers that enabled bit 31, ends the removed host\'s controllers, and the log level is set', async () => {
  await withTarget(async (r, dir, port) => {
    const s = r.target.findSubsystem(NQN)!;
    const other = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000bb';
    const kept = r.target.createController(s, HOST, Buffer.alloc(16, 3), 0)!;
    const gone = r.target.createController(s, other, Buffer.alloc(16, 4), 0)!;
    const disc = r.target.createController(r.target.discovery, HOST, Buffer.alloc(16, 3), 0)!;
    disc.features.asyncEventConfig = AEN_DISCOVERY_CHANGE;
    const events: number[] = [];
    disc.raiseAsyncEvent = (dw0: number) => { events.push(dw0); };
    logLevels.length = 0;
    const res = await r.reconfigure({ ...config(2, [sub(dir, port, { allowAnyHost: false, hosts: [HOST] })]), logLevel: 'debug' });
    assert.ok(res.ok, res.ok ? '' : res.error);
    assert.deepEqual(events, [AEN_DISCOVERY_LOG_CHANGED], 'the discovery controller was told once');
    assert.equal(gone.destroyed, true, 'the removed host\'s controller was ended');
    assert.equal(kept.destroyed, false);
    assert.deepEqual(logLevels, ['debug']);
  });
});

test('a listener added is bound at once and takes connections; removed, it is closed', async () => {
  await withTarget(async (r, dir, port) => {
    const probe: Server = createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    const extra = (probe.address() as { port: number }).port;
    await new Promise<void>((res) => probe.close(() => res()));
    const connects = (p: number) => new Promise<boolean>((res) => {
      const s = connect({ host: '127.0.0.1', port: p }, () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    const added = await r.reconfigure(config(2, [sub(dir, port, { listeners: [{ address: '127.0.0.1', port }, { address: '127.0.0.1', port: extra }] })]));
    assert.ok(added.ok, added.ok ? '' : added.error);
    assert.deepEqual([...r.frontEnd.addresses].sort(), [`127.0.0.1:${port}`, `127.0.0.1:${extra}`].sort());
    assert.equal(await connects(extra), true);
    const removed = await r.reconfigure(config(3, [sub(dir, port)]));
    assert.ok(removed.ok, removed.ok ? '' : removed.error);
    assert.deepEqual(r.frontEnd.addresses, [`127.0.0.1:${port}`]);
    assert.equal(await connects(extra), false, 'the removed address takes no connection');
    assert.equal(await connects(port), true, 'the kept one still does');
  });
});

test('an nsid removed and added back over another file with the identifiers hosts knew is refused; over its own file it is taken', async () => {
  await withTarget(async (r, dir, port) => {
    const ns = (path: string) => [
      { nsid: 1, blockSize: 512 as const, backing: { kind: 'file' as const, path: join(dir, 'ns1.img'), size: 4 * MiB } },
      { nsid: 2, blockSize: 512 as const, backing: { kind: 'file' as const, path: join(dir, path), size: 4 * MiB } },
    ];
    assert.ok((await r.reconfigure(config(2, [sub(dir, port, { namespaces: ns('ns2.img') })]))).ok);
    assert.ok((await r.reconfigure(config(3, [sub(dir, port)]))).ok);
    const other = await r.reconfigure(config(4, [sub(dir, port, { namespaces: ns('other.img') })]));
    assert.equal(other.ok, false);
    assert.match(other.ok ? '' : other.error, /subsystems\[0\]\.namespaces\[1\]: nsid 2 was removed from .*ns2\.img; added back over .*other\.img it must not show an identifier hosts knew/);
    const back = await r.reconfigure(config(5, [sub(dir, port, { namespaces: ns('ns2.img') })]));
    assert.ok(back.ok, back.ok ? '' : back.error);
    assert.deepEqual(nsids(r), [1, 2]);
  });
});
