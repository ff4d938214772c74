// A subsystem's authentication (spec.authentication, spec.listener.tls) in its pod and in its target's
// configuration (issue 21, 3). Pure.
//
// Invariants:
// - the operator never reads a Secret (its RBAC has no right on Secrets: operator/deploy/manifests.ts): the
//   pod mounts the one Secret spec.authentication names, and the target's configuration names key files
//   under that mount, one per Secret data key the spec lists; the target reads, checks and re-reads them;
// - the Secret volume has no items list, so a key added to the Secret appears in the running pod without a
//   change of the pod; it is optional, so a missing Secret starts the target, which then reports the missing
//   key file naming the host (Ready=False, KeyInvalid) rather than a pod stuck in ContainerCreating;
// - a resource without authentication and TLS renders no volume and no configuration field at all: its pod
//   and its hash are what they were before these fields existed (no roll at the operator's upgrade).
import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { NvmeofSubsystemSpec } from '../api/types.js';

/** Where the Secret is mounted in the target container. */
export const AUTH_MOUNT = '/etc/nvmeof-auth';
export const AUTH_VOLUME = 'auth';

type Spec = Pick<NvmeofSubsystemSpec, 'authentication' | 'listener' | 'allowAnyHost' | 'hosts'>;

/**
 * What the CRD's CEL rules refuse, said again for a resource that reached the operator some other way: keys
 * mean nothing when any host may connect, a host with keys must be in the host list, and a TLS listener
 * without a single PSK would refuse every host. (The target's validator checks the rest: the key names' files.)
 */
export function authProblem(spec: Spec): string | undefined {
  const a = spec.authentication;
  if (a && spec.allowAnyHost) return 'spec.authentication requires a host list: it cannot be used with allowAnyHost';
  const outside = (a?.hosts ?? []).find((h) => !(spec.hosts ?? []).includes(h.nqn));
  if (outside) return `spec.authentication.hosts: ${outside.nqn} is not in spec.hosts`;
  if (listenerTls(spec).tls && !(a?.hosts ?? []).some((h) => h.tlsPsk !== undefined)) {
    return `spec.listener.tls ${spec.listener!.tls} needs at least one host with a tlsPsk in spec.authentication.hosts`;
  }
  return undefined;
}

/** The Secret volume and its mount, or nothing without spec.authentication. */
export function authVolume(spec: Spec): { volume: V1Volume; mount: V1VolumeMount } | undefined {
  const a = spec.authentication;
  if (!a) return undefined;
  return {
    // 0400: only the target (root in its container) reads the keys.
    volume: { name: AUTH_VOLUME, secret: { secretName: a.secretName, optional: true, defaultMode: 0o400 } },
    mount: { name: AUTH_VOLUME, mountPath: AUTH_MOUNT, readOnly: true },
  };
}

const keyFile = (key: string) => `${AUTH_MOUNT}/${key}`;

/** The subsystem's `dhchap` and `tlsPsks` in the target's configuration (target/config/config.ts), each only when some host has one. */
export function authConfig(spec: Spec): { dhchap?: unknown[]; tlsPsks?: unknown[] } {
  const hosts = spec.authentication?.hosts ?? [];
  const dhchap = hosts.filter((h) => h.dhchapKey !== undefined).map((h) => ({
    host: h.nqn,
    keyFile: keyFile(h.dhchapKey!),
    ...(h.dhchapCtrlKey !== undefined ? { ctrlKeyFile: keyFile(h.dhchapCtrlKey) } : {}),
    ...(h.dhchapHashes !== undefined ? { hashes: h.dhchapHashes } : {}),
    ...(h.dhchapGroups !== undefined ? { dhGroups: h.dhchapGroups } : {}),
  }));
  const tlsPsks = hosts.filter((h) => h.tlsPsk !== undefined).map((h) => ({ host: h.nqn, pskFile: keyFile(h.tlsPsk!) }));
  return { ...(dhchap.length > 0 ? { dhchap } : {}), ...(tlsPsks.length > 0 ? { tlsPsks } : {}) };
}

/** The listener's TLS mode in the target's configuration: absent for off, as the target renders it. */
export function listenerTls(spec: Spec): { tls?: 'required' | 'allowed' } {
  const t = spec.listener?.tls;
  return t === 'required' || t === 'allowed' ? { tls: t } : {};
}

/**
 * A target's termination message that says a key file is missing or malformed: the DH-HMAC-CHAP keys'
 * (target/auth/host-keys.ts: "subsystem S, host H: keyFile F cannot be read (ENOENT)") and the TLS PSKs'
 * (target/tls/keys.ts: "subsystems[0].tlsPsks[0] (host H): cannot read the key file F: ENOENT"). Both name
 * the host and the file, never the key.
 */
export const KEY_INVALID = /\bhost \S+?\)?: (?:keyFile|ctrlKeyFile|cannot read the key file|the key file)\b/;
