// Keeps a process's state-file lock and listening sockets held after the process is gone, for the
// forced-deletion acceptance test: a helper duplicates the open files themselves into its own fd
// table with pidfd_getfd(2) (Linux 5.6+, needs CAP_SYS_PTRACE, which root has here), so the flock(2)
// lock (owned by the open file description) and the bound, listening sockets live on until the helper
// lets go. To the next target this is exactly "the old container still holds them".
//
// The helper is perl (perl-base is Essential on Debian) calling the syscalls by number (x86_64:
// pidfd_open 434, pidfd_getfd 438); it prints HELD and waits for its stdin to close.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const HELPER = String.raw`
use strict;
my ($pid, @fds) = @ARGV;
my $pidfd = syscall(434, $pid + 0, 0);
die "pidfd_open($pid): $!\n" if $pidfd < 0;
my @held;
for my $fd (@fds) {
  my $n = syscall(438, $pidfd, $fd + 0, 0);
  die "pidfd_getfd($pid, $fd): $!\n" if $n < 0;
  push @held, $n;
}
$| = 1;
print "HELD @held\n";
while (<STDIN>) {}
`;

export interface HeldFds {
  /** What was duplicated, e.g. ["fd 21 /var/lib/nvmeof/subsystem/state.bin.lock", "fd 23 listening 0.0.0.0:4420"]. */
  what: string[];
  /** Closes the duplicates (the lock and the ports are free once the original process is gone too). */
  release(): Promise<void>;
}

/** Inodes of the listening TCP sockets in a process's network namespace, with their local ports. */
function listeningInodes(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10 || c[3] !== '0A') continue; // 0A: LISTEN
      out.set(c[9], `port ${parseInt(c[1].split(':')[1], 16)}`);
    }
  }
  return out;
}

/** The fds of pid that are a `*.lock` file or a listening TCP socket. */
export function lockAndListenerFds(pid: number): { fd: number; what: string }[] {
  const listening = listeningInodes(pid);
  const out: { fd: number; what: string }[] = [];
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue;
    }
    const sock = /^socket:\[(\d+)\]$/.exec(link);
    if (sock && listening.has(sock[1])) out.push({ fd: Number(name), what: `fd ${name} listening on ${listening.get(sock[1])}` });
    else if (link.endsWith('.lock')) out.push({ fd: Number(name), what: `fd ${name} ${link}` });
  }
  return out;
}

export async function holdFds(pid: number, fds: { fd: number; what: string }[], timeoutMs = 10_000): Promise<HeldFds> {
  const child: ChildProcess = spawn('perl', ['-e', HELPER, String(pid), ...fds.map((f) => String(f.fd))], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`fd holder: no answer in ${timeoutMs} ms`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`fd holder: ${e.message} (perl is needed: apt-get install perl-base)`)); });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('HELD')) { clearTimeout(timer); resolve(); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`fd holder exited (${code}): ${stderr.trim()}`)); });
  });
  let released = false;
  return {
    what: fds.map((f) => f.what),
    async release() {
      if (released) return;
      released = true;
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
