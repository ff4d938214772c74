// Watches, from this machine, which target container holds a subsystem's state-file lock and which
// ones have the state file mapped, every few tens of milliseconds, for the whole chaos run.
//
// The target takes flock(2) on "<state file>.lock" before it opens "<state file>" (target/README.md,
// "State file"); the kernel lists every flock in /proc/locks with the holder's PID (as this, the
// host's, PID namespace sees it) and the lock file's inode. The target processes of the cluster are
// found in its cgroups (…/pod<uid>/<container id>/cgroup.procs) by their command line; their
// mappings of the state file are in /proc/<pid>/maps, by inode. Rules checked at every sample, each
// one a violation if broken:
//   - at most one target container holds a flock on the lock file (two would mean two lock files,
//     or no exclusion at all);
//   - a target holds no flock on any other inode (a replaced lock file would let two processes
//     "hold" the lock at once, each on its own inode);
//   - a container that has the state file mapped holds the lock, or held it earlier and has let it
//     go (a target shutting down keeps its mapping until it exits: the mapping goes when collected);
//     a container mapping it without ever having held the lock is writing unprotected;
//   - the state file mapped is the state file (the same inode throughout: nothing set it aside).
// It also records each container's first and last sample holding the lock, so the caller can check
// that each target death was followed by exactly one new holder.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ContainerRecord {
  id: string;
  podUid: string;
  pids: Set<number>;
  firstSeen: number;
  lastSeen: number;
  /** first and last sample at which it held the lock (undefined: never seen holding it) */
  lockFrom?: number;
  lockTo?: number;
  /** first sample at which it had the state file mapped */
  mappedFrom?: number;
}

export interface Violation {
  at: number;
  what: string;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

interface LockLine {
  pid: number;
  ino: number;
}

function readLocks(): LockLine[] {
  const out: LockLine[] = [];
  // "1: FLOCK  ADVISORY  WRITE 19634 fe:00:9995144 0 EOF" (blocked waiters have "->" after the number)
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== 'FLOCK') continue;
    const off = f[2] === '->' ? 1 : 0;
    if (f[2 + off] === '->') continue;
    const pid = Number(f[4 + off]);
    const ino = Number(f[5 + off]?.split(':')[2]);
    if (pid > 0 && ino > 0) out.push({ pid, ino });
  }
  return out;
}

export class LockWatch {
  readonly containers = new Map<string, ContainerRecord>();
  readonly violations: Violation[] = [];
  samples = 0;
  /** the longest time between two samples (ms): what an overlap could hide in */
  maxGapMs = 0;
  private timer?: NodeJS.Timeout;
  private cgroupDir?: string;
  /** PIDs seen running a target. Only positives are kept: a container's first process is "runc init"
   * until it execs the entrypoint, so a PID once seen as something else may become a target later
   * (a cached "no" hid a whole target's life from the watch). A target never execs into anything else;
   * a PID leaves this set as soon as it leaves the cgroups, so a reused PID is looked at anew. */
  private readonly knownTargets = new Set<number>();
  private readonly stateIno: number;
  private readonly lockIno: number;
  private lastSample = 0;
  private lastViolation = new Map<string, number>();

  constructor(
    private readonly o: {
      /** the cluster's cgroup name (nvmeof-<cluster name>) */
      cgroupName: string;
      /** the state file on this machine (<hostPathRoot>/<namespace>/<name>/state.bin) */
      statePath: string;
      intervalMs?: number;
    },
  ) {
    this.stateIno = statSync(o.statePath).ino;
    this.lockIno = statSync(`${o.statePath}.lock`).ino;
    for (const h of ['pids', 'memory', 'cpu', 'unified', 'systemd']) {
      const d = join(CGROUP_ROOT, h, o.cgroupName);
      try {
        if (statSync(d).isDirectory()) {
          this.cgroupDir = d;
          break;
        }
      } catch {
        /* not this hierarchy */
      }
    }
    if (!this.cgroupDir) throw new Error(`no cgroup ${o.cgroupName} under ${CGROUP_ROOT}: is the cluster running?`);
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.o.intervalMs ?? 40);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  /** The state file's and the lock file's inodes, now and at the start. */
  inodes(): { state: [number, number]; lock: [number, number] } {
    return {
      state: [this.stateIno, statSync(this.o.statePath).ino],
      lock: [this.lockIno, statSync(`${this.o.statePath}.lock`).ino],
    };
  }

  /** Containers that held the lock, in the order they first did. */
  holders(): ContainerRecord[] {
    return [...this.containers.values()].filter((c) => c.lockFrom !== undefined).sort((a, b) => a.lockFrom! - b.lockFrom!);
  }

  private violate(key: string, at: number, what: string): void {
    // One line per rule and container per second is enough to tell what happened.
    const last = this.lastViolation.get(key) ?? -Infinity;
    if (at - last < 1000) return;
    this.lastViolation.set(key, at);
    this.violations.push({ at, what });
  }

  /** Target processes in the cluster's cgroups: pid -> [container id, pod uid]. */
  private targets(): Map<number, [string, string]> {
    const out = new Map<number, [string, string]>();
    const seen = new Set<number>();
    const visit = (dir: string, podUid: string) => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      const base = dir.slice(dir.lastIndexOf('/') + 1);
      if (/^[0-9a-f]{64}$/.test(base) && podUid) {
        let procs: string[] = [];
        try {
          procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n');
        } catch {
          /* gone */
        }
        for (const p of procs) {
          const pid = Number(p);
          if (!pid) continue;
          seen.add(pid);
          if (!this.knownTargets.has(pid)) {
            try {
              if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/target/main.js')) continue;
            } catch {
              continue;
            }
            this.knownTargets.add(pid);
          }
          out.set(pid, [base, podUid]);
        }
        return;
      }
      for (const n of names) {
        if (n.startsWith('pod') && /^pod[0-9a-f-]{36}$/.test(n)) visit(join(dir, n), n.slice(3));
        else if (n === 'kubepods' || n === 'besteffort' || n === 'burstable' || n === 'guaranteed' || /^[0-9a-f]{64}$/.test(n)) visit(join(dir, n), podUid);
      }
    };
    visit(this.cgroupDir!, '');
    for (const pid of this.knownTargets) if (!seen.has(pid)) this.knownTargets.delete(pid);
    return out;
  }

  private mapsState(pid: number): 'state' | 'other' | false {
    let maps: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      return false;
    }
    let found: 'state' | 'other' | false = false;
    for (const line of maps.split('\n')) {
      if (!line.endsWith('/state.bin') && !line.includes('/state.bin ')) continue;
      // "7f..-7f.. rw-s 00000000 fe:00 1234567    /var/lib/nvmeof/state.bin"
      const ino = Number(line.split(/\s+/)[4]);
      if (ino === this.stateIno) return 'state';
      found = 'other';
    }
    return found;
  }

  sample(): void {
    const now = Date.now();
    if (this.lastSample) this.maxGapMs = Math.max(this.maxGapMs, now - this.lastSample);
    this.lastSample = now;
    this.samples++;
    let pids: Map<number, [string, string]>;
    let locks: LockLine[];
    try {
      pids = this.targets();
      locks = readLocks();
    } catch (e) {
      this.violate('read', now, `could not sample: ${(e as Error).message}`);
      return;
    }
    const perContainer = new Map<string, { holds: boolean; mapped: boolean }>();
    for (const [pid, [id, podUid]] of pids) {
      let c = this.containers.get(id);
      if (!c) {
        c = { id, podUid, pids: new Set(), firstSeen: now, lastSeen: now };
        this.containers.set(id, c);
      }
      c.pids.add(pid);
      c.lastSeen = now;
      const st = perContainer.get(id) ?? { holds: false, mapped: false };
      for (const l of locks) {
        if (l.pid !== pid) continue;
        if (l.ino === this.lockIno) st.holds = true;
        else this.violate(`other-lock:${id}`, now, `target pid ${pid} (container ${id.slice(0, 12)}) holds a flock on inode ${l.ino}, not on the lock file (inode ${this.lockIno})`);
      }
      const m = this.mapsState(pid);
      if (m === 'state') st.mapped = true;
      if (m === 'other') this.violate(`other-state:${id}`, now, `target pid ${pid} (container ${id.slice(0, 12)}) maps a state.bin that is not the state file (inode ${this.stateIno})`);
      perContainer.set(id, st);
    }
    const holding = [...perContainer].filter(([, s]) => s.holds).map(([id]) => id);
    if (holding.length > 1) this.violate('two-holders', now, `${holding.length} target containers hold the state-file lock at once: ${holding.map((h) => h.slice(0, 12)).join(', ')}`);
    for (const [id, s] of perContainer) {
      const c = this.containers.get(id)!;
      if (s.holds) {
        c.lockFrom ??= now;
        c.lockTo = now;
      }
      if (s.mapped) {
        c.mappedFrom ??= now;
        if (!s.holds && c.lockFrom === undefined) {
          this.violate(`unlocked-map:${id}`, now, `target container ${id.slice(0, 12)} (pod ${c.podUid}) has the state file mapped without ever holding its lock`);
        }
        if (!s.holds && holding.length === 1 && c.lockFrom !== undefined) {
          // An old target shutting down (it let the lock go and still has its mapping until it exits):
          // allowed only if it held the lock before the current holder got it.
          const h = this.containers.get(holding[0])!;
          if (h.lockFrom! < c.lockFrom) {
            this.violate(`back:${id}`, now, `target container ${id.slice(0, 12)} has the state file mapped after ${h.id.slice(0, 12)}, which got the lock before it, holds it`);
          }
        }
      }
    }
  }
}
