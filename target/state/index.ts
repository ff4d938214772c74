// The state store's public surface, for the subsystem, controller and main wiring.
export { openStateFile, StateFile, StateFileError, normalizeCapacity, type OpenStateFileOptions, type RestoredState } from './state-file.js';
export type { ConnectionRecords } from './connection-records.js';
export type { LockWaitInfo } from './lock.js';
export { Stage, LAYOUT_VERSION, CNTLID_MIN, CNTLID_MAX, MAX_SAVED_FEATURES, MAX_REGISTRANTS } from './layout.js';
export { identityDigest } from './identity.js';
export {
  classifyStateFile, controllersToKeep, describeInflight, nextCntlid, settleInflight, type FileDecision, type FileFacts, type InflightPolicy,
} from './recovery-policy.js';
export { buildRecoveryReport, type RecoveryReport } from './recovery-report.js';
export { RecoveryMetrics } from './recovery-metrics.js';
export { benchStateStore, type StateStoreBench } from './bench.js';
export * from './types.js';
