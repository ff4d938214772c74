// Where a subsystem's files live, and the checks that keep a resource from reaching beyond them.
//
// Invariants (a resource author must not gain the node):
// - each subsystem owns exactly `<hostPathRoot>/<namespace>/<name>/` on its node; the target pod
//   mounts only that directory (at SUBSYSTEM_MOUNT), so a symlink inside it resolves within the
//   container's own filesystem, never the node's (file-only pods are not privileged);
// - a file backing is a relative path inside that directory: no absolute path, no `..`, no `.`, no
//   empty segment, not the state file;
// - a block device is used only when the operator's own configuration allow-lists it.
import { posix } from 'node:path';

/** Where the subsystem's directory is mounted inside the target pod. */
export const SUBSYSTEM_MOUNT = '/var/lib/nvmeof/subsystem';
/** The target's state file, inside the subsystem's directory. */
export const STATE_FILE = 'state.bin';
/** Where the target's configuration (the ConfigMap) is mounted. */
export const CONFIG_MOUNT = '/etc/nvmeof';
export const CONFIG_FILE = 'config.json';

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** `<root>/<namespace>/<name>` on the node. Namespace and name are DNS names, checked again here. */
export function subsystemHostDir(root: string, namespace: string, name: string): Checked<string> {
  if (!posix.isAbsolute(root) || posix.normalize(root) !== root.replace(/\/+$/, '') || root === '/') {
    return { ok: false, problem: `hostPath root ${JSON.stringify(root)} must be an absolute, normalized path other than /` };
  }
  for (const [what, v] of [['namespace', namespace], ['name', name]] as const) {
    if (!DNS_SUBDOMAIN.test(v) || v.length > 253) return { ok: false, problem: `${what} ${JSON.stringify(v)} is not a DNS subdomain` };
  }
  return { ok: true, value: posix.join(root, namespace, name) };
}

/** The in-container path of a file backing given relative to the subsystem's directory. */
export function fileBackingPath(rel: string): Checked<string> {
  if (rel.length === 0 || rel.length > 200) return { ok: false, problem: 'file path must be 1 to 200 characters' };
  if (rel.startsWith('/')) return { ok: false, problem: `file path ${JSON.stringify(rel)} must be relative to the subsystem's directory` };
  const segments = rel.split('/');
  for (const s of segments) {
    if (s === '..' || s === '.' || s === '') return { ok: false, problem: `file path ${JSON.stringify(rel)} must not contain '..', '.' or empty segments` };
    if (!SEGMENT.test(s)) return { ok: false, problem: `file path segment ${JSON.stringify(s)} may use only letters, digits, '.', '_' and '-', and not start with '.' or '-'` };
  }
  if (rel === STATE_FILE) return { ok: false, problem: `${STATE_FILE} is the subsystem's state file` };
  const path = posix.join(SUBSYSTEM_MOUNT, rel);
  // Belt and braces: after normalization the path must still be strictly inside the mount.
  if (!path.startsWith(SUBSYSTEM_MOUNT + '/')) return { ok: false, problem: `file path ${JSON.stringify(rel)} leaves the subsystem's directory` };
  return { ok: true, value: path };
}

/**
 * Whether a device path is on the allow-list. Entries are exact paths, or a prefix ending in `*`
 * that matches one more path segment (`/dev/disk/by-id/nvme-*`); `..` never matches.
 */
export function deviceAllowed(device: string, allowList: readonly string[]): boolean {
  if (!device.startsWith('/dev/') || device.split('/').some((s) => s === '..' || s === '.') || posix.normalize(device) !== device) return false;
  return allowList.some((entry) => {
    if (entry.endsWith('*')) {
      const prefix = entry.slice(0, -1);
      const rest = device.slice(prefix.length);
      return device.startsWith(prefix) && rest.length > 0 && !rest.includes('/');
    }
    return entry === device;
  });
}
