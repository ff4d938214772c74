// Keeps the logs of target pods that are deleted: the kubelet removes a pod's log folder
// (<podLogsDir>/<namespace>_<pod>_<uid>/<container>/<n>.log) with the pod, and `kubectl logs -f`
// would break with every kube-apiserver restart. Each tracked pod's files are read from the node
// (this machine) every 200 ms and appended to <outDir>/<pod>.log, and each restart's file (n.log) to
// <outDir>/<pod>.<n>.log; they stay after the run.
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Tracked {
  name: string;
  dir: string;
  offsets: Map<string, number>;
  seen: boolean;
  gone: boolean;
}

export class PodLogCollector {
  private readonly pods = new Map<string, Tracked>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly podLogsDir: string,
    readonly outDir: string,
    private readonly namespace: string,
    private readonly container: string,
  ) {
    mkdirSync(outDir, { recursive: true });
  }

  track(name: string, uid: string): void {
    if (this.pods.has(name)) return;
    this.pods.set(name, { name, dir: join(this.podLogsDir, `${this.namespace}_${name}_${uid}`, this.container), offsets: new Map(), seen: false, gone: false });
    this.poll();
  }

  start(): void {
    this.timer ??= setInterval(() => this.poll(), 200);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.poll();
  }

  /** What was collected of a pod's log so far (read from the node first); of one restart of its container if given. */
  text(name: string, restart?: number): string {
    this.poll();
    try {
      return readFileSync(join(this.outDir, restart === undefined ? `${name}.log` : `${name}.${restart}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  private poll(): void {
    for (const p of this.pods.values()) {
      if (p.gone) continue;
      let files: string[];
      try {
        files = readdirSync(p.dir).filter((f) => f.endsWith('.log')).sort();
        p.seen = true;
      } catch {
        if (p.seen) p.gone = true;
        continue;
      }
      for (const f of files) {
        const path = join(p.dir, f);
        try {
          const size = statSync(path).size;
          const from = p.offsets.get(f) ?? 0;
          if (size <= from) continue;
          const buf = Buffer.alloc(size - from);
          const fd = openSync(path, 'r');
          try {
            readSync(fd, buf, 0, buf.length, from);
          } finally {
            closeSync(fd);
          }
          p.offsets.set(f, size);
          appendFileSync(join(this.outDir, `${p.name}.log`), buf);
          // The kubelet names a container's log by its restart count: one file per target the pod ran.
          appendFileSync(join(this.outDir, `${p.name}.${f}`), buf);
        } catch {
          /* removed meanwhile */
        }
      }
    }
  }
}
