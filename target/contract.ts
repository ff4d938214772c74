// What the operator may use of the target, and its only door into it (operator/imports.test.ts refuses
// any other operator/ import of target/): a change here is a change of the operator-target contract.
//
// - The configuration file the operator renders into a ConfigMap: its type and the target's own validator
//   (a resource whose configuration the target would refuse never reaches a pod).
// - The namespace identity derivation (serial, UUID, NGUID, EUI-64 from the NQN and the nsid, version 1):
//   the operator pins the identifiers a target would derive itself, so hosts see the same ones whoever
//   derives them (target/subsystem/identity.test.ts pins the vectors).
// - The node flags of the process that runs the target, for the pod's command.
// - The listener defaults: NVMe/TCP's port and the metrics port.
// - The in-pod resume rings' layout, for sizing the pod's /dev/shm.
// - Memory: the largest memory namespace the target can hold and the target's own memory need, so a memory
//   namespace that does not fit the pod is refused before a pod is made.
// - Why a target exits: the environment variable naming its termination-message file (the container's
//   terminationMessagePath) and how long it waits for a port another process holds once it has its locks.
// - The logger's answer to losing stdout, which the operator's logger shares.
export {
  CONFIG_API_VERSION, CONFIG_KIND, ConfigError, DEFAULT_METRICS_PORT, DEFAULT_PORT, MAX_MEMORY_NAMESPACE_BYTES, nqnProblem,
  validateConfig, type NamespaceConfig, type TargetConfig,
} from './config/config.js';
export { IN_POD_RESUME_EXTRA_MEMORY_BYTES, TARGET_BASE_MEMORY_BYTES } from './memory-baseline.js';
export { DEFAULT_TERMINATION_MESSAGE_PATH, TERMINATION_MESSAGE_MAX_BYTES, TERMINATION_MESSAGE_PATH_ENV } from './termination-message.js';
export { PORT_IN_USE_GRACE_MS } from './transport/port-wait.js';
export { deriveNamespaceIds, deriveSerial, formatUuid, type NamespaceIds } from './subsystem/identity.js';
export { TARGET_NODE_FLAGS } from './node-flags.js';
export { MAX_QUEUE_ENTRIES } from './protocol/properties.js';
export { FILE_HEADER_SIZE, slotFileSize } from './resume/layout.js';
export { SUPERVISOR_DEFAULTS } from './resume/defaults.js';
export { silenceOnOutputLoss } from './log.js';
