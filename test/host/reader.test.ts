// The host library's C2H framing against what the Linux nvmet-tcp target really sent
// (target/protocol/testdata), cut into chunks of every size; and its checks against broken PDUs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { C2HReader, type C2HInfo } from './reader.js';
import { ControllerProtocolError } from './errors.js';
import { DATA, HLEN, PduFlag, PduType, decodeICResp, readCommonHeader } from '../../target/protocol/pdu.js';
import { crc32c } from '../../target/protocol/crc32c.js';

interface Vec { stream: number; dir: string; index: number; type: string; plen: number; pdo: number; flags: number; hex: string; cut_at?: number }

const TESTDATA = new URL('../../../target/protocol/testdata/', import.meta.url);

/** The controller-to-host byte stream of each connection; whole PDUs only (cut ones carry no digestable data). */
function streams(file: string): Array<{ name: string; pdus: Buffer[] }> {
  const vs = readFileSync(new URL(file, TESTDATA), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Vec);
  const out = new Map<number, Buffer[]>();
  for (const v of vs.filter((x) => x.dir === 'c2h').sort((a, b) => a.stream - b.stream || a.index - b.index)) {
    let b = Buffer.from(v.hex, 'hex');
    if (v.cut_at !== undefined) {
      if (v.flags & PduFlag.DDGSTF) continue;
      b = Buffer.concat([b, Buffer.alloc(v.plen - b.length)]); // without a data digest any data will do
    }
    if (!out.has(v.stream)) out.set(v.stream, []);
    out.get(v.stream)!.push(b);
  }
  return [...out].map(([s, pdus]) => ({ name: `${file} stream ${s}`, pdus }));
}

interface Seen { type: number; flags: number; plen: number; data?: Buffer }

function parse(pdus: Buffer[], chunk: (remaining: number) => number): Seen[] {
  const seen: Seen[] = [];
  let current: Seen | undefined;
  const reader: C2HReader = new C2HReader({
    onHeader(header: Buffer, info: C2HInfo) {
      current = { type: info.type, flags: info.flags, plen: info.plen };
      if (info.type === PduType.C2HData) {
        current.data = Buffer.alloc(header.readUInt32LE(DATA.DATAL));
        reader.dataInto(current.data, 0);
      }
    },
    onPdu(header: Buffer, info: C2HInfo) {
      if (info.type === PduType.ICResp) {
        const r = decodeICResp(header);
        reader.hdgst = r.hdgst;
        reader.ddgst = r.ddgst;
        current = { type: info.type, flags: info.flags, plen: info.plen };
      }
      seen.push(current!);
      current = undefined;
    },
  });
  const all = Buffer.concat(pdus);
  for (let at = 0; at < all.length;) {
    const n = Math.min(all.length - at, Math.max(1, chunk(all.length - at)));
    reader.feed(all.subarray(at, at + n));
    at += n;
  }
  return seen;
}

function expected(pdus: Buffer[]): Seen[] {
  return pdus.map((b) => {
    const ch = readCommonHeader(b);
    const s: Seen = { type: ch.type, flags: ch.flags, plen: ch.plen };
    if (ch.type === PduType.C2HData) s.data = b.subarray(ch.pdo, ch.pdo + b.readUInt32LE(DATA.DATAL));
    return s;
  });
}

const all = [...streams('linux-host-vs-linux-target.jsonl'), ...streams('linux-host-vs-linux-target-digests.jsonl')];

test('every c2h stream of the Linux target parses, PDU by PDU, whatever the chunking', () => {
  let seed = 1;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const chunkings: Array<[string, (rem: number) => number]> = [
    ['whole', (rem) => rem], ['1 byte', () => 1], ['7 bytes', () => 7], ['1460 bytes', () => 1460], ['random', () => 1 + (random() % 5000)],
  ];
  assert.ok(all.length >= 6);
  for (const s of all) {
    const want = expected(s.pdus);
    for (const [name, chunk] of chunkings) assert.deepEqual(parse(s.pdus, chunk), want, `${s.name}, ${name}`);
  }
});

function digestStream(): Buffer[] {
  return all.find((s) => s.name.includes('digests') && s.pdus.some((p) => p[0] === PduType.C2HData))!.pdus;
}

function mustFail(pdus: Buffer[], pattern: RegExp): void {
  assert.throws(() => parse(pdus, (r) => r), (e: unknown) => e instanceof ControllerProtocolError && pattern.test(e.message));
}

test('a wrong header digest, data digest, HLEN, PDO or DATAL is a ControllerProtocolError', () => {
  const pdus = digestStream();
  const i = pdus.findIndex((p) => p[0] === PduType.C2HData);
  const variant = (f: (b: Buffer) => void) => pdus.map((p, k) => {
    if (k !== i) return p;
    const b = Buffer.from(p);
    f(b);
    return b;
  });
  mustFail(variant((b) => { b[HLEN.Data] ^= 1; }), /header digest/);
  mustFail(variant((b) => { b[b.length - 1] ^= 1; }), /data digest/);
  mustFail(variant((b) => { b[2] = 72; }), /HLEN/);
  mustFail(variant((b) => { b[3] = 30; }), /PDO/);
  mustFail(variant((b) => {
    b.writeUInt32LE(b.readUInt32LE(DATA.DATAL) - 4, DATA.DATAL);
    b.writeUInt32LE(crc32c(b.subarray(0, HLEN.Data)), HLEN.Data);
  }), /DATAL/);
  mustFail(variant((b) => { b[1] &= ~PduFlag.DDGSTF; }), /DDGSTF/);
  // A PDU type only a host sends.
  mustFail([pdus[0], Buffer.from([PduType.CapsuleCmd, 0, 72, 0, 72, 0, 0, 0])], /not a PDU a controller sends/);
});
