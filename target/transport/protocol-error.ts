import { TermFes } from '../protocol/pdu.js';

/**
 * A fatal NVMe/TCP transport error: the connection answers with a C2HTermReq carrying `fes` and `fei`
 * (the byte offset of the offending field in the PDU header) and closes (NVMe/TCP 3.6.2.9, 3.8).
 */
export class ProtocolError extends Error {
  constructor(
    readonly fes: number,
    readonly fei: number,
    readonly kind: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }

  static header(fei: number, kind: string, message: string): ProtocolError {
    return new ProtocolError(TermFes.InvalidHeaderField, fei, kind, message);
  }
}
