// Builds cload (the C load generator in this folder) with the machine's C compiler, once per content:
//
//   ${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}/cload/<hash>/cload
//
// where <hash> covers the compiler's identity, the flags, every .c and .h here and the generated wire.h
// (wire.ts, from target/protocol/*.ts), so a change to any of them builds anew and an unchanged tree only
// hashes (about 10 ms). The build takes about 1 s on 2 cores. A missing compiler is an error saying what to
// install (scripts/prepare.sh installs build-essential, which brings cc).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from '../../cluster/paths.js';
import { wireHeader } from './wire.js';

/** -O2, C11 with the GNU/Linux interfaces (epoll, getrandom, MSG_NOSIGNAL). */
const CFLAGS = ['-O2', '-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-g0'];
export const CLOAD_SOURCES = join(repoRoot, 'test', 'bench', 'cload');

function compiler(): { cc: string; identity: string } {
  const cc = process.env.CC || 'cc';
  const v = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) {
    throw new Error(`cload: no C compiler: \`${cc} --version\` failed (${v.error?.message ?? v.stderr.trim()}); ` +
      'install build-essential (apt-get install build-essential) or gcc, or set CC');
  }
  return { cc, identity: v.stdout };
}

/** The path of the cload binary for the sources as they are, built if the cache lacks it. */
export function cloadBinary(): string {
  const { cc, identity } = compiler();
  const sources = readdirSync(CLOAD_SOURCES).filter((f) => /\.[ch]$/.test(f)).sort();
  const header = wireHeader();
  const h = createHash('sha256').update(identity).update(CFLAGS.join(' ')).update(header);
  for (const f of sources) h.update(`\0${f}\0`).update(readFileSync(join(CLOAD_SOURCES, f)));
  const dir = join(cacheDir(), 'cload', h.digest('hex').slice(0, 16));
  const bin = join(dir, 'cload');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'wire.h'), header);
  const tmp = `${bin}.tmp.${process.pid}`;
  const r = spawnSync(cc, [...CFLAGS, '-I', dir, '-o', tmp, ...sources.filter((f) => f.endsWith('.c')).map((f) => join(CLOAD_SOURCES, f))], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`cload: ${cc} failed building ${bin}:\n${r.error?.message ?? ''}${r.stderr}`);
  if (r.stderr.trim()) process.stderr.write(`cload: ${cc} warnings:\n${r.stderr}`);
  renameSync(tmp, bin);
  return bin;
}
