// What the handler tests share: a subsystem with namespaces, an enabled controller with its admin queue and
// one I/O queue, and requests whose completion (status, result dwords, data) a test awaits. No transport:
// the handlers are called directly.
import { Request } from '../request.js';
import { Qpair, type QueueTransport } from '../qpair.js';
import { Controller, type ControllerEvents } from '../controller.js';
import type { BackendError } from '../observer.js';
import { Subsystem } from '../../subsystem/subsystem.js';
import { Namespace } from '../../subsystem/namespace.js';
import { MemoryBackend } from '../../subsystem/backends/memory.js';
import { deriveNamespaceIds } from '../../subsystem/identity.js';
import type { Backend } from '../../subsystem/backends/backend.js';
import { writeCqe } from '../../protocol/cqe.js';
import { CAPSULE_CQE, CAPSULE_SQE, readCommonHeader, readDataHeader } from '../../protocol/pdu.js';
import { SQE, SQE_SIZE } from '../../protocol/sqe.js';
import { readFileSync } from 'node:fs';

export const NQN = 'nqn.2026-01.io.example:handlers';
export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:4b1a2c3d-0000-4000-8000-000000000001';
export const HOSTID = Buffer.from('4b1a2c3d000040008000000000000001', 'hex');
/** CC as the Linux host enables an I/O controller: EN, IOSQES 6, IOCQES 4. */
export const CC_ENABLE = 0x460001;

export class FakeTransport implements QueueTransport {
  readonly peer = '127.0.0.1:51234';
  readonly localPort = 4420;
  readonly closed: string[] = [];
  constructor(readonly localAddress = '127.0.0.1') {}
  close(reason: string): void {
    this.closed.push(reason);
  }
}

export interface Completion {
  status: number;
  dw0: number;
  dw1: number;
  /** Controller-to-host data, as the transport would send it. */
  data: Buffer | undefined;
  req: Request;
}

/** A request for `sqe` (with host-to-controller `data`, if any) on `q`, and its completion. */
export function request(sqe: Buffer, q: Qpair | undefined, data?: Buffer): { req: Request; done: Promise<Completion> } {
  let resolve!: (c: Completion) => void;
  const done = new Promise<Completion>((r) => (resolve = r));
  const req = new Request(sqe, { complete: (r) => resolve({ status: r.status, dw0: r.dw0, dw1: r.dw1, data: r.data, req: r }) }, q);
  if (data) req.data = data;
  return { req, done };
}

/** The 16 bytes of the CQE a completion becomes, with the transport's SQHD and SQID. */
export function cqeHex(c: Completion, sqhd: number, sqid: number): string {
  const b = Buffer.alloc(16);
  writeCqe(b, 0, c.dw0, c.dw1, sqhd, sqid, c.req.cid, c.status);
  return b.toString('hex');
}

export function memoryNamespace(nsid: number, size = 1 << 20, blockSize: 512 | 4096 = 512, nqn = NQN): Namespace {
  return new Namespace(nsid, blockSize, deriveNamespaceIds(nqn, nsid), new MemoryBackend(size));
}

export function subsystem(namespaces: Namespace[] = [memoryNamespace(1)], hosts?: string[], nqn = NQN): Subsystem {
  const sub = new Subsystem('nvm', nqn, 'a4967e3261c984b71ce7', 'nvmeof-operator', [{ address: '127.0.0.1', port: 4420 }], hosts ? new Set(hosts) : undefined);
  for (const ns of namespaces) sub.addNamespace(ns);
  return sub;
}

export interface Rig {
  sub: Subsystem;
  ctrl: Controller;
  admin: Qpair;
  io: Qpair;
  /** Backend errors the controller reported, and controllers removed. */
  backendErrors: BackendError[];
  removed: string[];
}

/** An enabled controller (cntlid 1) of `sub` with its admin queue and I/O queue 1. */
export function rig(sub: Subsystem = subsystem(), hostid: Buffer = HOSTID): Rig {
  const backendErrors: BackendError[] = [];
  const removed: string[] = [];
  const events: ControllerEvents = { removed: (_c, reason) => removed.push(reason), backendError: (_c, e) => backendErrors.push(e) };
  const ctrl = new Controller(1, sub, HOSTNQN, hostid, 0, events);
  const admin = new Qpair(ctrl, 0, 31, new FakeTransport(), true);
  ctrl.admin = admin;
  const io = new Qpair(ctrl, 1, 127, new FakeTransport(), true);
  ctrl.ioQueues.set(1, io);
  ctrl.setCC(CC_ENABLE);
  return { sub, ctrl, admin, io, backendErrors, removed };
}

/** A backend whose every call fails with a system error of `code` (as fs reports it), counting the calls. */
export class FailingBackend implements Backend {
  readonly kind = 'file' as const;
  calls = 0;
  constructor(readonly size: number, readonly path: string, private readonly code = 'EIO', private readonly errno = -5) {}

  private error(syscall: string): NodeJS.ErrnoException {
    this.calls++;
    const e: NodeJS.ErrnoException = new Error(`${this.code}: i/o error, ${syscall}`);
    e.code = this.code;
    e.errno = this.errno;
    e.syscall = syscall;
    return e;
  }

  read<T>(_offset: number, _length: number, _dst: Buffer, done: (ctx: T, err: Error | null) => void, ctx: T): void {
    const e = this.error('read');
    setImmediate(() => done(ctx, e));
  }

  write<T>(_offset: number, _src: Buffer, _fua: boolean, done: (ctx: T, err: Error | null) => void, ctx: T): void {
    const e = this.error('write');
    setImmediate(() => done(ctx, e));
  }

  flush(): Promise<void> {
    return Promise.reject(this.error('fdatasync'));
  }

  zero(): Promise<void> {
    return Promise.reject(this.error('write'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// ---- real traffic: the Linux host against the Linux target (target/protocol/testdata/README.md) ----

interface Pdu { stream: number; dir: 'h2c' | 'c2h'; index: number; type: string; pdo: number; plen: number; bytes: Buffer }

// Compiled to dist/target/controller/test-support/: the vectors stay in the source tree.
const TESTDATA = new URL('../../../../target/protocol/testdata/', import.meta.url);
const loaded = new Map<string, Pdu[]>();

function pdus(file: string): Pdu[] {
  let v = loaded.get(file);
  if (!v) {
    v = readFileSync(new URL(file, TESTDATA), 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
      const o = JSON.parse(l) as Omit<Pdu, 'bytes'> & { hex: string };
      return { stream: o.stream, dir: o.dir, index: o.index, type: o.type, pdo: o.pdo, plen: o.plen, bytes: Buffer.from(o.hex, 'hex') };
    });
    loaded.set(file, v);
  }
  return v;
}

/** A command the Linux host sent, and what the Linux target answered. */
export interface LinuxCommand {
  sqe: Buffer;
  /** In-capsule data (Connect's 1024 bytes, a small write's data). */
  data: Buffer | undefined;
  /** The 16-byte CQE of the Linux target's CapsuleResp. */
  cqe: Buffer;
  /** The controller-to-host data the Linux target sent (whole only for transfers under 16 KiB). */
  c2hData: Buffer | undefined;
}

/** The command at `index` of the host's PDUs on `stream` of linux-host-vs-linux-target.jsonl (no digests). */
export function linuxCommand(stream: number, index: number): LinuxCommand {
  const all = pdus('linux-host-vs-linux-target.jsonl');
  const cmd = all.find((p) => p.stream === stream && p.dir === 'h2c' && p.index === index && p.type === 'CapsuleCmd');
  if (!cmd) throw new Error(`no CapsuleCmd at stream ${stream} index ${index}`);
  const sqe = Buffer.from(cmd.bytes.subarray(CAPSULE_SQE, CAPSULE_SQE + SQE_SIZE));
  const cid = sqe.readUInt16LE(SQE.CID);
  const data = cmd.pdo > 0 ? Buffer.from(cmd.bytes.subarray(cmd.pdo, cmd.plen)) : undefined;
  const c2h = all.filter((p) => p.stream === stream && p.dir === 'c2h');
  const resp = c2h.find((p) => p.type === 'CapsuleResp' && p.bytes.readUInt16LE(CAPSULE_CQE + 12) === cid);
  if (!resp) throw new Error(`no CapsuleResp for cid ${cid} on stream ${stream}`);
  const parts = c2h.filter((p) => p.type === 'C2HData' && readDataHeader(p.bytes).cccid === cid && p.index < resp.index);
  let c2hData: Buffer | undefined;
  if (parts.length) {
    const total = Math.max(...parts.map((p) => readDataHeader(p.bytes).datao + readDataHeader(p.bytes).datal));
    c2hData = Buffer.alloc(total);
    for (const p of parts) p.bytes.copy(c2hData, readDataHeader(p.bytes).datao, readCommonHeader(p.bytes).pdo);
  }
  return { sqe, data, cqe: Buffer.from(resp.bytes.subarray(CAPSULE_CQE, CAPSULE_CQE + 16)), c2hData };
}

/** Our completion as a CQE with the SQHD and SQID the Linux target's CQE `v.cqe` has (transport fields), for comparing. */
export function cqeAsLinux(v: LinuxCommand, c: Completion): string {
  return cqeHex(c, v.cqe.readUInt16LE(8), v.cqe.readUInt16LE(10));
}
