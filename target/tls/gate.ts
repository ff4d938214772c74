// The TLS gate of a listener whose TLS mode is 'required' or 'allowed': it reads a new connection's first
// bytes and hands on either the socket itself (plain NVMe/TCP, the bytes put back) or a TLS 1.3 server socket
// over it once the handshake is done (external PSK, TLS_AES_128_GCM_SHA256: what the Linux host's tlshd
// offers, ktls-utils tlshd/client.c; the NVMe/TCP Transport Specification 1.1, 3.6.1.1). Whoever gets the
// socket sees plaintext and knows nothing of TLS: the direct listener (transport/listener.ts) and, with in-pod
// resume, the supervisor (resume/supervisor.ts), so a worker that dies never breaks a TLS session.
// Invariants: no plaintext byte reaches the codec on a 'required' port; each refused connection is closed and
// logged once (peer address and reason, never a key) and counted; a handshake not done within
// HANDSHAKE_TIMEOUT_MS is refused.
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from '../controller/observer.js';
import { decideFirstByte, type TlsMode } from './mode.js';
import type { TlsKeys } from './keys.js';
import { parseIdentity } from './psk.js';
import type { TlsPeer } from '../controller/qpair.js';

/** How long a host has from its connection to a finished handshake (the Linux host's tlshd gives up after 10 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
export const TLS_CIPHER_SUITE = 'TLS_AES_128_GCM_SHA256';

/** What happened at the gate, for nvmeof_target_auth_total{method="tls",result}. */
export type TlsResult = 'success' | 'failure' | 'plain_refused';

export interface GateContext {
  /** Read at each handshake: a reload (rotation) reaches the next handshake. */
  keys(): TlsKeys;
  log: Logger;
  counted(result: TlsResult): void;
}

/**
 * Takes a socket fresh from accept (paused or not; nothing read yet) and calls `ready` with the socket to serve:
 * the plain socket (its first bytes put back; it is resumed after `ready` returns) or the TLS socket, secure.
 */
export function gateSocket(raw: Socket, mode: Exclude<TlsMode, 'off'>, ctx: GateContext, ready: (sock: Socket, tlsPeer?: TlsPeer) => void): void {
  const peer = `${raw.remoteAddress}:${raw.remotePort}`;
  const timer = setTimeout(() => refuse('no TLS handshake or ICReq within the time allowed'), HANDSHAKE_TIMEOUT_MS);
  let done = false;
  const refuse = (reason: string, identity?: string, result: TlsResult = 'failure') => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    ctx.counted(result);
    ctx.log.warn('TLS: connection refused', { peer, reason, ...(identity ? { identity } : {}) });
    raw.destroy();
  };
  const closedEarly = () => refuse('the host closed the connection before a handshake');
  raw.on('error', () => { /* a reset by the peer: 'close' follows */ });
  raw.once('close', closedEarly);
  raw.once('data', (chunk: Buffer) => {
    raw.pause();
    raw.unshift(chunk);
    const decision = decideFirstByte(mode, chunk[0]);
    if (decision === 'refuse') {
      refuse(`a plain NVMe/TCP connection (first byte 0x${chunk[0].toString(16).padStart(2, '0')}) on a port that requires TLS`, undefined, 'plain_refused');
      return;
    }
    if (decision === 'plain') {
      done = true;
      clearTimeout(timer);
      raw.off('close', closedEarly);
      ready(raw);
      raw.resume();
      return;
    }
    handshake();
  });
  raw.resume();

  function handshake(): void {
    let identity: string | undefined;
    let why: string | undefined;
    const keys = ctx.keys();
    const tls = new TLSSocket(raw, {
      isServer: true,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: TLS_CIPHER_SUITE,
      pskCallback: (_sock: TLSSocket, id: string) => {
        identity = id;
        const found = keys.lookup(id);
        if ('key' in found) return found.key;
        why = found.reason;
        return null;
      },
    } as ConstructorParameters<typeof TLSSocket>[1]);
    tls.once('secure', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      raw.off('close', closedEarly);
      tls.removeAllListeners('error');
      ctx.counted('success');
      ctx.log.info('TLS: handshake done', { peer, identity });
      // The lookup found a key, so the identity parsed: it names the host and subsystem Connect must name.
      const id = parseIdentity(identity ?? '');
      ready(tls, id ? { hostNqn: id.hostNqn, subNqn: id.subNqn } : { hostNqn: '', subNqn: '' });
    });
    tls.on('error', (e: NodeJS.ErrnoException) => {
      // A wrong PSK shows as a failed Finished check (decrypt error / bad record mac) on the server side.
      // OpenSSL's errors carry `reason` ("binder does not verify"); the message adds addresses and file names.
      const reason = (e as { reason?: string }).reason;
      refuse(why ?? `TLS handshake failed: ${e.code ?? 'error'} (${reason ?? e.message})`, identity);
      tls.destroy();
    });
  }
}
