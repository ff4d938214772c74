// Authentication Send and Receive (fabrics types 05h/06h; NVMe over Fabrics 1.1, 6.2-6.3; Linux
// drivers/nvme/target/fabrics-cmd-auth.c): the command fields are checked here, the DH-HMAC-CHAP
// transaction is the queue's QueueAuth (target/auth/queue-auth.ts). Both are accepted on admin and I/O
// queues, before and after the queue authenticated (a Negotiate then re-authenticates).
import { AUTH_SECP_DHCHAP, AUTH_SPSP, AuthSqe } from '../protocol/auth.js';
import { Status } from '../protocol/status.js';
import type { AuthEvent } from '../auth/queue-auth.js';
import type { Qpair } from './qpair.js';
import type { Request } from './request.js';

/**
 * The most an AUTH message may take: a Reply with SHA-512 and an ffdhe8192 value is 16 + 2 * 64 + 1024 =
 * 1168 bytes, a Negotiate with one descriptor 72; nvmet reads whatever TL says, we bound it.
 */
export const AUTH_MAX_TRANSFER = 4096;

/** A host with no key must authenticate within this time of its Connect, or its queue is closed (nvmet: 2 x KATO). */
export const AUTH_TIMEOUT_MS = 10_000;

/** What a finished transaction reports (metric and log line: target.ts). */
export type AuthReport = (q: Qpair, event: AuthEvent) => void;

/** SECP E9h with SPSP0 = SPSP1 = 01h, and a transfer length equal to TL/AL: InvalidField otherwise, as nvmet. */
function checkFields(req: Request, len: number): number {
  const sqe = req.sqe;
  if (sqe[AuthSqe.SECP] !== AUTH_SECP_DHCHAP || sqe[AuthSqe.SPSP0] !== AUTH_SPSP || sqe[AuthSqe.SPSP1] !== AUTH_SPSP) return Status.InvalidField;
  if (len === 0) return Status.InvalidField;
  if (len !== req.transferLen) return Status.SglDataLengthInvalid;
  return 0;
}

/** Before data moves: the fields of an Authentication Send or Receive. 0 or the status to complete with. */
export function checkAuthCommand(req: Request, q: Qpair): number {
  if (!q.auth) return Status.InvalidOpcode; // this host has no key: nothing to authenticate (nvmet: no dhchap on the sq)
  if (req.transferLen > AUTH_MAX_TRANSFER) return Status.SglDataLengthInvalid;
  return checkFields(req, req.sqe.readUInt32LE(AuthSqe.TL));
}

/** Returns true when the queue must be closed once the completion is out (the host sent AUTH_Failure2). */
export function executeAuthSend(req: Request, q: Qpair, report: AuthReport): boolean {
  const event = q.auth!.send(req.data ?? Buffer.alloc(0));
  req.complete(0);
  if (event) report(q, event);
  return event?.result === 'failure';
}

/** Returns true when the queue must be closed once the completion is out (the transaction failed). */
export function executeAuthReceive(req: Request, q: Qpair, report: AuthReport): boolean {
  const r = q.auth!.receive(req.sqe.readUInt32LE(AuthSqe.AL));
  req.completeWithData(r.data);
  if (r.event) report(q, r.event);
  return r.close;
}
