// The protocol-error check (protocol-errors.ts) for targets that run in pods of a test cluster: every
// target container's log under the kubelet's pod log folder (<podLogsDir>/<namespace>_<pod>_<uid>/target/
// <restart>.log) is read as it grows, every 500 ms, so the lines of pods a test deletes are seen before
// the kubelet removes their folder with the pod. Lines are in the CRI log format
// ("<time> stdout|stderr F|P <text>"); a target's log line is one JSON object, far below the 16 KiB at
// which the runtime splits a line into P parts, so P parts are joined and then read as one line.
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ProtocolErrorWatch } from './protocol-errors.js';

const CONTAINER = 'target';
const CRI_LINE = /^\S+ (?:stdout|stderr) ([FP]) (.*)$/;

interface FileState {
  offset: number;
  /** bytes after the last newline: a line the runtime has not finished writing */
  rest: string;
  /** P parts of a line whose F part has not come yet */
  parts: string;
}

export class PodProtocolErrorWatch {
  private readonly files = new Map<string, FileState>();
  private readonly watch: ProtocolErrorWatch;
  private timer?: NodeJS.Timeout;

  constructor(private readonly podLogsDir: string, expected: readonly RegExp[] = []) {
    this.watch = new ProtocolErrorWatch(expected, 'a target pod');
  }

  start(): this {
    this.poll();
    this.timer ??= setInterval(() => this.poll(), 500);
    this.timer.unref();
    return this;
  }

  /** Reads what is left, stops, and throws quoting the protocol errors no expected pattern allows. */
  check(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.poll();
    this.watch.check();
  }

  /** How many container log files (one per container start) were read. */
  get filesRead(): number {
    return [...this.files.values()].filter((f) => f.offset > 0).length;
  }

  /** The protocol-error lines seen so far (each prefixed with its pod folder). */
  get lines(): readonly string[] {
    return this.watch.lines;
  }

  private poll(): void {
    let pods: string[];
    try {
      pods = readdirSync(this.podLogsDir);
    } catch {
      return; // no pod has started yet
    }
    for (const pod of pods) {
      const dir = join(this.podLogsDir, pod, CONTAINER);
      let names: string[];
      try {
        names = readdirSync(dir).filter((f) => f.endsWith('.log'));
      } catch {
        continue; // not a target pod, or removed meanwhile
      }
      for (const name of names) this.read(pod, join(dir, name));
    }
  }

  private read(pod: string, path: string): void {
    const st = this.files.get(path) ?? { offset: 0, rest: '', parts: '' };
    this.files.set(path, st);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return;
    }
    if (size <= st.offset) return;
    const buf = Buffer.alloc(size - st.offset);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      readSync(fd, buf, 0, buf.length, st.offset);
    } finally {
      closeSync(fd);
    }
    st.offset = size;
    const text = st.rest + buf.toString('utf8');
    const lines = text.split('\n');
    st.rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = CRI_LINE.exec(line);
      if (!m) continue;
      if (m[1] === 'P') {
        st.parts += m[2];
        continue;
      }
      const whole = st.parts + m[2];
      st.parts = '';
      const before = this.watch.lines.length;
      this.watch.onLine(whole);
      if (this.watch.lines.length > before) this.watch.lines[before] = `${pod}: ${whole}`;
    }
  }
}
