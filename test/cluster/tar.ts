// A small, deterministic tar writer (ustar, with PAX records for long names).
// Used to build OCI image layers and archives without Docker: the same files give
// the same bytes (mtime 0, uid/gid 0, sorted entries), so tags derived from the
// digest change only when the content does.
import { closeSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';

export type TarEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; source: string }
  | { type: 'data'; path: string; mode?: number; data: Buffer }
  | { type: 'symlink'; path: string; target: string };

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, mode: number, typeflag: string, linkname = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(mode & 0o7777, 8), 100, 'ascii');
  b.write(octal(0, 8), 108, 'ascii');
  b.write(octal(0, 8), 116, 'ascii');
  b.write(octal(size, 12), 124, 'ascii');
  b.write(octal(0, 12), 136, 'ascii');
  b.fill(' ', 148, 156);
  b.write(typeflag, 156, 'ascii');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(octal(sum, 7) + ' ', 148, 'ascii');
  return b;
}

function pad(size: number): Buffer {
  const r = size % 512;
  return Buffer.alloc(r === 0 ? 0 : 512 - r);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Writes `entries` (sorted by path first) as a tar stream; returns its sha256 and size. */
export function writeTar(entries: TarEntry[], outFile: string): { digest: string; size: number } {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const fd = openSync(outFile, 'w');
  const hash: Hash = createHash('sha256');
  let size = 0;
  const out = (buf: Buffer) => {
    if (buf.length === 0) return;
    writeSync(fd, buf);
    hash.update(buf);
    size += buf.length;
  };
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (const e of sorted) {
      let name = e.path.replace(/^\/+/, '');
      if (e.type === 'dir' && !name.endsWith('/')) name += '/';
      const link = e.type === 'symlink' ? e.target : '';
      if (Buffer.byteLength(name) > 100 || Buffer.byteLength(link) > 100) {
        let pax = paxRecord('path', name);
        if (link) pax += paxRecord('linkpath', link);
        const data = Buffer.from(pax, 'utf8');
        out(header('PaxHeader', data.length, 0o644, 'x'));
        out(data);
        out(pad(data.length));
        name = name.slice(0, 99);
      }
      if (e.type === 'dir') out(header(name, 0, e.mode ?? 0o755, '5'));
      else if (e.type === 'symlink') out(header(name, 0, 0o777, '2', link.slice(0, 100)));
      else if (e.type === 'data') {
        out(header(name, e.data.length, e.mode ?? 0o644, '0'));
        out(e.data);
        out(pad(e.data.length));
      } else {
        const src = openSync(e.source, 'r');
        try {
          const st = fstatSync(src);
          out(header(name, st.size, e.mode ?? st.mode, '0'));
          let left = st.size;
          while (left > 0) {
            const n = readSync(src, chunk, 0, Math.min(chunk.length, left), null);
            if (n <= 0) throw new Error(`tar: ${e.source} shrank while being read`);
            out(chunk.subarray(0, n));
            left -= n;
          }
          out(pad(st.size));
        } finally {
          closeSync(src);
        }
      }
    }
    out(Buffer.alloc(1024));
  } finally {
    closeSync(fd);
  }
  return { digest: 'sha256:' + hash.digest('hex'), size };
}
