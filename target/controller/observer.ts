// What the controller and transport layers report, for metrics and logs; implemented at the edge (target/metrics.ts).
import type { Qpair } from './qpair.js';
import type { Request } from './request.js';
import type { Controller } from './controller.js';

export interface TargetObserver {
  connectionOpened(): void;
  connectionClosed(): void;
  queueConnected(q: Qpair): void;
  queueDisconnected(q: Qpair): void;
  controllerRemoved(ctrl: Controller, reason: string): void;
  /** A command completed (any queue), `seconds` after its capsule arrived. */
  commandCompleted(q: Qpair | undefined, req: Request, seconds: number): void;
  protocolError(subnqn: string | undefined, kind: string): void;
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
};

export const nullLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
