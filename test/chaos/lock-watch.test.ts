// The chaos run's state-file exclusion check (lock-watch.ts) must be able to fail: real processes, put
// into a cgroup laid out as the cluster's (…/kubepods/pod<uid>/<container id>), take the target's own
// lock (target/state/lock.ts) and map the state file (target/state/mmap.ts) the way a target does, or
// break the rule on purpose. Needs root (it makes cgroups); about 3 s.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LockWatch } from './lock-watch.js';

const distRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CG = `nvmeof-lw${process.pid}`;
const hierarchy = ['pids', 'memory', 'cpu'].find((h) => { try { return statSync(`/sys/fs/cgroup/${h}`).isDirectory(); } catch { return false; } });
const dir = mkdtempSync(join(tmpdir(), 'nvmeof-lockwatch-'));
const statePath = join(dir, 'state.bin');
const children: ChildProcess[] = [];

// A stand-in target process: its command line names dist/target/main.js as a target's does; it waits
// for a line on stdin, then does what it is told: "lock" (the target's lock), "map" (MAP_SHARED of the
// state file), "lockfile <path>" (flock on another file).
const CHILD = `
import { openSync } from 'node:fs';
import { createInterface } from 'node:readline';
const { acquireLock } = await import(${JSON.stringify(join(distRoot, 'target/state/lock.js'))});
const { mapShared } = await import(${JSON.stringify(join(distRoot, 'target/state/mmap.js'))});
const log = { info() {}, warn() {}, error() {}, debug() {} };
const keep = [];
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'lock') keep.push(await acquireLock(arg, { log }));
  if (cmd === 'map') keep.push(mapShared(openSync(arg, 'r+'), 4096));
  if (cmd === 'unlock') keep.shift().release();
  console.log('done ' + cmd);
}
`;

function container(): { id: string; path: string } {
  const id = randomBytes(32).toString('hex');
  const path = join('/sys/fs/cgroup', hierarchy!, CG, 'kubepods', `pod${randomUUID()}`, id);
  mkdirSync(path, { recursive: true });
  return { id, path };
}

// With execLater, the process starts as a shell that is not a target (as a container's first process is
// "runc init" until it execs the entrypoint) and becomes the stand-in target, under the same PID, on
// the first line it is told ("exec").
async function fakeTarget(cgroupPath: string, o: { execLater?: boolean } = {}): Promise<{ p: ChildProcess; say: (line: string) => Promise<void> }> {
  const target = join(distRoot, 'target/main.js');
  const p = o.execLater
    // the shell's own command line must not name the target: what it will exec comes in its environment
    ? spawn('/bin/sh', ['-c', 'read line; echo done exec; exec "$NODE" --input-type=module -e "$CHILD" "$TARGET"'], {
      stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE: process.execPath, CHILD, TARGET: target },
    })
    : spawn(process.execPath, ['--input-type=module', '-e', CHILD, target], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(p);
  writeFileSync(join(cgroupPath, 'cgroup.procs'), String(p.pid));
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const say = async (line: string) => {
    const n = (out.match(/done/g) ?? []).length;
    p.stdin!.write(`${line}\n`);
    const until = Date.now() + 10_000;
    while ((out.match(/done/g) ?? []).length === n) {
      if (Date.now() > until) throw new Error(`the stand-in target did not do "${line}"`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { p, say };
}

const settle = () => new Promise((r) => setTimeout(r, 300));

function removeCgroups(d: string): void {
  try {
    for (const n of readdirSync(d)) if (statSync(join(d, n)).isDirectory()) removeCgroups(join(d, n));
    rmdirSync(d);
  } catch {
    /* gone or busy */
  }
}

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  if (hierarchy) removeCgroups(join('/sys/fs/cgroup', hierarchy, CG));
  rmSync(dir, { recursive: true, force: true });
});

function freshFiles(): void {
  rmSync(statePath, { force: true });
  rmSync(`${statePath}.lock`, { force: true });
  writeFileSync(statePath, Buffer.alloc(4096));
  writeFileSync(`${statePath}.lock`, '');
}

// Fresh files, a watch on them, and a first stand-in target holding the lock with the state file mapped.
async function watchedHolder(): Promise<{ w: LockWatch; a: Awaited<ReturnType<typeof fakeTarget>> }> {
  freshFiles();
  const w = new LockWatch({ cgroupName: CG, statePath, intervalMs: 20 });
  w.start();
  const a = await fakeTarget(container().path);
  await a.say(`lock ${statePath}.lock`);
  await a.say(`map ${statePath}`);
  return { w, a };
}

test('lock watch: a hand-over under the lock passes, and two holders that do not exclude each other fail', { timeout: 60_000 }, async (t) => {
  assert.ok(process.getuid?.() === 0, 'needs root (cgroups)');
  assert.ok(hierarchy, 'no cgroup v1 pids, memory or cpu hierarchy under /sys/fs/cgroup');
  mkdirSync(join('/sys/fs/cgroup', hierarchy, CG, 'kubepods'), { recursive: true });

  await t.test('a target that waits for the lock and maps after the old one is gone: no violation', async () => {
    const { w, a } = await watchedHolder();
    await settle();
    const b = await fakeTarget(container().path);
    const bLocked = b.say(`lock ${statePath}.lock`); // waits: a holds it
    await settle();
    a.p.kill('SIGKILL');
    await bLocked;
    await b.say(`map ${statePath}`);
    await settle();
    w.stop();
    assert.deepEqual(w.violations, []);
    assert.equal(w.holders().length, 2, 'two successive holders');
    b.p.kill('SIGKILL');
    await settle();
  });

  await t.test('a process seen before it execs the target is watched once it has: its lock hand-over is seen', async () => {
    const { w, a } = await watchedHolder();
    const b = await fakeTarget(container().path, { execLater: true });
    await settle(); // sampled while it is still the shell
    await b.say('exec');
    a.p.kill('SIGKILL');
    await b.say(`lock ${statePath}.lock`);
    await b.say(`map ${statePath}`);
    await settle();
    w.stop();
    assert.deepEqual(w.violations, []);
    assert.deepEqual(w.holders().map((h) => h.pids.has(b.p.pid!)), [false, true], 'both holders, the second being the process that exec\'d');
    b.p.kill('SIGKILL');
    await settle();
  });

  await t.test('an old target that let the lock go keeps its mapping until it exits: no violation', async () => {
    const { w, a } = await watchedHolder();
    await a.say('unlock');
    const b = await fakeTarget(container().path);
    await b.say(`lock ${statePath}.lock`);
    await b.say(`map ${statePath}`);
    await settle();
    w.stop();
    assert.deepEqual(w.violations, []);
    a.p.kill('SIGKILL');
    b.p.kill('SIGKILL');
    await settle();
  });

  await t.test('a target that maps the state file without the lock: violation', async () => {
    const { w, a } = await watchedHolder();
    const b = await fakeTarget(container().path);
    await b.say(`map ${statePath}`);
    await settle();
    w.stop();
    assert.ok(w.violations.some((v) => /mapped without ever holding its lock/.test(v.what)), JSON.stringify(w.violations));
    a.p.kill('SIGKILL');
    b.p.kill('SIGKILL');
    await settle();
  });

  await t.test('a lock file replaced under a holder (two flocks on two inodes): violation', async () => {
    const { w, a } = await watchedHolder();
    rmSync(`${statePath}.lock`);
    const b = await fakeTarget(container().path);
    await b.say(`lock ${statePath}.lock`); // a new inode: the flock does not exclude
    await b.say(`map ${statePath}`);
    await settle();
    w.stop();
    assert.ok(w.violations.some((v) => /holds a flock on inode \d+, not on the lock file/.test(v.what)), JSON.stringify(w.violations));
    a.p.kill('SIGKILL');
    b.p.kill('SIGKILL');
    await settle();
  });
});
