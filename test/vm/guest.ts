// Runs a shell script in a qemu guest booted with Debian's Linux kernel, whose NVMe/TCP host is
// the real counterpart of our target. The guest reaches the host's 127.0.0.1 as 10.0.2.2.
// Two guests (GUEST_KERNELS): bookworm's kernel 6.1 with nvme-cli 2.3, and trixie's kernel 6.12 with
// nvme-cli 2.13 (libnvme 1.13), keyctl and tlshd; a run picks one with `kernel` (default 6.1).
//
// test/vm/prepare.sh builds and caches the kernel and the initramfs layers; init.sh is the
// guest's /init; guest-helpers.sh holds the shell functions scripts can use. Each run gets its
// own initrd in a temp folder: the cached layers plus a small cpio archive holding /test.sh
// (GUEST_HELPERS + the script). Nothing of a run outlives it: the
// temp folder is removed as soon as qemu has loaded it, and qemu is killed by PID on timeout or
// abort (and by the kernel, via setpriv's parent-death signal, if this process dies first).
import { spawn, execFileSync } from 'node:child_process';
import { accessSync, constants, createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { appendFile, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { cpioArchive } from './cpio.js';

/** The guests' kernels: Debian bookworm's and Debian trixie's (test/vm/prepare.sh builds both). */
export const GUEST_KERNELS = ['6.1', '6.12'] as const;
export type GuestKernel = (typeof GUEST_KERNELS)[number];
export const DEFAULT_GUEST_KERNEL: GuestKernel = '6.1';

export interface GuestOptions {
  /** Which guest: its kernel and the userland built with it. Default DEFAULT_GUEST_KERNEL. */
  kernel?: GuestKernel;
  /** Shell script (busybox ash) run as /test.sh after boot; its exit status is the result. */
  script: string;
  /** Whole run, boot included; qemu is killed after it. A boot takes 2.5-4.5 s here (TCG). */
  timeoutMs: number;
  memoryMiB?: number; // default 1024
  cpus?: number; // default 1: boots faster, and leaves the host's cores to the target under test
  /** Add the fio layer (80 MB, ~0.8 s more boot). Default: whether the script mentions fio. */
  fio?: boolean;
  /** Each line of the serial console (and of qemu's stderr, prefixed "qemu: "), as it comes. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  /** Extra kernel command line words and qemu arguments. */
  kernelArgs?: string[];
  qemuArgs?: string[];
}

export interface GuestResult {
  /** The script's exit status from the GUEST-EXIT= line; null if the guest never printed one. */
  exitCode: number | null;
  /** The whole console output, lines joined with "\n", without "\r" and terminal escapes. */
  output: string;
  timedOut: boolean;
  aborted: boolean;
  /** Kernel log lines logged while the script ran (init.sh prints them after it). */
  dmesg: string;
  /** Milliseconds from starting qemu until the guest was ready to run the script. */
  bootMs: number | null;
  durationMs: number;
}

interface VmImage {
  kernel: string;
  base: string;
  fio: string;
}

const DEFAULT_KERNEL_ARGS = [
  'console=ttyS0',
  'panic=-1', // a dead init reboots at once, which -no-reboot turns into qemu exiting
  'quiet', // the console only shows warnings and worse; every ~15 KB of serial output costs 1 s
  'edd=off',
  'cryptomgr.notests', // the crypto self-tests take ~0.3 s in TCG
  'mitigations=off',
  'no_timer_check',
  'tsc=reliable',
  '8250.nr_uarts=1',
];
const QBOOT = '/usr/share/qemu/qboot.rom'; // boots ~1 s faster than SeaBIOS

function repoRoot(): string {
  // This file runs from dist/test/vm/ (compiled) or test/vm/ (sources).
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'test', 'vm', 'prepare.sh'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find test/vm/prepare.sh above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The cached image of `kernel`'s guest the current sources need, or what is missing. */
function findImage(kernel: GuestKernel): { image?: VmImage; missing?: string } {
  const prepare = join(repoRoot(), 'test', 'vm', 'prepare.sh');
  const fix = `run \`bash ${prepare}\` (npm test runs it), which installs the Debian packages and builds the images`;
  if (!onPath('qemu-system-x86_64')) return { missing: `qemu-system-x86_64 (Debian package qemu-system-x86): ${fix}` };
  let dir: string;
  try {
    // prepare.sh is the one place that knows the cache key; --print-dir builds nothing (~30 ms).
    dir = execFileSync('bash', [prepare, '--kernel', kernel, '--print-dir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return { missing: `the VM image's cache key (${(e as Error).message.trim()}): ${fix}` };
  }
  if (!existsSync(join(dir, 'ready'))) return { missing: `the ${kernel} VM image in ${dir}: ${fix}` };
  return { image: { kernel: join(dir, 'vmlinux'), base: join(dir, 'base.cpio'), fio: join(dir, 'fio.cpio') } };
}

/** Shell functions every script can call (test/vm/guest-helpers.sh): nvme_dev, nvme_wait_dev,
 * nvme_ctrls, guest_dmesg, nvmet_start, die. */
export const GUEST_HELPERS = readFileSync(join(repoRoot(), 'test', 'vm', 'guest-helpers.sh'), 'utf8');

const images = new Map<GuestKernel, { image?: VmImage; missing?: string }>();

function image(kernel: GuestKernel): { image?: VmImage; missing?: string } {
  let found = images.get(kernel);
  if (!found) images.set(kernel, (found = findImage(kernel)));
  return found;
}

/**
 * Whether the VM of `kernel` can run. A test on the VM must FAIL, not skip, when it cannot:
 * `const vm = vmAvailable(kernel); assert.ok(vm.ok, vm.missing);`
 */
export function vmAvailable(kernel: GuestKernel = DEFAULT_GUEST_KERNEL): { ok: boolean; missing?: string } {
  const found = image(kernel);
  return found.image ? { ok: true } : { ok: false, missing: `missing for the Linux ${kernel} kernel host VM: ${found.missing}` };
}

/** Texts between GUEST-DMESG-BEGIN and GUEST-DMESG-END lines of an output, in order. */
export function dmesgBlocks(output: string): string[] {
  const blocks: string[] = [];
  let cur: string[] | null = null;
  for (const line of output.split('\n')) {
    if (line.endsWith('GUEST-DMESG-BEGIN')) cur = [];
    else if (line.endsWith('GUEST-DMESG-END') && cur) {
      blocks.push(cur.join('\n'));
      cur = null;
    } else cur?.push(line);
  }
  return blocks;
}

async function buildInitrd(image: VmImage, withFio: boolean, script: string, path: string): Promise<void> {
  await copyFile(image.base, path);
  if (withFio) await pipeline(createReadStream(image.fio), createWriteStream(path, { flags: 'a' }));
  const test = `${GUEST_HELPERS}\n# ---- the test script ----\n${script}\n`;
  await appendFile(path, cpioArchive([{ name: 'test.sh', data: test, mode: 0o755 }]));
}

// Terminal control sequences the firmware prints (clear screen, line wrap off).
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b(\[[0-9;?]*[A-Za-z]|c)/g;

export async function runGuest(opts: GuestOptions): Promise<GuestResult> {
  const kernel = opts.kernel ?? DEFAULT_GUEST_KERNEL;
  const avail = vmAvailable(kernel);
  const vm = image(kernel).image;
  if (!avail.ok || !vm) throw new Error(avail.missing);
  opts.signal?.throwIfAborted();

  const started = Date.now();
  const tmp = await mkdtemp(join(tmpdir(), 'nvmeof-guest-'));
  try {
    const initrd = join(tmp, 'initrd.cpio');
    await buildInitrd(vm, opts.fio ?? /\bfio\b/.test(opts.script), opts.script, initrd);
    const qemu = [
      'qemu-system-x86_64',
      ...['-accel', 'tcg', '-cpu', 'max'], // KVM does not work on these machines
      ...['-m', String(opts.memoryMiB ?? 1024), '-smp', String(opts.cpus ?? 1)],
      ...['-nographic', '-nodefaults', '-no-reboot', '-serial', 'stdio'],
      ...(existsSync(QBOOT) ? ['-bios', QBOOT] : []),
      ...['-kernel', vm.kernel, '-initrd', initrd],
      ...['-append', [...DEFAULT_KERNEL_ARGS, ...(opts.kernelArgs ?? [])].join(' ')],
      ...['-netdev', 'user,id=net0', '-device', 'virtio-net-pci,netdev=net0,romfile='],
      ...(opts.qemuArgs ?? []),
    ];
    // setpriv execs qemu (same PID) with SIGKILL as its parent-death signal: no orphaned guests.
    const argv = onPath('setpriv') ? ['setpriv', '--pdeathsig', 'KILL', ...qemu] : qemu;
    return await new Promise<GuestResult>((resolve, reject) => {
      const lines: string[] = [];
      let exitCode: number | null = null;
      let bootMs: number | null = null;
      let timedOut = false;
      let aborted = false;

      const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      const kill = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, opts.timeoutMs);
      const onAbort = () => {
        aborted = true;
        kill();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      const addLine = (line: string) => {
        lines.push(line);
        const exit = /GUEST-EXIT=(\d+)/.exec(line);
        if (exit) exitCode = Number(exit[1]);
        if (bootMs === null && line.includes('GUEST-READY')) bootMs = Date.now() - started;
        opts.onLine?.(line);
      };
      const splitLines = (stream: NodeJS.ReadableStream, prefix: string) => {
        let rest = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          const parts = (rest + chunk).replace(ESCAPES, '').split('\n');
          rest = parts.pop() ?? '';
          for (const p of parts) addLine(prefix + p.replace(/\r/g, ''));
        });
        stream.on('end', () => {
          if (rest) addLine(prefix + rest.replace(/\r/g, ''));
        });
      };
      splitLines(child.stdout, '');
      splitLines(child.stderr, 'qemu: ');
      // qemu reads the whole initrd into memory while setting the machine up, before the guest
      // prints anything: drop the copy then, so that even a killed test process leaves no 100 MB
      // file behind (the finally below covers the other paths).
      child.stdout.once('data', () => void rm(tmp, { recursive: true, force: true }));

      const finish = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      child.on('error', (err) => {
        finish();
        reject(err);
      });
      // 'close' comes after both pipes ended, so every line has been seen.
      child.on('close', () => {
        finish();
        const output = lines.join('\n');
        const blocks = dmesgBlocks(output);
        resolve({
          exitCode,
          output,
          timedOut,
          aborted,
          dmesg: blocks.length ? blocks[blocks.length - 1] : '',
          bootMs,
          durationMs: Date.now() - started,
        });
      });
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
