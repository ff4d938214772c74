// How far a TCP socket's stream has gone through the kernel, whoever held it: the bytes read from it
// (consumed) and written to it (written), from the safe-mmap addon's tcpPositions (native/safe-mmap:
// tcpi_bytes_received - SIOCINQ and tcpi_bytes_acked + SIOCOUTQ, FINs left out, read as a consistent
// snapshot). Direct sockets (resume/direct-socket.ts) need it: a worker killed between a read and its rx
// tail store, or between a write and its tx head store, leaves the rings behind the socket, and only the
// kernel knows by how much. Without the addon (not built, no cc) direct sockets are off (proxied path).
import { createRequire } from 'node:module';
import { ADDON_PATH } from '../subsystem/backends/mapped.js';

interface TcpAddon {
  tcpPositions?(fd: number): [number, number];
}

let addon: TcpAddon | null | undefined;
let why = '';

function load(): TcpAddon | undefined {
  if (addon === undefined) {
    addon = null;
    try {
      const a = createRequire(import.meta.url)(ADDON_PATH) as TcpAddon;
      if (typeof a.tcpPositions === 'function') addon = a;
      else why = `${ADDON_PATH} has no tcpPositions (built from an older source)`;
    } catch (e) {
      why = `${ADDON_PATH} does not load (${(e as Error).message}); scripts/prepare.sh builds it`;
    }
  }
  return addon ?? undefined;
}

/** Why tcpPositions is unavailable, or undefined when it is available. */
export function tcpPositionsMissing(): string | undefined {
  return load() ? undefined : why;
}

/** The socket's stream positions as u32 (ring positions are mod 2^32): [consumed, written]. Throws on a bad fd. */
export function tcpPositions(fd: number): { consumed: number; written: number } {
  const a = load();
  if (!a?.tcpPositions) throw new Error(`tcpPositions: ${why}`);
  const [consumed, written] = a.tcpPositions(fd);
  // Exact below 2^53 (doubles); the low 32 bits are what the rings count.
  return { consumed: Number(BigInt(consumed) & 0xffffffffn), written: Number(BigInt(written) & 0xffffffffn) };
}
