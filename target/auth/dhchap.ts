// The DH-HMAC-CHAP computations (NVMe Base 2.1, 8.3.4.5.3-5), as the Linux host and target compute them
// (drivers/nvme/host/auth.c nvme_auth_dhchap_setup_host_response / _ctrl_response, drivers/nvme/target/auth.c
// nvmet_auth_host_hash / nvmet_auth_ctrl_hash, drivers/nvme/common/auth.c nvme_auth_augmented_challenge).
// Pure functions of their inputs: the state machine (queue-auth.ts) supplies the random values.
//
//   Ca = C, or with a DH group HMAC(H(session key), C)                       (the augmented challenge)
//   R1 = HMAC(Kh, Ca1 || le32 S1 || le16 T_ID || 00h || "HostHost"   || hostnqn || 00h || subnqn)
//   R2 = HMAC(Kc, Ca2 || le32 S2 || le16 T_ID || 00h || "Controller" || subnqn  || 00h || hostnqn)
// Kh is the host key transformed with the host NQN, Kc the controller key with the subsystem NQN
// (secret.ts); H and HMAC use the negotiated hash. The 00h after T_ID is SC_C (secure channel
// concatenation, which this target refuses, so always 0).
import { createHash, createHmac } from 'node:crypto';
import type { HashInfo } from './hashes.js';

export function augmentedChallenge(hash: HashInfo, sessionKey: Buffer | undefined, challenge: Buffer): Buffer {
  if (!sessionKey) return challenge;
  const hashedKey = createHash(hash.name).update(sessionKey).digest();
  return createHmac(hash.name, hashedKey).update(challenge).digest();
}

interface ResponseInput {
  hash: HashInfo;
  /** The transformed key (Kh or Kc). */
  key: Buffer;
  challenge: Buffer;
  sessionKey: Buffer | undefined;
  seqnum: number;
  tid: number;
  hostnqn: string;
  subnqn: string;
}

function response(input: ResponseInput, role: 'HostHost' | 'Controller', first: string, second: string): Buffer {
  const tail = Buffer.alloc(7);
  tail.writeUInt32LE(input.seqnum >>> 0, 0);
  tail.writeUInt16LE(input.tid & 0xffff, 4);
  tail[6] = 0; // SC_C
  return createHmac(input.hash.name, input.key)
    .update(augmentedChallenge(input.hash, input.sessionKey, input.challenge))
    .update(tail)
    .update(role, 'latin1')
    .update(first, 'utf8')
    .update(Buffer.from([0]))
    .update(second, 'utf8')
    .digest();
}

/** R1: what a host with key Kh answers to challenge C1 with sequence number S1. */
export function hostResponse(input: ResponseInput): Buffer {
  return response(input, 'HostHost', input.hostnqn, input.subnqn);
}

/** R2: what the controller answers to the host's challenge C2 with S2 (bidirectional authentication). */
export function controllerResponse(input: ResponseInput): Buffer {
  return response(input, 'Controller', input.subnqn, input.hostnqn);
}
