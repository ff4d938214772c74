// Prometheus metrics of the target (prom-client). Every series carries the subsystem NQN as `subsystem`.
// Child series are cached per label set so the I/O path does no label hashing.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram, type HistogramSeries } from './fast-histogram.js';
import { IoOpc, adminOpcodeName, ioOpcodeName } from './protocol/opcodes.js';
import type { BackendError, TargetObserver } from './controller/observer.js';
import { AuthCounter } from './auth-metric.js';
import type { Qpair } from './controller/qpair.js';
import type { Request } from './controller/request.js';
import type { Controller } from './controller/controller.js';

interface ByteSeries {
  labels: { subsystem: string; direction: string };
  value: number;
  reported: number;
}

interface SubsystemSeries {
  ops: IoSeries[];
  read: ByteSeries;
  write: ByteSeries;
}

/** Per subsystem and opcode: plain numbers on the I/O path, handed to prom-client when scraped. */
interface IoSeries {
  labels: { subsystem: string; opcode: string };
  count: number;
  reported: number;
  duration: HistogramSeries;
}

export class TargetMetrics implements TargetObserver {
  readonly registry = new Registry();
  private readonly ioBytes: Counter<string>;
  private readonly ioDuration: FastHistogram;
  private readonly connections: Gauge<string>;
  private readonly qpairs: Gauge<string>;
  private readonly protocolErrors: Counter<string>;
  private readonly backendErrors: Counter<string>;
  private readonly adminCommands: Counter<string>;
  /** nvmeof_target_auth_total{method,result}, shared with TLS (auth-metric.ts). */
  private readonly auth: AuthCounter;
  private readonly io = new Map<string, IoSeries>();
  /** Hot-path lookup by subsystem NQN. */
  private readonly bySub = new Map<string, SubsystemSeries>();
  private readonly bytes: ByteSeries[] = [];

  constructor(subsystems: string[]) {
    // prom-client's own names start with process_ or nodejs_: nvmeof_target_process_cpu_seconds_total,
    // nvmeof_target_nodejs_version_info (formerly the prefix was nvmeof_target_process_, doubling it).
    collectDefaultMetrics({ register: this.registry, prefix: 'nvmeof_target_' });
    const registers = [this.registry];
    // The I/O counters are brought up to date when scraped (collect), not per I/O.
    const self = this;
    new Counter({
      name: 'nvmeof_target_io_total', help: 'I/O commands completed, by opcode', labelNames: ['subsystem', 'opcode'], registers,
      collect() {
        for (const s of self.io.values()) {
          if (s.count > s.reported) this.inc(s.labels, s.count - s.reported);
          s.reported = s.count;
        }
      },
    });
    this.ioBytes = new Counter({
      name: 'nvmeof_target_io_bytes_total', help: 'Bytes moved by I/O commands', labelNames: ['subsystem', 'direction'], registers,
      collect() {
        for (const b of self.bytes) {
          if (b.value > b.reported) this.inc(b.labels, b.value - b.reported);
          b.reported = b.value;
        }
      },
    });
    this.ioDuration = new FastHistogram(
      'nvmeof_target_io_duration_seconds', 'I/O command time from capsule to completion',
      [10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 1], this.registry,
    );
    this.connections = new Gauge({ name: 'nvmeof_target_connections', help: 'TCP connections bound to a queue of the subsystem', labelNames: ['subsystem'], registers });
    this.qpairs = new Gauge({ name: 'nvmeof_target_qpairs', help: 'Connected queue pairs', labelNames: ['subsystem', 'type'], registers });
    this.auth = new AuthCounter(this.registry);
    this.protocolErrors = new Counter({ name: 'nvmeof_target_protocol_errors_total', help: 'Connections ended by an NVMe/TCP protocol error', labelNames: ['subsystem', 'kind'], registers });
    this.backendErrors = new Counter({
      name: 'nvmeof_target_backend_errors_total', help: 'Reads, writes, flushes and zeroings a namespace backend failed, by I/O opcode',
      labelNames: ['subsystem', 'nsid', 'op'], registers,
    });
    // Admin queue commands are few (initialisation, Keep Alive every few seconds, AERs): counted as they come.
    this.adminCommands = new Counter({
      name: 'nvmeof_target_admin_commands_total', help: 'Admin queue commands completed (discovery controllers included), by opcode or Fabrics command type',
      labelNames: ['subsystem', 'opcode'], registers,
    });
    for (const s of subsystems) {
      this.connections.set({ subsystem: s }, 0);
      this.qpairs.set({ subsystem: s, type: 'admin' }, 0);
      this.qpairs.set({ subsystem: s, type: 'io' }, 0);
      this.series(s);
      this.ioBytes.inc({ subsystem: s, direction: 'read' }, 0);
      this.ioBytes.inc({ subsystem: s, direction: 'write' }, 0);
    }
  }

  connectionOpened(): void {}
  connectionClosed(): void {}

  queueConnected(q: Qpair): void {
    const s = q.ctrl.subsys.nqn;
    this.connections.inc({ subsystem: s });
    this.qpairs.inc({ subsystem: s, type: q.qid === 0 ? 'admin' : 'io' });
  }

  queueDisconnected(q: Qpair): void {
    const s = q.ctrl.subsys.nqn;
    this.connections.dec({ subsystem: s });
    this.qpairs.dec({ subsystem: s, type: q.qid === 0 ? 'admin' : 'io' });
  }

  controllerRemoved(_ctrl: Controller, _reason: string): void {}

  private series(nqn: string): SubsystemSeries {
    let s = this.bySub.get(nqn);
    if (!s) {
      const bytes = (direction: string): ByteSeries => ({ labels: { subsystem: nqn, direction }, value: 0, reported: 0 });
      s = { ops: [], read: bytes('read'), write: bytes('write') };
      this.bytes.push(s.read, s.write);
      this.bySub.set(nqn, s);
    }
    return s;
  }

  commandCompleted(q: Qpair | undefined, req: Request, seconds: number): void {
    if (!q) return;
    if (q.qid === 0) {
      this.adminCommands.inc({ subsystem: q.ctrl.subsys.nqn, opcode: adminOpcodeName(req.opcode, req.fctype) });
      return;
    }
    const nqn = q.ctrl.subsys.nqn;
    const sub = this.bySub.get(nqn) ?? this.series(nqn);
    let op = sub.ops[req.opcode];
    if (!op) {
      const labels = { subsystem: nqn, opcode: ioOpcodeName(req.opcode) };
      op = { labels, count: 0, reported: 0, duration: this.ioDuration.child(labels) };
      sub.ops[req.opcode] = op;
      this.io.set(`${nqn}\0${req.opcode}`, op);
    }
    op.count++;
    op.duration.observe(seconds);
    if (req.status === 0) {
      if (req.opcode === IoOpc.Read) sub.read.value += req.transferLen;
      else if (req.opcode === IoOpc.Write) sub.write.value += req.transferLen;
    }
  }

  protocolError(subnqn: string | undefined, kind: string): void {
    this.protocolErrors.inc({ subsystem: subnqn ?? '', kind });
  }

  authFinished(method: 'dhchap', result: 'success' | 'failure'): void {
    this.auth.count(method, result);
  }

  backendError(e: BackendError): void {
    this.backendErrors.inc({ subsystem: e.subnqn, nsid: String(e.nsid), op: ioOpcodeName(e.opcode) });
  }
}
