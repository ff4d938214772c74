// The real process (dist/target/main.js): a configuration or environment error ends it non-zero with the
// reason in the termination message ($NVMEOF_TERMINATION_MESSAGE_PATH); a port held by another process is
// waited for while the state-file lock is another's (a force-deleted pod's old container), and given up on
// PORT_IN_USE_GRACE_MS after this process holds its locks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TERMINATION_MESSAGE_PATH_ENV } from './termination-message.js';
import { PORT_IN_USE_GRACE_MS } from './transport/port-wait.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const LOCK_HOLDER = fileURLToPath(new URL('./state/test-support/lock-holder.js', import.meta.url));

interface Run {
  child: ChildProcess;
  exited: Promise<number | null>;
  messagePath: string;
  output(): string;
}

function start(dir: string, args: string[]): Run {
  const messagePath = join(dir, 'termination-log');
  const child = spawn(process.execPath, [MAIN, '--log-level', 'warn', ...args], {
    env: { ...process.env, [TERMINATION_MESSAGE_PATH_ENV]: messagePath }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b) => { out += b; });
  child.stderr!.on('data', (b) => { out += b; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, messagePath, output: () => out };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'target-main-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port of 127.0.0.1 held by this test (an unrelated process, as far as the target knows). */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, r));
  return { server, port: (server.address() as { port: number }).port };
}

async function freePort(): Promise<number> {
  const { server, port } = await holdPort();
  await new Promise((r) => server.close(r));
  return port;
}

async function readyz(port: number): Promise<string> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`);
    return `${r.status} ${await r.text()}`;
  } catch (e) {
    return `unreachable: ${(e as Error).message}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dist/target/main.js exits', { concurrency: true }, () => {
  test('on a configuration error: exit 2, the reason as the termination message', async (t) => {
    const run = start(tempDir(t), ['--memory', '1.5G']);
    assert.equal(await run.exited, 2, run.output());
    assert.match(readFileSync(run.messagePath, 'utf8'), /^invalid configuration: --memory: size "1.5G" is not a number/);
  });

  test('on a file it cannot size (EFBIG): exit 1 naming the nsid, the file, the size and the errno', async (t) => {
    const dir = tempDir(t);
    const probe = join(dir, 'probe');
    const fd = openSync(probe, 'w');
    let code: string | undefined;
    try {
      ftruncateSync(fd, 100 * 2 ** 40);
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    } finally {
      closeSync(fd);
    }
    if (code !== 'EFBIG') return t.skip(`${dir}'s filesystem takes a 100 TiB file`);
    const img = join(dir, 'ns1.img');
    const run = start(dir, ['--namespace', `${img}:100T`, '--listen', `127.0.0.1:${await freePort()}`]);
    assert.equal(await run.exited, 1, run.output());
    assert.equal(readFileSync(run.messagePath, 'utf8'), `nsid 1: cannot size file ${img} to 109951162777600 bytes: EFBIG (file too large)\n`);
  });

  test('on a port another process keeps: exit 1 after the grace, /readyz naming the port meanwhile', async (t) => {
    const dir = tempDir(t);
    const held = await holdPort();
    t.after(() => held.server.close());
    const metrics = await freePort();
    const startedAt = Date.now();
    const run = start(dir, ['--memory', '1M', '--listen', `127.0.0.1:${held.port}`, '--metrics', `127.0.0.1:${metrics}`, '--state', join(dir, 'state.bin')]);
    t.after(() => run.child.kill('SIGKILL'));
    let reason = '';
    while (!reason.includes('waiting for port') && Date.now() - startedAt < 5000) {
      await sleep(100);
      reason = await readyz(metrics);
    }
    assert.match(reason, new RegExp(`^503 .*waiting for port ${held.port} on 127.0.0.1 \\(in use; giving up in \\d+ s`));
    assert.equal(await run.exited, 1, run.output());
    assert.ok(Date.now() - startedAt >= PORT_IN_USE_GRACE_MS, 'not before the grace');
    assert.match(readFileSync(run.messagePath, 'utf8'), new RegExp(`^port ${held.port} on 127.0.0.1 is in use by another process \\(EADDRINUSE\\); this target's NVMe/TCP listener found it in use for 1\\d(\\.\\d)? s`));
  });

  test('not while another process holds the state-file lock: it waits past the grace, then serves', async (t) => {
    const dir = tempDir(t);
    const state = join(dir, 'state.bin');
    const holder = spawn(process.execPath, [LOCK_HOLDER, state], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => holder.kill('SIGKILL'));
    await new Promise<void>((resolve) => holder.stdout!.on('data', (b) => { if (String(b).includes('locked')) resolve(); }));
    const held = await holdPort(); // the old container's listener
    t.after(() => held.server.close());
    const metrics = await freePort();
    const run = start(dir, ['--memory', '1M', '--listen', `127.0.0.1:${held.port}`, '--metrics', `127.0.0.1:${metrics}`, '--state', state]);
    t.after(() => run.child.kill('SIGKILL'));
    await sleep(PORT_IN_USE_GRACE_MS + 2000);
    assert.equal(run.child.exitCode, null, `still waiting: ${run.output()}`);
    assert.match(await readyz(metrics), /^503 not ready: waiting for state-file lock .*state\.bin\.lock \(held by \{"pid":\d+/);
    // The old container goes: its port and its lock.
    await new Promise((r) => held.server.close(r));
    holder.kill('SIGKILL');
    let status = '';
    for (const until = Date.now() + 5000; !status.startsWith('200') && Date.now() < until; await sleep(100)) status = await readyz(metrics);
    assert.match(status, /^200/, run.output());
    assert.equal(existsSync(run.messagePath), false, 'no termination message while serving');
  });
});
