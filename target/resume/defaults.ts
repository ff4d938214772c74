// The supervisor's defaults, in a module of their own (no native addon, no process): the operator reads
// them through target/contract.ts.
import { MAX_QUEUE_ENTRIES } from '../protocol/properties.js';

/**
 * The supervisor's defaults: its options' here, its flags' in target/supervisor.ts (whose command line they
 * are). The operator sizes a pod's /dev/shm from the rings' (operator/builders/pod.ts).
 */
export const SUPERVISOR_DEFAULTS = {
  /** --connection-slots: connections at once. */
  connectionSlots: 64,
  /** --rx-ring: receive ring per connection; half of it bounds the connection's R2T data. */
  rxRingBytes: 4 << 20,
  /** --tx-ring: transmit ring per connection. */
  txRingBytes: 2 << 20,
  /** Command records per connection slot: a queue holds at most MQES commands; the admin queue's AERs are among them. */
  recordsPerSlot: MAX_QUEUE_ENTRIES + 16,
  /** --no-standby-worker clears it. */
  standbyWorker: true,
  /** --worker-hang-timeout, in seconds (0: never). */
  workerHangTimeoutSeconds: 3,
  /** Delay before forking a worker again after one that had served (ms). */
  restartDelayMs: 20,
  /** Delay cap for a worker that keeps dying before it serves (ms). */
  maxRestartDelayMs: 5000,
} as const;
