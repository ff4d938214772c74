// Errors the host library reports: an NVMe status, a C2HTermReq from the controller, a closed connection,
// or a controller that broke the NVMe/TCP protocol (what the tests are looking for).
import { statusName } from '../../target/protocol/status.js';

/** A command completed with a non-success NVMe status (`status` in the encoding of target/protocol/status.ts). */
export class NvmeStatusError extends Error {
  constructor(readonly status: number, readonly what: string, readonly dw0 = 0) {
    super(`${what}: ${statusName(status)} (status 0x${status.toString(16)})`);
    this.name = 'NvmeStatusError';
  }
}

/** The NVMe status a command completed with: 0 on success, its status on an NvmeStatusError; any other error is thrown. */
export async function completionStatus(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    if (e instanceof NvmeStatusError) return e.status;
    throw e;
  }
}

/** The controller ended the connection with a C2HTermReq. */
export class TermReqError extends Error {
  constructor(readonly fes: number, readonly fei: number, readonly offending: Buffer) {
    super(`controller sent C2HTermReq: FES 0x${fes.toString(16)}, FEI ${fei}`);
    this.name = 'TermReqError';
  }
}

/** The connection closed (or failed) with commands still outstanding. */
export class ConnectionClosedError extends Error {
  constructor(message = 'connection closed') {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

/** The controller sent something the NVMe/TCP specification does not allow: a target bug. */
export class ControllerProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControllerProtocolError';
  }
}

/** A command got no completion in time. */
export class CommandTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no completion within ${ms} ms`);
    this.name = 'CommandTimeoutError';
  }
}
