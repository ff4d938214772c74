// A second process on a locked state file waits (saying so) and gets the file when the first one
// dies or exits; it never fails because of the lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStateFile, type OpenStateFileOptions } from './state-file.js';
import type { LockWaitInfo } from './lock.js';
import { BOOT_ID, SMALL_CAPACITY, recordingLog, tempDir, testIdentity, type RecordingLog } from './test-support/fixtures.js';

const HOLDER = fileURLToPath(new URL('./test-support/lock-holder.js', import.meta.url));

async function startHolder(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDER, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => { out += d; if (out.includes('locked\n')) resolve(); });
    child.on('exit', (code) => reject(new Error(`holder exited early with ${code}`)));
  });
  return child;
}

function options(path: string, log: RecordingLog, waits: LockWaitInfo[], extra: Partial<OpenStateFileOptions> = {}): OpenStateFileOptions {
  return {
    path, identity: testIdentity(), durability: 'process', bootId: BOOT_ID, log, capacity: SMALL_CAPACITY, lockPollMs: 20,
    onWaitingForLock: (i) => waits.push(i), ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a second process waits for the lock and gets the file when the holder is killed', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const holder = await startHolder(path);
  t.after(() => holder.kill('SIGKILL'));
  const log = recordingLog();
  const waits: LockWaitInfo[] = [];
  let opened = false;
  const pending = openStateFile(options(path, log, waits)).then((sf) => { opened = true; return sf; });
  await sleep(400);
  assert.equal(opened, false, 'must not open while another process holds the lock');
  assert.equal(waits.length, 1);
  assert.equal(waits[0].lockPath, `${path}.lock`);
  assert.match(waits[0].holder ?? '', new RegExp(`"pid":${holder.pid}`));
  assert.ok(log.lines.some((l) => l.level === 'warn' && /waiting for state-file lock/.test(l.msg)));
  holder.kill('SIGKILL');
  await once(holder, 'exit');
  const sf = await pending;
  assert.equal(sf.outcome, 'restored');
  assert.equal(sf.restored.controllers.length, 1, 'what the holder wrote is there');
  assert.ok(log.lines.some((l) => /lock acquired/.test(l.msg)));
  sf.close();
});

test('a second process gets a clean file when the holder shuts down cleanly', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const holder = await startHolder(path);
  t.after(() => holder.kill('SIGKILL'));
  const waits: LockWaitInfo[] = [];
  const pending = openStateFile(options(path, recordingLog(), waits));
  await sleep(200);
  assert.equal(waits.length, 1);
  holder.stdin!.write('clean\n');
  const [code] = await once(holder, 'exit');
  assert.equal(code, 0);
  const sf = await pending;
  assert.equal(sf.outcome, 'clean');
  sf.close();
});

test('waiting for the lock can be aborted (SIGTERM while waiting) without touching the file', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const holder = await startHolder(path);
  t.after(() => holder.kill('SIGKILL'));
  const ac = new AbortController();
  const waits: LockWaitInfo[] = [];
  const pending = openStateFile(options(path, recordingLog(), waits, { signal: ac.signal }));
  await sleep(100);
  ac.abort(new Error('shutting down'));
  await assert.rejects(pending, /shutting down/);
  assert.equal(waits.length, 1);
});
