// What the controller and transport layers report, for metrics and logs; implemented at the edge (target/metrics.ts).
import type { Qpair } from './qpair.js';
import type { Request } from './request.js';
import type { Controller } from './controller.js';

/** A backend call that failed, and the status its command completes with. */
export interface BackendError {
  subnqn: string;
  nsid: number;
  /** The file or block device, when the backend has one. */
  path: string | undefined;
  /** The I/O command's opcode. */
  opcode: number;
  /** Bytes into the namespace, and how many (Flush: the whole namespace). */
  offset: number;
  length: number;
  /** The system error's code (`EIO`, `ENOSPC`, ...), or `unknown` when the error has none. */
  errno: string;
  message: string;
  status: number;
}

export interface TargetObserver {
  connectionOpened(): void;
  connectionClosed(): void;
  queueConnected(q: Qpair): void;
  queueDisconnected(q: Qpair): void;
  controllerRemoved(ctrl: Controller, reason: string): void;
  /** A command completed (any queue), `seconds` after its capsule arrived. */
  commandCompleted(q: Qpair | undefined, req: Request, seconds: number): void;
  protocolError(subnqn: string | undefined, kind: string): void;
  /** A backend (file, block device, memory) failed a read, write, flush or zeroing (optional: not every observer counts them). */
  backendError?(e: BackendError): void;
  /** A host admission decision: one DH-HMAC-CHAP transaction (optional: not every observer counts them). */
  authFinished?(method: 'dhchap', result: 'success' | 'failure'): void;
}

export interface Logger {
  error(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  debug(msg: string, meta?: Record<string, unknown>): void;
}

export const nullObserver: TargetObserver = {
  connectionOpened() {},
  connectionClosed() {},
  queueConnected() {},
  queueDisconnected() {},
  controllerRemoved() {},
  commandCompleted() {},
  protocolError() {},
  backendError() {},
};

export const nullLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
