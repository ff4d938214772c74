// Bad TLS input against the target process (issue 21, 4): on a TLS-only port and one that also admits plain
// hosts, FUZZ_TLS_ROUNDS rounds of what a wrong or hostile peer sends: garbage after a first 0x16 byte (random
// lengths and bytes, a truncated record header, a record that claims more than it carries, a ClientHello cut
// short), a handshake with the wrong PSK, an unknown identity, a plain ICReq on the TLS-only port. Each must be
// refused with the connection closed and counted in nvmeof_target_auth_total{method="tls"}; the process never
// dies, and a host connected over TLS before the storm is served after it (ICReq -> ICResp inside TLS), as is
// a new one. Ports: OS-assigned (freePort).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTarget, SUPERVISOR_MAIN, TARGET_MAIN } from '../support/target-process.js';
import { TERMINATION_MESSAGE_PATH_ENV } from '../../target/termination-message.js';
import { formatInterchangePsk, hostIdentities } from '../../target/tls/psk.js';
import { TLS_CIPHER_SUITE } from '../../target/tls/gate.js';
import { icReqPdu } from '../../target/transport/test-support/host-pdus.js';
import { PduType } from '../../target/protocol/pdu.js';
import { Rng } from './rng.js';

const ROUNDS = Number(process.env.FUZZ_TLS_ROUNDS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:3b9e1c6d-2a4f-4e8b-9c1d-7f5a6e0b2c48';
const NQN = 'nqn.2026-01.io.nvmeof.test:tls-fuzz';
const KEY = { transform: 1 as const, key: Buffer.alloc(32, 0x3c) };
const [ID0] = hostIdentities('compat', KEY, HOST, NQN);

function tlsHost(port: number, identity: string, psk: Buffer): TLSSocket {
  return tlsConnect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', ciphers: TLS_CIPHER_SUITE, checkServerIdentity: () => undefined, pskCallback: () => ({ identity, psk }) });
}

/**
 * Resolves once the target closed `s`. It reads (and drops) what comes first: an alert the target sends before
 * its FIN would otherwise sit unread, and a paused socket never sees the end behind it.
 */
function closed(s: Socket): Promise<void> {
  s.on('error', () => { /* refused: the close follows */ });
  s.resume();
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

/** Whether a TLS handshake with this identity and key completes. */
function handshakes(port: number, identity: string, psk: Buffer): Promise<boolean> {
  const s = tlsHost(port, identity, psk);
  return new Promise<boolean>((resolve) => {
    s.once('secureConnect', () => resolve(true));
    s.on('error', () => resolve(false));
    s.once('close', () => resolve(false));
  }).finally(() => s.destroy());
}

/** ICReq through an established TLS connection; resolves with the first PDU type the target answered. */
async function icResp(s: TLSSocket): Promise<number> {
  s.write(icReqPdu());
  const [b] = await once(s, 'data') as [Buffer];
  return b[0];
}

/** One bad input (by `kind`) to `port`; resolves once the target closed the connection. */
async function badInput(kind: number, rng: Rng, ports: { required: number; allowed: number }): Promise<'failure' | 'plain_refused'> {
  const port = rng.int(2) === 0 ? ports.required : ports.allowed;
  switch (kind) {
    case 0: { // 0x16 then random bytes
      const s = connect(port, '127.0.0.1');
      s.write(Buffer.concat([Buffer.from([0x16]), Buffer.from(Array.from({ length: rng.int(300) }, () => rng.int(256)))]));
      s.end();
      await closed(s);
      return 'failure';
    }
    case 1: { // a handshake record header claiming 16 KiB, then a few bytes and a half-close
      const s = connect(port, '127.0.0.1');
      s.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00]));
      s.end();
      await closed(s);
      return 'failure';
    }
    case 2: { // the wrong PSK for the right identity
      await closed(tlsHost(port, ID0.identity, Buffer.alloc(32, rng.int(255) + 1)));
      return 'failure';
    }
    case 3: { // an identity nobody configured
      await closed(tlsHost(port, ID0.identity.replace(HOST, 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000000'), ID0.key));
      return 'failure';
    }
    default: { // a plain ICReq on the TLS-only port
      const s = connect(ports.required, '127.0.0.1');
      s.write(icReqPdu());
      await closed(s);
      return 'plain_refused';
    }
  }
}

test(`fuzz: ${ROUNDS} rounds of bad TLS input are refused, counted, and leave TLS hosts served (seed ${SEED})`, { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-tls-fuzz-'));
  const ports = { required: await freePort(), allowed: await freePort() };
  const metricsPort = await freePort();
  writeFileSync(join(dir, 'host.psk'), formatInterchangePsk(KEY));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{
      nqn: NQN, hosts: [HOST],
      listeners: [{ address: '127.0.0.1', port: ports.required, tls: 'required' }, { address: '127.0.0.1', port: ports.allowed, tls: 'allowed' }],
      namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } }],
      tlsPsks: [{ host: HOST, pskFile: join(dir, 'host.psk') }],
    }],
    metrics: { address: '127.0.0.1', port: metricsPort },
  }));
  const target = await startTarget(['--config', join(dir, 'config.json')], { keepLines: 2000 });
  try {
    const before = tlsHost(ports.required, ID0.identity, ID0.key);
    await once(before, 'secureConnect');
    const rng = new Rng(SEED);
    const expected = { failure: 0, plain_refused: 0 };
    for (let i = 0; i < ROUNDS; i++) expected[await badInput(rng.int(5), rng, ports)]++;
    assert.equal(target.child.exitCode, null, 'the target still runs');
    assert.equal(before.destroyed, false, 'the TLS host connected before the storm is still connected');
    assert.equal(await icResp(before), PduType.ICResp, 'and is served');
    const after = tlsHost(ports.allowed, ID0.identity, ID0.key);
    await once(after, 'secureConnect');
    assert.equal(await icResp(after), PduType.ICResp, 'a new TLS host is served');
    before.destroy();
    after.destroy();
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const count = (r: string) => Number(new RegExp(`^nvmeof_target_auth_total\\{method="tls",result="${r}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    assert.equal(count('failure'), expected.failure, metrics);
    assert.equal(count('plain_refused'), expected.plain_refused);
    assert.equal(count('success'), 2);
    const refusals = target.lines.filter((l) => l.includes('"TLS: connection refused"'));
    assert.equal(refusals.length, expected.failure + expected.plain_refused, 'one log line per refused connection');
    assert.ok(!refusals.some((l) => l.includes(ID0.key.toString('hex')) || l.includes(ID0.key.toString('base64'))), 'no key in the log');
    t.diagnostic(`refused: ${expected.failure} handshakes, ${expected.plain_refused} plain ICReqs`);
  } finally {
    await target.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS key rotation: a key file replaced under a running target is used by new handshakes within about a second; live sessions stay', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-tls-rotate-'));
  const port = await freePort();
  const file = join(dir, 'host.psk');
  writeFileSync(file, formatInterchangePsk(KEY));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{
      nqn: NQN, hosts: [HOST], listeners: [{ address: '127.0.0.1', port, tls: 'required' }],
      namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } }],
      tlsPsks: [{ host: HOST, pskFile: file }],
    }],
  }));
  const target = await startTarget(['--config', join(dir, 'config.json')], { keepLines: 2000 });
  try {
    const live = tlsHost(port, ID0.identity, ID0.key);
    await once(live, 'secureConnect');
    const next = { transform: 1 as const, key: Buffer.alloc(32, 0x7e) };
    const [NEXT0] = hostIdentities('compat', next, HOST, NQN);
    writeFileSync(join(dir, 'next'), formatInterchangePsk(next));
    const rotatedAt = Date.now();
    renameSync(join(dir, 'next'), file);
    // Poll with the new key until a handshake succeeds.
    let tookMs = -1;
    while (Date.now() - rotatedAt < 10_000) {
      if (await handshakes(port, NEXT0.identity, NEXT0.key)) {
        tookMs = Date.now() - rotatedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(tookMs >= 0, 'the new key was taken within 10 s');
    assert.equal(await handshakes(port, ID0.identity, ID0.key), false, 'the old key makes no new session');
    assert.equal(live.destroyed, false, 'the session made with the old key is still open');
    assert.equal(await icResp(live), PduType.ICResp, 'and served');
    live.destroy();
    assert.ok(target.lines.some((l) => l.includes('new keys in use')), 'the reload is logged');
    t.diagnostic(`rotation reached new handshakes after ${tookMs} ms`);
  } finally {
    await target.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing or malformed key file ends the start (target and in-pod resume supervisor): exit 1, the termination message names the host and file, never the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-tls-badkey-'));
  try {
    const good = formatInterchangePsk(KEY);
    const cases: Array<[string, string | undefined, RegExp]> = [
      ['missing', undefined, /cannot read the key file .*host\.psk: ENOENT/],
      // One base64 character of the key changed: the CRC-32 no longer matches.
      ['CRC-32', good.replace(/^(NVMeTLSkey-1:01:)(.)/, (_m, p: string, c: string) => `${p}${c === 'A' ? 'B' : 'A'}`), /CRC-32 does not match/],
      ['SHA-384', formatInterchangePsk({ transform: 1, key: Buffer.alloc(48, 1) }), /SHA-384 PSKs .* are not supported/],
    ];
    for (const [what, text, reason] of cases) {
      const file = join(dir, 'host.psk');
      rmSync(file, { force: true });
      if (text !== undefined) writeFileSync(file, text);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({
        apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
        subsystems: [{
          nqn: NQN, hosts: [HOST], listeners: [{ address: '127.0.0.1', port: 4599, tls: 'required' }],
          namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } }],
          tlsPsks: [{ host: HOST, pskFile: file }],
        }],
      }));
      for (const main of [TARGET_MAIN, SUPERVISOR_MAIN]) {
        const messagePath = join(dir, 'termination-log');
        rmSync(messagePath, { force: true });
        const extra = main === SUPERVISOR_MAIN ? ['--rings', join(dir, 'rings')] : [];
        const r = spawnSync(process.execPath, [main, '--config', join(dir, 'config.json'), ...extra], {
          env: { ...process.env, [TERMINATION_MESSAGE_PATH_ENV]: messagePath }, encoding: 'utf8', timeout: 20_000,
        });
        const message = readFileSync(messagePath, 'utf8');
        assert.equal(r.status, 1, `${what}, ${main}: ${r.stderr}`);
        assert.match(message, new RegExp(`^TLS: subsystems\\[0\\]\\.tlsPsks\\[0\\] \\(host ${HOST.replace(/\./g, '\\.')}\\)`), `${what}, ${main}`);
        assert.match(message, reason, `${what}, ${main}`);
        if (text) assert.ok(!message.includes(text.split(':')[2]) && !r.stderr.includes(text.split(':')[2]), 'the key is never printed');
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
