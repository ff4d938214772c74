// A file namespace whose sparse backing lives on a file system that fills up (issue 19: the namespace is
// served through a MAP_SHARED mapping, and a store into a hole that cannot be allocated raises SIGBUS; the
// backend issues that write again with pwrite, whose ENOSPC names the cause). The sibling of
// backing-truncated.test.ts, where the namespace goes offline: here it must not. On a tmpfs mounted for
// the test (size 1 MiB) and filled by a filler file, checked with the TypeScript host: a Write into a hole
// completes with Capacity Exceeded (SCT 0, SC 81h, DNR; target/controller/io.ts), not a success and not a
// transport error; blocks written before read back intact, can be rewritten, a hole reads as zeroes and a
// Flush succeeds; GET /recovery's `offline` stays empty and nvmeof_target_namespace_offline 0; once the
// filler is deleted the same Write succeeds and reads back; the target process served throughout. Twice:
// through the mapping, and with NVMEOF_NO_MMAP=1 (pwrite), with the same statuses.
// Needs root (or CAP_SYS_ADMIN) for `mount -t tmpfs`: without it the test fails saying so.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completionStatus, HostController } from './index.js';
import { freePort } from './target-process.js';
import { startTarget } from '../support/target-process.js';
import { Status } from '../../target/protocol/status.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:full';
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0d0d0d0d-0000-4000-8000-00000000000d';
const MiB = 1 << 20;
const BLOCK = 4096;

const dir = mkdtempSync(join(tmpdir(), 'backing-full-'));
/** tmpfs mount points still mounted: unmounted by `after`, whatever failed. */
const mounted = new Set<string>();

function umount(at: string): void {
  try {
    execFileSync('umount', [at], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', at], { stdio: 'pipe' }); // still busy (a target that did not exit): detach it
  }
  mounted.delete(at);
}

after(() => {
  for (const at of [...mounted]) umount(at);
  rmSync(dir, { recursive: true, force: true });
});

/** A tmpfs of `bytes` on a new directory; fails the test, saying what it needs, when mount is refused. */
function mountTmpfs(name: string, bytes: number): string {
  const at = join(dir, name);
  mkdirSync(at);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', at], { stdio: 'pipe' });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
    throw new Error(`this test needs to mount a small tmpfs (mount -t tmpfs -o size=${bytes} tmpfs ${at}): run it as root or with CAP_SYS_ADMIN; mount said: ${why}`);
  }
  mounted.add(at);
  return at;
}

/** Fills the file system of `path` with a new file until ENOSPC; returns its size. */
function fill(path: string): number {
  const fd = openSync(path, 'wx');
  const chunk = Buffer.alloc(64 * 1024, 0xee);
  let size = 0;
  try {
    for (let n = chunk.length; n >= BLOCK; n /= 2) {
      for (;;) {
        try {
          size += writeSync(fd, chunk, 0, n, size);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return size;
}

function pattern(seed: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i += 4) b.writeUInt32LE((seed * 0x9e3779b1 + i) >>> 0, i);
  return b;
}

for (const mode of ['mapping', 'pwrite'] as const) {
  test(`a backing file on a full file system (${mode}): a Write into a hole gets Capacity Exceeded, the namespace stays online, nothing is lost`, { timeout: 30_000 }, async () => {
    const fs = mountTmpfs(mode, MiB);
    const work = join(dir, `${mode}-work`);
    mkdirSync(work);
    const port = await freePort();
    const metricsPort = await freePort();
    const backing = join(fs, 'ns1.img');
    writeFileSync(join(work, 'config.json'), JSON.stringify({
      apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation: 1, logLevel: 'info',
      metrics: { address: '127.0.0.1', port: metricsPort },
      subsystems: [{
        nqn: NQN, hosts: [HOST], listeners: [{ address: '127.0.0.1', port }], stateFile: join(work, 'state.bin'),
        // 16 MiB on a 1 MiB file system: sparse, most of it holes that can never all be allocated.
        namespaces: [{ nsid: 1, blockSize: BLOCK, backing: { kind: 'file', path: backing, size: 16 * MiB } }],
      }],
    }));
    const target = await startTarget(['--config', join(work, 'config.json')], { env: mode === 'pwrite' ? { NVMEOF_NO_MMAP: '1' } : { NVMEOF_NO_MMAP: undefined } });
    let host: HostController | undefined;
    try {
      const noMapping = target.lines.filter((l) => l.includes('NVMEOF_NO_MMAP') || l.includes('pread/pwrite'));
      if (mode === 'mapping') assert.deepEqual(noMapping, [], 'the namespace is served through the mapping (the addon loads: scripts/prepare.sh builds it)');
      host = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOST });
      const q = host.io[0];
      const offline = async (): Promise<unknown[]> => ((await (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json()) as { offline: unknown[] }).offline;
      const gauge = async (): Promise<string | undefined> => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return new RegExp(`^nvmeof_target_namespace_offline\\{subsystem="${NQN}",nsid="1"\\} (\\d+)$`, 'm').exec(text)?.[1];
      };

      // Blocks 0-3 and 1024 (4 MiB) written while there is room; then nothing is left.
      const written = new Map<number, Buffer>([0, 1, 2, 3, 1024].map((lba) => [lba, pattern(lba + 1)]));
      for (const [lba, data] of written) await q.write(1, lba, 1, data);
      const filler = join(fs, 'filler');
      const filled = fill(filler);
      assert.ok(filled > 0, 'the filler took the rest of the file system');
      assert.equal(statfsSync(fs).bfree, 0, 'the file system is full');

      const hole = 2048; // 8 MiB: never written
      const data = pattern(99);
      assert.equal(Status.CapacityExceeded, 0x4081, 'Capacity Exceeded: SCT 0, SC 81h, DNR');
      assert.equal(await completionStatus(q.write(1, hole, 1, data)), Status.CapacityExceeded, 'a Write into a hole on the full file system');
      assert.equal(await completionStatus(q.write(1, hole, 1, data, { fua: true })), Status.CapacityExceeded, 'again, with FUA');
      assert.equal(await completionStatus(q.write(1, 3, 2, Buffer.concat([written.get(3)!, data]))), Status.CapacityExceeded, 'a Write over a written block and a hole');

      // Online: what was written reads back, can be rewritten and flushed; a hole reads as zeroes.
      const back = Buffer.alloc(BLOCK);
      for (const [lba, want] of written) { // block 3 too: the failed two-block Write carried its own data
        await q.read(1, lba, 1, back);
        assert.deepEqual(back, want, `block ${lba} reads back`);
      }
      const rewritten = pattern(7);
      await q.write(1, 1, 1, rewritten, { fua: true });
      written.set(1, rewritten);
      await q.read(1, 1, 1, back);
      assert.deepEqual(back, rewritten, 'a written block is rewritten on the full file system');
      assert.equal(await completionStatus(q.read(1, 3072, 1, back)), 0, 'a Read of a hole on the full file system succeeds');
      assert.deepEqual(back, Buffer.alloc(BLOCK), 'and reads zeroes');
      await q.flush(1);
      assert.deepEqual(await offline(), [], "/recovery's offline list is empty");
      assert.equal(await gauge(), '0', 'nvmeof_target_namespace_offline is 0');
      const enospc = target.lines.filter((l) => l.includes('backend error'));
      assert.equal(enospc.length, 3, `each failed Write is logged as a backend error:\n${enospc.join('\n')}`);
      assert.ok(enospc.every((l) => l.includes('ENOSPC')), `naming ENOSPC:\n${enospc.join('\n')}`);
      assert.ok(!target.lines.some((l) => l.includes('NVMEOF_SIGBUS')), 'no namespace went offline');

      // Space freed: the same Write succeeds and reads back.
      unlinkSync(filler);
      await q.write(1, hole, 1, data);
      await q.read(1, hole, 1, back);
      assert.deepEqual(back, data, 'the Write into the hole, once there is room');
      await q.write(1, 3, 2, Buffer.concat([written.get(3)!, data]), { fua: true });
      const two = Buffer.alloc(2 * BLOCK);
      await q.read(1, 3, 2, two);
      assert.deepEqual(two, Buffer.concat([written.get(3)!, data]));
      for (const [lba, want] of written) {
        await q.read(1, lba, 1, back);
        assert.deepEqual(back, want, `block ${lba} reads back at the end`);
      }
      assert.deepEqual(await offline(), []);
      assert.equal(await gauge(), '0');
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200, 'the target answers');
      assert.equal(target.child.exitCode, null, 'the target process served throughout');
      assert.equal(target.child.signalCode, null);
    } finally {
      await host?.disconnect().catch(() => { /* the target's exit ends it anyway */ });
      const end = await target.kill('SIGTERM');
      umount(fs);
      assert.equal(end.signal, null, `the target exited by itself after SIGTERM, not by a signal: ${JSON.stringify(end)}`);
    }
  });
}
