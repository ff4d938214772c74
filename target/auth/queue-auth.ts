// One queue's DH-HMAC-CHAP transaction, the controller's side (NVMe Base 2.1, 8.3.4.5; Linux
// drivers/nvme/target/fabrics-cmd-auth.c nvmet_execute_auth_send / _receive, whose steps it follows):
//
//   host: Negotiate (send) -> Challenge (receive) -> Reply (send) -> Success1 (receive) [-> Success2 (send)]
//
// Invariants:
//  - `authenticated` becomes true only after the host's response R1 matched (and, when the host asked for
//    bidirectional authentication, once it accepted ours with Success2); a failure makes it false;
//  - a Negotiate is accepted at any step: it starts a new transaction (re-authentication on a live queue
//    keeps the queue authenticated until that transaction fails);
//  - any message out of step, or malformed, moves to Failure1 with the reason; the next Receive returns
//    AUTH_Failure1 and asks the caller to close the queue (nvmet: nvmet_ctrl_fatal_error); the host's
//    AUTH_Failure2 (it refused our response) ends the queue too; either way `failed` is set, once reported;
//  - no secret, key or response ever leaves this object except in a message the protocol defines.
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import {
  AuthFailure, DHCHAP_AUTH_ID, DhGroupId, MalformedAuthMessage, authFailureName, decodeAuthSend,
  encodeChallenge, encodeFailure1, encodeSuccess1, type AuthMessage,
} from '../protocol/auth.js';
import { dhGroupById, type DhGroup } from './ffdhe.js';
import { dhSharedSecret, generateDhKeyPair, type DhKeyPair } from './dh.js';
import { controllerResponse, hostResponse } from './dhchap.js';
import type { HashInfo } from './hashes.js';
import { transformKey, type DhchapSecret } from './secret.js';

/** What the target holds for one host: its key, the controller key, and what it may negotiate. */
export interface HostAuth {
  hostKey: DhchapSecret;
  ctrlKey?: DhchapSecret;
  /** Hashes the host may use, the target's preference first. */
  hashes: readonly HashInfo[];
  /** DH group identifiers the host may use (0: the null group), the target's preference first. */
  dhGroups: readonly number[];
  /** What happened to the keys since last asked (read again from changed files, or a changed file refused). */
  takeNotices?(): string[];
}

/** The values a controller draws at random, replaceable for known-answer tests. */
export interface AuthRandom {
  challenge(len: number): Buffer;
  /** A sequence number, never 0 (nvme_auth_get_seqnum). */
  seqnum(): number;
  keyPair(group: DhGroup): DhKeyPair;
}

export const cryptoRandom: AuthRandom = {
  challenge: (len) => randomBytes(len),
  seqnum: () => randomInt(1, 0x1_0000_0000),
  keyPair: (group) => generateDhKeyPair(group),
};

export type AuthStep = 'negotiate' | 'challenge' | 'reply' | 'success1' | 'success2' | 'failure1' | 'done';

/** What happened, for the caller's metric and log line. */
export type AuthEvent = { result: 'success' } | { result: 'failure'; reason: string };

export interface ReceiveResult {
  data: Buffer;
  event?: AuthEvent;
  /** The transaction failed: close the queue once this completion is out. */
  close: boolean;
}

export class QueueAuth {
  authenticated = false;
  /** A transaction of this queue failed (and was reported): the queue is closing. */
  failed = false;
  private step: AuthStep = 'negotiate';
  private tid = 0;
  private failure: number = AuthFailure.Failed;
  private failureDetail = '';
  private hash: HashInfo | undefined;
  private group: DhGroup | undefined;
  private c1: Buffer | undefined;
  private s1 = 0;
  private keys: DhKeyPair | undefined;
  private sessionKey: Buffer | undefined;
  private c2: Buffer | undefined;
  private s2 = 0;

  constructor(
    private readonly policy: HostAuth,
    readonly hostnqn: string,
    readonly subnqn: string,
    private readonly random: AuthRandom = cryptoRandom,
  ) {}

  /**
   * A queue an earlier process of this target served (in-pod resume), as its slot recorded it: authenticated
   * or not. A transaction that was under way is not: the host's next message is out of step and fails, and
   * the host authenticates anew.
   */
  static resumed(policy: HostAuth, hostnqn: string, subnqn: string, authenticated: boolean): QueueAuth {
    const auth = new QueueAuth(policy, hostnqn, subnqn);
    auth.authenticated = authenticated;
    if (authenticated) auth.step = 'done';
    return auth;
  }

  /** The host's key notices (HostAuth.takeNotices), for the log line of the transaction that found them. */
  keyNotices(): string[] {
    return this.policy.takeNotices?.() ?? [];
  }

  get currentStep(): AuthStep {
    return this.step;
  }

  /** Authentication Send: the host's message. Returns an event when the transaction ended here. */
  send(data: Buffer): AuthEvent | undefined {
    let msg: AuthMessage;
    try {
      msg = decodeAuthSend(data);
    } catch (e) {
      if (!(e instanceof MalformedAuthMessage)) throw e;
      return this.fail(AuthFailure.IncorrectPayload, e.message);
    }
    if (msg.kind === 'negotiate') return this.negotiate(msg);
    if (msg.kind === 'failure2') {
      // The host refused our response R2 (or gave up): the queue is not authenticated.
      this.authenticated = false;
      this.failed = true;
      this.step = 'done';
      return { result: 'failure', reason: `host sent AUTH_Failure2 (${authFailureName(msg.rescodeExp)})` };
    }
    const expected = this.step === 'reply' ? 'reply' : this.step === 'success2' ? 'success2' : undefined;
    if (msg.kind !== expected) return this.fail(AuthFailure.IncorrectMessage, `${msg.kind === 'other' ? `message 0x${msg.authId.toString(16)}` : msg.kind} at step ${this.step}`);
    if (msg.tid !== this.tid) return this.fail(AuthFailure.IncorrectPayload, `T_ID ${msg.tid}, expected ${this.tid}`);
    if (msg.kind === 'success2') {
      this.authenticated = true;
      this.step = 'done';
      return { result: 'success' };
    }
    return this.reply(msg);
  }

  /** Authentication Receive: the controller's next message, at most `al` bytes long. */
  receive(al: number): ReceiveResult {
    switch (this.step) {
      case 'challenge': {
        const hash = this.hash!;
        this.c1 = this.random.challenge(hash.len);
        this.s1 = this.random.seqnum();
        this.keys = this.group ? this.random.keyPair(this.group) : undefined;
        this.step = 'reply';
        const data = encodeChallenge({
          tid: this.tid, hashId: hash.id, dhGroup: this.group?.id ?? DhGroupId.Null, seqnum: this.s1, c1: this.c1,
          dhValue: this.keys?.publicValue ?? Buffer.alloc(0),
        });
        return this.fits(data, al);
      }
      case 'success1': {
        const hash = this.hash!;
        let r2: Buffer | undefined;
        if (this.c2) {
          r2 = controllerResponse({
            hash, key: transformKey(this.policy.ctrlKey!, this.subnqn), challenge: this.c2, sessionKey: this.sessionKey,
            seqnum: this.s2, tid: this.tid, hostnqn: this.hostnqn, subnqn: this.subnqn,
          });
        }
        const data = encodeSuccess1({ tid: this.tid, hl: hash.len, response: r2 });
        const result = this.fits(data, al);
        if (result.close) return result;
        this.step = r2 ? 'success2' : 'done';
        this.forgetSecrets();
        return r2 ? result : { ...result, event: { result: 'success' } };
      }
      case 'failure1':
        return this.failure1();
      default:
        this.fail(AuthFailure.IncorrectMessage, `Authentication Receive at step ${this.step}`);
        return this.failure1();
    }
  }

  private fits(data: Buffer, al: number): ReceiveResult {
    if (data.length <= al) return { data, close: false };
    // nvmet_auth_challenge refuses an AL shorter than the message; the host then reads a Failure1.
    this.fail(AuthFailure.IncorrectPayload, `Authentication Receive AL ${al} is shorter than the ${data.length}-byte message`);
    return this.failure1();
  }

  private failure1(): ReceiveResult {
    this.authenticated = false;
    this.failed = true;
    this.step = 'done';
    this.forgetSecrets();
    return {
      data: encodeFailure1(this.tid, this.failure),
      event: { result: 'failure', reason: `${authFailureName(this.failure)}: ${this.failureDetail}` },
      close: true,
    };
  }

  private fail(code: number, detail: string): undefined {
    this.failure = code;
    this.failureDetail = detail;
    this.step = 'failure1';
    return undefined;
  }

  private negotiate(msg: Extract<AuthMessage, { kind: 'negotiate' }>): AuthEvent | undefined {
    this.forgetSecrets();
    this.tid = msg.tid;
    this.hash = undefined;
    this.group = undefined;
    // Secure channel concatenation (TLS after DH-HMAC-CHAP) is not offered: SC_C must be 0 (nvmet_auth_negotiate).
    if (msg.scC !== 0) return this.fail(AuthFailure.ConcatMismatch, `secure channel concatenation (SC_C ${msg.scC}) is not supported`);
    const proto = msg.protocols.find((p) => p.authId === DHCHAP_AUTH_ID);
    if (!proto) return this.fail(AuthFailure.IncorrectPayload, 'no DH-HMAC-CHAP protocol descriptor');
    const hash = this.policy.hashes.find((h) => proto.hashes.includes(h.id));
    if (!hash) return this.fail(AuthFailure.HashUnusable, `host offers hashes [${proto.hashes}], allowed [${this.policy.hashes.map((h) => h.name)}]`);
    const gid = this.policy.dhGroups.find((g) => proto.dhGroups.includes(g));
    if (gid === undefined) return this.fail(AuthFailure.DhGroupUnusable, `host offers DH groups [${proto.dhGroups}], allowed [${this.policy.dhGroups}]`);
    this.hash = hash;
    this.group = gid === DhGroupId.Null ? undefined : dhGroupById(gid);
    this.step = 'challenge';
    return undefined;
  }

  private reply(msg: Extract<AuthMessage, { kind: 'reply' }>): AuthEvent | undefined {
    const hash = this.hash!;
    if (msg.hl !== hash.len) return this.fail(AuthFailure.HashUnusable, `HL ${msg.hl}, the negotiated hash's is ${hash.len}`);
    if (this.group) {
      if (msg.dhValue.length === 0) return this.fail(AuthFailure.IncorrectPayload, `no DH value for ${this.group.name}`);
      try {
        this.sessionKey = dhSharedSecret(this.group, this.keys!.privateKey, msg.dhValue);
      } catch (e) {
        return this.fail(AuthFailure.DhGroupUnusable, `host's DH value refused: ${(e as Error).message}`);
      }
    } else if (msg.dhValue.length !== 0) {
      return this.fail(AuthFailure.IncorrectPayload, 'a DH value with the null group');
    }
    const expected = hostResponse({
      hash, key: transformKey(this.policy.hostKey, this.hostnqn), challenge: this.c1!, sessionKey: this.sessionKey,
      seqnum: this.s1, tid: this.tid, hostnqn: this.hostnqn, subnqn: this.subnqn,
    });
    if (!timingSafeEqual(expected, msg.response)) return this.fail(AuthFailure.Failed, 'host response mismatch (wrong secret)');
    if (msg.cvalid) {
      if (!this.policy.ctrlKey) return this.fail(AuthFailure.Failed, 'host asked for bidirectional authentication but no controller key is configured');
      this.c2 = msg.c2;
      this.s2 = msg.seqnum;
    } else {
      this.c2 = undefined;
      this.authenticated = true;
    }
    this.step = 'success1';
    return undefined;
  }

  /** Challenges, DH keys and the session key live only for one transaction. */
  private forgetSecrets(): void {
    this.c1 = undefined;
    this.keys = undefined;
    this.sessionKey?.fill(0);
    this.sessionKey = undefined;
    if (this.step !== 'success1') this.c2 = undefined;
  }
}
