// The log messages that say a connection ended in a protocol error, defined once: the transport logs them
// (connection.ts) and the tests' harness scans the target's JSON log for them (test/support/protocol-errors.ts),
// so a test fails when the target logged one the test did not provoke.
export const ProtocolErrorLog = {
  /** This target found the host's PDU or command invalid and sent a C2HTermReq (meta: kind, fes, fei, error). */
  termReqSent: 'protocol error: sending C2HTermReq',
  /** An exception on the receive path: a bug of this target, answered with a C2HTermReq (kind 'internal'). */
  internal: 'internal error on connection',
  /** The host sent an H2CTermReq: it found a PDU of this target invalid (meta: fes). */
  hostTermReq: 'host terminated the connection',
} as const;
