// What the TLS acceptance tests share (linux-tls.test.ts, linux-tls-kill.test.ts): the host NQN and keys, the
// target's configuration with a TLS listener, and the guest's setup (its host NQN, the tls and gcm modules,
// tlshd with the .nvme keyring, PSKs inserted by nvme-cli 2.13). Ports 4580-4599 are these tests'.
import { join } from 'node:path';
import { formatInterchangePsk } from '../../target/tls/psk.js';

export const TLS_NQN = 'nqn.2026-01.io.nvmeof.test:tls';
export const TLS_HOST = 'nqn.2014-08.org.nvmexpress:uuid:7d1f3c2a-9b8e-4c6d-a5f4-2e1b0c9d8a71';
export const TLS_KEY = formatInterchangePsk({ transform: 1, key: Buffer.from('6e766d656f662d6f70657261746f722074657374206b6579203230323620544c', 'hex') });
export const TLS_WRONG_KEY = formatInterchangePsk({ transform: 1, key: Buffer.alloc(32, 0x42) });

/** One subsystem, a file namespace and a state file, listening with TLS on each of `listeners`. */
export function tlsConfig(dir: string, listeners: Array<{ port: number; tls: 'required' | 'allowed' }>, metricsPort?: number): object {
  return {
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{
      nqn: TLS_NQN, hosts: [TLS_HOST],
      listeners: listeners.map((l) => ({ address: '127.0.0.1', ...l })),
      namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 256 << 20 } }],
      stateFile: join(dir, 'state.bin'),
      tlsPsks: [{ host: TLS_HOST, pskFile: join(dir, 'host.psk') }],
    }],
    ...(metricsPort ? { metrics: { address: '127.0.0.1', port: metricsPort } } : {}),
  };
}

/** The guest's side: its host NQN, tlshd with the .nvme keyring, the tls module and kTLS's gcm(aes). */
export const TLS_HOST_SETUP = String.raw`
echo ${TLS_HOST} >/etc/nvme/hostnqn
modprobe tls || die "no tls module"
# kTLS takes over the session after tlshd's handshake and asks the crypto API for gcm(aes).
modprobe gcm && modprobe ghash_generic || die "no gcm/ghash_generic module for kTLS"
printf '[debug]\nloglevel=1\ntls=0\nnl=0\n[authenticate]\nkeyrings=.nvme\n[authenticate.client]\n[authenticate.server]\n' >/etc/tlshd.conf
tlshd -s >/tmp/tlshd.log 2>&1 &
insert_psk() {
  # Both identity versions by default, as nvme-cli 2.13 derives them (6.12 offers version 1 when it has it).
  for v in ${'$'}{2:-0 1}; do nvme check-tls-key --keydata="$1" --hostnqn=${TLS_HOST} --subsysnqn=${TLS_NQN} --identity=$v --insert >/dev/null || die "check-tls-key --insert v$v"; done
}
clear_psks() { keyctl clear %:.nvme || die "keyctl clear"; }
`;

/** The target's JSON log lines. */
export function logRecords(lines: string[]): Array<Record<string, string>> {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>);
}
