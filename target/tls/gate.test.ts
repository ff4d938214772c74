// The TLS gate against Node's own TLS 1.3 client with an external PSK (as tlshd offers it): a handshake with the
// right key reaches `ready` and carries bytes both ways; a wrong key, an unknown identity, garbage after the
// first 0x16 byte and a plain ICReq on a 'required' port are refused, each counted and logged once, no key
// in the log; a plain ICReq on an 'allowed' port reaches `ready` with its bytes intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { once } from 'node:events';
import { gateSocket, TLS_CIPHER_SUITE, type TlsResult } from './gate.js';
import { TlsKeys } from './keys.js';
import { formatInterchangePsk, hostIdentities } from './psk.js';
import type { TlsMode } from './mode.js';
import type { TlsPeer } from '../controller/qpair.js';

const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0c5e2d8a-4f6b-4e8e-9a51-3d0c7f1e2b6a';
const SUB = 'nqn.2026-01.io.nvmeof-operator:gate';
const KEY = { transform: 1 as const, key: Buffer.alloc(32, 0x5a) };
const keys = TlsKeys.load([{ nqn: SUB, listeners: [], namespaces: [], tlsPsks: [{ host: HOST, pskFile: 'k' }] }], () => formatInterchangePsk(KEY));

interface Gate { server: Server; port: number; results: TlsResult[]; lines: string[]; served: Array<{ sock: Socket; tls?: TlsPeer }> }

async function gate(mode: Exclude<TlsMode, 'off'>): Promise<Gate> {
  const g: Gate = { server: undefined as unknown as Server, port: 0, results: [], lines: [], served: [] };
  const log = { error: () => {}, debug: () => {}, info: () => {}, warn: (m: string, meta?: Record<string, unknown>) => { g.lines.push(`${m} ${JSON.stringify(meta)}`); } };
  g.server = createServer({ pauseOnConnect: true }, (raw) => gateSocket(raw, mode, { keys: () => keys, log, counted: (r) => g.results.push(r) }, (sock, tls) => {
    g.served.push({ sock, tls });
    sock.on('data', (b: Buffer) => sock.write(Buffer.concat([Buffer.from('echo:'), b])));
  }));
  g.server.listen(0, '127.0.0.1');
  await once(g.server, 'listening');
  g.port = (g.server.address() as { port: number }).port;
  return g;
}

function tlsClient(port: number, identity: string, key: Buffer) {
  return tlsConnect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', ciphers: TLS_CIPHER_SUITE, checkServerIdentity: () => undefined, pskCallback: () => ({ identity, psk: key }) });
}

/** Resolves once the gate closed `s`; reads what comes first (an alert), or a paused socket never sees the end. */
const closed = (s: Socket) => new Promise<void>((r) => { s.on('error', () => {}); s.resume(); if (s.destroyed) r(); else s.once('close', () => r()); });

test('TLS with the right PSK, both identity versions: handshake, then plaintext both ways', async () => {
  const g = await gate('required');
  try {
    for (const { identity, key } of hostIdentities('compat', KEY, HOST, SUB)) {
      const c = tlsClient(g.port, identity, key);
      await once(c, 'secureConnect');
      assert.equal(c.getCipher().name, TLS_CIPHER_SUITE);
      c.write('ICReq');
      const [reply] = await once(c, 'data');
      assert.equal(reply.toString(), 'echo:ICReq');
      c.destroy();
    }
    assert.deepEqual(g.results, ['success', 'success']);
    assert.deepEqual(g.served.map((s) => s.tls), [{ hostNqn: HOST, subNqn: SUB }, { hostNqn: HOST, subNqn: SUB }], 'the identity\'s host and subsystem go with the socket');
  } finally { g.server.close(); }
});

test('TLS refusals: wrong key, unknown host, garbage after 0x16; each logged once without the key', async () => {
  const g = await gate('allowed');
  try {
    const [v0] = hostIdentities('compat', KEY, HOST, SUB);
    const wrong = tlsClient(g.port, v0.identity, Buffer.alloc(32, 1));
    await closed(wrong);
    const unknown = tlsClient(g.port, v0.identity.replace(SUB, `${SUB}x`), v0.key);
    await closed(unknown);
    const garbage = connect(g.port, '127.0.0.1');
    garbage.write(Buffer.from([0x16, 0xff, 0xff, 0x00, 0x05, 1, 2, 3, 4, 5]));
    await closed(garbage);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(g.results, ['failure', 'failure', 'failure']);
    assert.equal(g.lines.length, 3, g.lines.join('\n'));
    assert.match(g.lines[1], /no TLS PSK is configured for host .* on subsystem nqn.2026-01.io.nvmeof-operator:gatex/);
    for (const l of g.lines) {
      assert.match(l, /TLS: connection refused .*"peer":"127\.0\.0\.1:\d+"/);
      assert.ok(!l.includes(v0.key.toString('hex')) && !l.includes(v0.key.toString('base64')), l);
    }
    assert.equal(g.served.length, 0);
  } finally { g.server.close(); }
});

test('plain ICReq: refused on a required port, served with its bytes intact on an allowed one', async () => {
  const icreq = Buffer.from([0x00, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00]);
  const req = await gate('required');
  try {
    const c = connect(req.port, '127.0.0.1');
    c.write(icreq);
    await closed(c);
    assert.deepEqual(req.results, ['plain_refused']);
    assert.match(req.lines[0], /plain NVMe\/TCP connection \(first byte 0x00\) on a port that requires TLS/);
  } finally { req.server.close(); }
  const allowed = await gate('allowed');
  try {
    const c = connect(allowed.port, '127.0.0.1');
    c.write(icreq);
    const [reply] = await once(c, 'data');
    assert.deepEqual(reply, Buffer.concat([Buffer.from('echo:'), icreq]));
    assert.deepEqual(allowed.results, []);
    assert.equal(allowed.served[0].tls, undefined);
    c.destroy();
  } finally { allowed.server.close(); }
});
