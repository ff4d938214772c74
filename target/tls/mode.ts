// What a listener does with a new connection's first byte, by its TLS mode (NVMe/TCP Transport Specification
// 1.1, 3.6.1: a host that uses TLS starts with a ClientHello, one that does not with an ICReq).
// Invariant: a port that requires TLS never hands a plaintext byte to the NVMe/TCP codec.
// Like the Linux target's nvmet_tcp_try_peek_pdu (drivers/nvme/target/tcp.c), which peeks the first bytes of a
// connection on a port with a TLS key: a TLS handshake record (content type 22) goes to the handshake; on a port
// that also admits plain hosts anything else goes to the PDU path, whose own checks refuse what is no ICReq.

export type TlsMode = 'required' | 'allowed' | 'off';
export const TLS_MODES: readonly TlsMode[] = ['required', 'allowed', 'off'];

/** TLS record content type handshake (RFC 8446 5.1): the first byte of a ClientHello. */
export const TLS_HANDSHAKE_RECORD = 0x16;

export type FirstByteDecision = 'tls' | 'plain' | 'refuse';

/** 'off' never reaches here: such a listener reads PDUs from the first byte, as it always did. */
export function decideFirstByte(mode: Exclude<TlsMode, 'off'>, firstByte: number): FirstByteDecision {
  if (firstByte === TLS_HANDSHAKE_RECORD) return 'tls';
  return mode === 'required' ? 'refuse' : 'plain';
}
