// Fault injection for the resume tests: NVMEOF_RESUME_FAULT=<point>[:<n>] makes the worker kill itself with
// SIGKILL the n-th time (default: the first) it reaches <point>. The supervisor passes the variable to the
// first worker only, so the restarted one runs clean. Points (the stages of a command and of a connection):
//   pdu-partial-header   the worker was fed part of a PDU header and is waiting for the rest
//   pdu-partial-data     the worker was fed part of a PDU's data and is waiting for the rest
//   capsule-recorded     a command's record exists, PARSED not yet moved past its capsule
//   r2t-before-tail      an R2T is in the tx ring and recorded, the tx tail not yet moved
//   executing            all of a command's data is in; the backend was not called yet
//   before-completion    the command executed; its result is not recorded
//   completion-before-tail  result recorded and the completion in the tx ring; the tx tail not yet moved
//   completion-after-tail   the completion is published; its record not yet freed
//   icresp-before-tail   the ICResp is in the tx ring and recorded, the tx tail not yet moved
//   direct-rx-before-tail  a direct socket's read put bytes into the rx ring; the rx tail not yet moved
//   direct-tx-before-head  a direct socket's write gave bytes to the kernel; the tx head not yet moved
// Without the variable a fault point costs one comparison.

const spec = process.env.NVMEOF_RESUME_FAULT;
const [armedPoint, nth] = spec ? [spec.split(':')[0], Number(spec.split(':')[1] ?? 1)] : [undefined, 0];
let hits = 0;

export function faultPoint(point: string): void {
  if (armedPoint === undefined || point !== armedPoint) return;
  if (++hits < nth) return;
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is delivered before kill() returns to a single-threaded caller; never go on regardless.
  for (;;) { /* wait for the signal */ }
}

/** Whether a fault point is armed (the worker checks partial PDUs only then). */
export const faultsArmed = armedPoint !== undefined;
