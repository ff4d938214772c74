// The raw TCP floor for `npm run bench`: a trivial server that frames PDUs by their PLEN and answers each
// with the same bytes a target would send (ICResp; C2HData + CapsuleResp for a Read; CapsuleResp for
// anything else), without any NVMe semantics: no backend, no checks, no copies. The bench drives it with
// the same host library as the target, so the gap between the two is the cost of being a target.
// Run: node dist/test/bench/floor-server.js --listen 127.0.0.1:PORT (prints "ready" once listening).
import { createServer, type Socket } from 'node:net';
import { CAPSULE_SQE, CH, HLEN, PduFlag, PduType, encodeICResp, writeCommonHeader, writeDataHeader } from '../../target/protocol/pdu.js';
import { SQE } from '../../target/protocol/sqe.js';
import { IoOpc } from '../../target/protocol/opcodes.js';
import { CQE } from '../../target/protocol/cqe.js';

const MAXH2CDATA = 128 * 1024;
/** What every Read returns: zeroes, never copied. */
const ZEROES = Buffer.alloc(4 * 1024 * 1024);

function serve(sock: Socket): void {
  sock.setNoDelay(true);
  const hdr = Buffer.alloc(HLEN.ICReq);
  let have = 0; // bytes of the current PDU consumed
  let plen: number = CH.SIZE;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  const out = (b: Buffer) => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    sock.write(b);
  };
  const answer = () => {
    const type = hdr[CH.TYPE];
    if (type === PduType.ICReq) {
      out(encodeICResp({ pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: MAXH2CDATA }));
      return;
    }
    if (type !== PduType.CapsuleCmd) return;
    const cid = hdr.readUInt16LE(CAPSULE_SQE + SQE.CID);
    const len = hdr.readUInt32LE(CAPSULE_SQE + SQE.SGL_LEN);
    const read = hdr[CAPSULE_SQE + SQE.OPC] === IoOpc.Read;
    const b = Buffer.allocUnsafe(read ? HLEN.Data + HLEN.CapsuleResp : HLEN.CapsuleResp);
    let at = 0;
    if (read) {
      writeDataHeader(b, PduType.C2HData, PduFlag.DATA_LAST, HLEN.Data, HLEN.Data + len, cid, 0, 0, len);
      out(b.subarray(0, HLEN.Data));
      out(ZEROES.subarray(0, len));
      at = HLEN.Data;
    }
    const r = b.subarray(at);
    writeCommonHeader(r, PduType.CapsuleResp, 0, HLEN.CapsuleResp, 0, HLEN.CapsuleResp);
    r.fill(0, 8);
    r.writeUInt16LE(cid, 8 + CQE.CID);
    out(r);
  };
  sock.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      // The first bytes (up to the SQE's SGL length) are kept; the rest of a PDU is skipped.
      const keepUntil = Math.min(plen, HLEN.ICReq);
      if (have < keepUntil) {
        const n = Math.min(keepUntil - have, chunk.length - off);
        chunk.copy(hdr, have, off, off + n);
        have += n;
        off += n;
        if (have === CH.SIZE && plen === CH.SIZE) {
          plen = hdr.readUInt32LE(CH.PLEN);
          if (plen < CH.SIZE) return sock.destroy();
        }
        if (have < Math.min(plen, HLEN.ICReq)) continue;
      } else {
        const n = Math.min(plen - have, chunk.length - off);
        have += n;
        off += n;
      }
      if (have === plen) {
        answer();
        have = 0;
        plen = CH.SIZE;
      }
    }
  });
  sock.on('error', () => sock.destroy());
}

function main(): void {
  const i = process.argv.indexOf('--listen');
  const [host, port] = (i > 0 ? process.argv[i + 1] : '127.0.0.1:0').split(':');
  const server = createServer({ noDelay: true }, serve);
  server.listen(Number(port), host, () => {
    const a = server.address();
    process.stdout.write(`ready ${typeof a === 'object' && a ? a.port : port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

main();
