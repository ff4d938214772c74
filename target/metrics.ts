// Prometheus metrics of the target (prom-client). Every series carries the subsystem NQN as `subsystem`.
// Child series are cached per label set so the I/O path does no label hashing.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { IoOpc } from './protocol/opcodes.js';
import type { TargetObserver } from './controller/observer.js';
import type { Qpair } from './controller/qpair.js';
import type { Request } from './controller/request.js';
import type { Controller } from './controller/controller.js';

const OPCODE_NAMES: Record<number, string> = {
  [IoOpc.Flush]: 'flush',
  [IoOpc.Write]: 'write',
  [IoOpc.Read]: 'read',
  [IoOpc.WriteZeroes]: 'write_zeroes',
  [IoOpc.DatasetManagement]: 'dataset_management',
  [IoOpc.ReservationRegister]: 'reservation_register',
  [IoOpc.ReservationReport]: 'reservation_report',
  [IoOpc.ReservationAcquire]: 'reservation_acquire',
  [IoOpc.ReservationRelease]: 'reservation_release',
};

function opcodeName(opc: number): string {
  return OPCODE_NAMES[opc] ?? `0x${opc.toString(16).padStart(2, '0')}`;
}

interface IoSeries {
  count: Counter.Internal;
  duration: Histogram.Internal<string>;
}

export class TargetMetrics implements TargetObserver {
  readonly registry = new Registry();
  private readonly ioTotal: Counter<string>;
  private readonly ioBytes: Counter<string>;
  private readonly ioDuration: Histogram<string>;
  private readonly connections: Gauge<string>;
  private readonly qpairs: Gauge<string>;
  private readonly protocolErrors: Counter<string>;
  private readonly io = new Map<string, IoSeries>();
  private readonly bytes = new Map<string, Counter.Internal>();

  constructor(subsystems: string[]) {
    collectDefaultMetrics({ register: this.registry, prefix: 'nvmeof_target_process_' });
    const registers = [this.registry];
    this.ioTotal = new Counter({ name: 'nvmeof_target_io_total', help: 'I/O commands completed, by opcode', labelNames: ['subsystem', 'opcode'], registers });
    this.ioBytes = new Counter({ name: 'nvmeof_target_io_bytes_total', help: 'Bytes moved by I/O commands', labelNames: ['subsystem', 'direction'], registers });
    this.ioDuration = new Histogram({
      name: 'nvmeof_target_io_duration_seconds', help: 'I/O command time from capsule to completion', labelNames: ['subsystem', 'opcode'], registers,
      buckets: [10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 1],
    });
    this.connections = new Gauge({ name: 'nvmeof_target_connections', help: 'TCP connections bound to a queue of the subsystem', labelNames: ['subsystem'], registers });
    this.qpairs = new Gauge({ name: 'nvmeof_target_qpairs', help: 'Connected queue pairs', labelNames: ['subsystem', 'type'], registers });
    this.protocolErrors = new Counter({ name: 'nvmeof_target_protocol_errors_total', help: 'Connections ended by an NVMe/TCP protocol error', labelNames: ['subsystem', 'kind'], registers });
    for (const s of subsystems) {
      this.connections.set({ subsystem: s }, 0);
      this.qpairs.set({ subsystem: s, type: 'admin' }, 0);
      this.qpairs.set({ subsystem: s, type: 'io' }, 0);
      for (const d of ['read', 'write']) this.ioBytes.inc({ subsystem: s, direction: d }, 0);
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

  commandCompleted(q: Qpair | undefined, req: Request, durationNs: bigint): void {
    if (!q || q.qid === 0) return;
    const s = q.ctrl.subsys.nqn;
    const key = `${s}\0${req.opcode}`;
    let series = this.io.get(key);
    if (!series) {
      const labels = { subsystem: s, opcode: opcodeName(req.opcode) };
      series = { count: this.ioTotal.labels(labels), duration: this.ioDuration.labels(labels) };
      this.io.set(key, series);
    }
    series.count.inc();
    series.duration.observe(Number(durationNs) / 1e9);
    if (req.status === 0 && (req.opcode === IoOpc.Read || req.opcode === IoOpc.Write)) {
      const dir = req.opcode === IoOpc.Read ? 'read' : 'write';
      const bkey = `${s}\0${dir}`;
      let c = this.bytes.get(bkey);
      if (!c) {
        c = this.ioBytes.labels({ subsystem: s, direction: dir });
        this.bytes.set(bkey, c);
      }
      c.inc(req.transferLen);
    }
  }

  protocolError(subnqn: string | undefined, kind: string): void {
    this.protocolErrors.inc({ subsystem: subnqn ?? '', kind });
  }
}
