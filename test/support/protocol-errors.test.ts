// The protocol-error check of host-driven tests (protocol-errors.ts): which log lines count, the allow-list,
// and the check failing for real: a target process given a PDU out of sequence, whose stop() must then reject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ProtocolErrorLog } from '../../target/transport/protocol-error-log.js';
import { assertNoUnexpectedProtocolErrors, protocolErrorOf, unexpectedProtocolErrors } from './protocol-errors.js';
import { startTarget } from '../host/target-process.js';

/** A log line as the target's winston JSON format writes it. */
const line = (message: string, meta: Record<string, unknown> = {}) =>
  JSON.stringify({ component: 'target', level: 'warn', message, ...meta, timestamp: '2026-01-01T00:00:00.000Z' });

const CID = line(ProtocolErrorLog.termReqSent, { peer: '127.0.0.1:40000', fes: 2, fei: 0, kind: 'cid_conflict', error: 'command identifier 3 is already in flight' });
const DIGEST = line(ProtocolErrorLog.termReqSent, { peer: '127.0.0.1:40001', fes: 3, fei: 0, kind: 'digest', error: 'header digest mismatch' });
const INTERNAL = line(ProtocolErrorLog.internal, { peer: '127.0.0.1:40002', error: 'TypeError: x is undefined' });
const HOST_TERM = line(ProtocolErrorLog.hostTermReq, { peer: '127.0.0.1:40003', fes: 1 });

test('which target log lines are protocol errors', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['a C2HTermReq sent', CID, 'cid_conflict'],
    ['an internal error', INTERNAL, undefined],
    ["the host's H2CTermReq", HOST_TERM, undefined],
    ['a controller removed after one', line('controller removed', { reason: 'protocol error: command identifier 3 is already in flight' }), 'none'],
    ['a message that only mentions one', line('serving', { note: ProtocolErrorLog.termReqSent }), 'none'],
    ['a line cut by a SIGKILL', CID.slice(0, 60), 'none'],
    ['stderr text', `Error: ${ProtocolErrorLog.internal}`, 'none'],
  ];
  for (const [what, l, kind] of cases) {
    const e = protocolErrorOf(l);
    if (kind === 'none') assert.equal(e, undefined, what);
    else assert.deepEqual(e?.kind, kind, what);
    if (kind !== 'none') assert.ok(e, what);
  }
});

test('the allow-list: a line passes only if a pattern matches it', () => {
  const all = [CID, DIGEST, INTERNAL];
  assert.deepEqual(unexpectedProtocolErrors(all), all);
  assert.deepEqual(unexpectedProtocolErrors(all, [/"kind":"digest"/]), [CID, INTERNAL]);
  assert.deepEqual(unexpectedProtocolErrors(all, [/"kind":"digest"/, /"kind":"cid_conflict"/]), [INTERNAL]);
  assert.doesNotThrow(() => assertNoUnexpectedProtocolErrors([]));
  assert.doesNotThrow(() => assertNoUnexpectedProtocolErrors([DIGEST], [/"kind":"digest"/]));
  assert.throws(() => assertNoUnexpectedProtocolErrors([DIGEST, CID], [/"kind":"digest"/], 'the target (pid 7)'),
    (e: Error) => e.message.startsWith('the target (pid 7) logged 1 protocol error the test did not provoke') && e.message.endsWith(`\n${CID}`) && !e.message.includes(DIGEST));
});

/** Sends a CapsuleCmd PDU before any ICReq (a PDU sequence error) and waits for the target to close. */
async function provoke(port: number): Promise<void> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  const pdu = Buffer.alloc(72);
  pdu[0] = 0x04; // CapsuleCmd
  pdu[2] = 72; // HLEN
  pdu.writeUInt32LE(72, 4); // PLEN
  s.end(pdu);
  s.resume();
  await new Promise<void>((resolve) => s.once('close', () => resolve()));
}

test('a real target: a provoked protocol error fails stop() with its log line, unless the test expected it', { timeout: 60_000 }, async () => {
  const t = await startTarget({ namespaces: ['--memory', '16M'] });
  await provoke(t.port);
  await assert.rejects(t.stop(), (e: Error) => /logged 1 protocol error the test did not provoke/.test(e.message) && /"kind":"sequence"/.test(e.message));
  assert.equal(t.protocolErrors.length, 1);

  const expected = await startTarget({ namespaces: ['--memory', '16M'], expectProtocolErrors: [/"kind":"sequence"/] });
  await provoke(expected.port);
  await expected.stop();
  assert.equal(expected.protocolErrors.length, 1, 'seen, and allowed');

  const clean = await startTarget({ namespaces: ['--memory', '16M'] });
  await clean.stop();
  assert.deepEqual(clean.protocolErrors, []);
});
