// The TypeScript NVMe/TCP host library (see README.md in this folder).
export { HostQueue, TRANSPORT_FAILED, DEFAULT_IN_CAPSULE, type QueueOptions, type Completion, type CompletionCallback, type CloseInfo, type TermReqInfo } from './queue.js';
export { HostController, DEFAULT_HOSTNQN, connectQueue, decodeIdentifyController, decodeIdentifyNamespace, decodeNsDescriptors, type ControllerOptions, type ControllerInfo, type NamespaceInfo } from './controller.js';
export { discover } from './discover.js';
export * from './commands.js';
export * from './errors.js';
export { C2HReader, type C2HInfo, type C2HSink } from './reader.js';
export { SpdkController, SPDK_KATO_MS, ABORTED_SQ_DELETION, type SentCommand } from './spdk.js';
