// Builds this project's OCI images without Docker, from root filesystems put
// together here (see images/README.md):
//   localhost/nvmeof-pause:<tag>     the sandbox image: images/pause, a static Go binary
//   localhost/nvmeof-target:<tag>    node + its libraries, /app/dist, /app/node_modules;
//                                    entrypoint `node --max-semi-space-size=4 /app/dist/target/main.js`
//   localhost/nvmeof-operator:<tag>  the same layers; entrypoint `node /app/dist/operator/main.js`
// Each tag is the start of the image's manifest digest, so changed code gives a new
// tag and rolls the pods. All three go into one OCI archive that
// `ctr -n k8s.io images import` loads into the cluster's containerd.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { TARGET_ENTRYPOINT } from '../../operator/builders/pod.js';
import { cacheDir, repoRoot } from './paths.js';
import { writeTar, type TarEntry } from './tar.js';
import { pinnedNodeVersion } from '../support/runtime.js';

export interface ImageSet {
  /** the sandbox ("pause") image, named in containerd's config */
  pause: string;
  /** `node --max-semi-space-size=4 /app/dist/target/main.js` (TARGET_ENTRYPOINT) */
  target: string;
  /** `node /app/dist/operator/main.js` */
  operator: string;
  /** the OCI archive holding all three (for `ctr -n k8s.io images import`) */
  archive: string;
}

export interface BuildImagesOptions {
  /** the checkout whose dist/ and node_modules/ go into the Node images (default: this one) */
  root?: string;
  /** where the pause binary is (default: the cache that test/cluster/prepare.sh fills) */
  pauseBinary?: string;
  /** print what is done (default true) */
  log?: (msg: string) => void;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

const LAYER = 'application/vnd.oci.image.layer.v1.tar';
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const NAME_ANNOTATION = 'io.containerd.image.name';

function storeDir(): string {
  return join(cacheDir(), 'images');
}
function blobPath(digest: string): string {
  return join(storeDir(), 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

function putBlob(data: Buffer, mediaType: string): Descriptor {
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  const p = blobPath(digest);
  if (!existsSync(p)) {
    mkdirSync(join(storeDir(), 'blobs', 'sha256'), { recursive: true });
    writeFileSync(`${p}.${process.pid}.tmp`, data);
    renameSync(`${p}.${process.pid}.tmp`, p);
  }
  return { mediaType, digest, size: data.length };
}

function putLayer(entries: TarEntry[]): Descriptor {
  mkdirSync(join(storeDir(), 'blobs', 'sha256'), { recursive: true });
  const tmp = join(storeDir(), 'blobs', `layer.${process.pid}.tmp`);
  const { digest, size } = writeTar(entries, tmp);
  const p = blobPath(digest);
  if (existsSync(p)) rmSync(tmp);
  else renameSync(tmp, p);
  return { mediaType: LAYER, digest, size };
}

/** Adds the parent directories of each path (tar readers want them, in order). */
function withParents(entries: TarEntry[]): TarEntry[] {
  const dirs = new Set(entries.filter((e) => e.type === 'dir').map((e) => e.path.replace(/\/+$/, '')));
  const extra: TarEntry[] = [];
  for (const e of entries) {
    const parts = e.path.replace(/^\/+/, '').split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        extra.push({ type: 'dir', path: d, mode: 0o755 });
      }
    }
  }
  return [...entries.map((e) => ({ ...e, path: e.path.replace(/^\/+/, '') })), ...extra];
}

/** The shared libraries that ldd lists for these ELF files: [path in image, real file]. */
function libraries(files: string[]): Map<string, string> {
  const libs = new Map<string, string>();
  for (const f of files) {
    const out = execFileSync('ldd', [f], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m) libs.set(m[1], realpathSync(m[1]));
    }
  }
  return libs;
}

function walk(dir: string, into: string, entries: TarEntry[], skip: (rel: string) => boolean, base = dir): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const rel = relative(base, p);
    if (skip(rel)) continue;
    const st = lstatSync(p);
    const target = join(into, rel);
    if (st.isSymbolicLink()) entries.push({ type: 'symlink', path: target, target: readlinkSync(p) });
    else if (st.isDirectory()) {
      entries.push({ type: 'dir', path: target, mode: st.mode & 0o7777 });
      walk(p, into, entries, skip, base);
    } else if (st.isFile()) entries.push({ type: 'file', path: target, mode: st.mode & 0o7777, source: p });
  }
}

function nodeBaseLayer(root: string): Descriptor {
  // The images carry the Node that runs this build: it must be the project's pinned release, which the
  // Dockerfiles name too (npm's scripts run everything under it; see scripts/prepare.sh).
  if (process.version !== pinnedNodeVersion()) {
    throw new Error(`the images would carry Node ${process.version}, not the pinned ${pinnedNodeVersion()}: run through npm (npm test, npm start), which puts the pinned Node first on PATH`);
  }
  const node = realpathSync(process.execPath);
  const addons: string[] = [];
  const findAddons = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) findAddons(p);
      else if (st.isFile() && name.endsWith('.node')) addons.push(p);
    }
  };
  if (existsSync(join(root, 'node_modules'))) findAddons(join(root, 'node_modules'));
  const entries: TarEntry[] = [
    { type: 'file', path: 'usr/bin/node', mode: 0o755, source: node },
    { type: 'symlink', path: 'bin', target: 'usr/bin' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'app', mode: 0o755 },
    { type: 'data', path: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n') },
    { type: 'data', path: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { type: 'data', path: 'etc/nsswitch.conf', data: Buffer.from('hosts: files dns\n') },
    { type: 'dir', path: 'root', mode: 0o700 },
  ];
  for (const [inImage, real] of libraries([node, ...addons])) {
    entries.push({ type: 'file', path: inImage, mode: 0o755, source: real });
  }
  return putLayer(withParents(entries));
}

function appLayer(root: string): Descriptor {
  const entries: TarEntry[] = [{ type: 'dir', path: 'app', mode: 0o755 }];
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  entries.push({ type: 'file', path: 'app/package.json', mode: 0o644, source: join(root, 'package.json') });
  const dist = join(root, 'dist');
  if (existsSync(dist)) {
    entries.push({ type: 'dir', path: 'app/dist', mode: 0o755 });
    // The test code is not part of the product: leaving it out keeps tags steady while tests change.
    walk(dist, 'app/dist', entries, (rel) => rel === 'test');
  }
  const nm = join(root, 'node_modules');
  if (existsSync(nm)) {
    const dev = new Set(Object.keys(pkg.devDependencies ?? {}));
    entries.push({ type: 'dir', path: 'app/node_modules', mode: 0o755 });
    walk(nm, 'app/node_modules', entries, (rel) => dev.has(rel) || rel === '.cache');
  }
  return putLayer(withParents(entries));
}

function image(layers: Descriptor[], entrypoint: string[], title: string): Descriptor {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {
      Entrypoint: entrypoint,
      // NODE_VERSION as the official node images set it (without the v), for the Node images only.
      Env: ['PATH=/usr/bin:/bin', 'NODE_ENV=production', ...(entrypoint[0] === 'node' ? [`NODE_VERSION=${process.version.slice(1)}`] : [])],
      WorkingDir: entrypoint[0] === '/pause' ? '/' : '/app',
      Labels: { 'org.opencontainers.image.title': title },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    history: layers.map(() => ({ created_by: 'test/cluster/images.ts' })),
  };
  const cfg = putBlob(Buffer.from(JSON.stringify(config)), CONFIG);
  const manifest = { schemaVersion: 2, mediaType: MANIFEST, config: cfg, layers };
  return putBlob(Buffer.from(JSON.stringify(manifest)), MANIFEST);
}

function refOf(name: string, manifest: Descriptor): string {
  return `localhost/${name}:${manifest.digest.slice('sha256:'.length, 'sha256:'.length + 16)}`;
}

/**
 * Builds (or finds, when nothing changed) the three images and their archive.
 * dist/ should be compiled first; whatever it holds is packaged.
 */
export function buildImages(opts: BuildImagesOptions = {}): ImageSet {
  const root = opts.root ?? repoRoot;
  const log = opts.log ?? ((m: string) => console.log(m));
  const t0 = Date.now();
  const pauseBin = opts.pauseBinary ?? join(cacheDir(), 'images', 'pause');
  if (!existsSync(pauseBin)) {
    throw new Error(`images: the pause binary ${pauseBin} is missing: run \`bash test/cluster/prepare.sh\``);
  }
  const pauseLayer = putLayer(withParents([{ type: 'file', path: 'pause', mode: 0o755, source: pauseBin }]));
  const base = nodeBaseLayer(root);
  const app = appLayer(root);
  const manifests: [string, Descriptor][] = [
    ['nvmeof-pause', image([pauseLayer], ['/pause'], 'nvmeof-pause')],
    ['nvmeof-target', image([base, app], TARGET_ENTRYPOINT, 'nvmeof-target')],
    ['nvmeof-operator', image([base, app], ['node', '/app/dist/operator/main.js'], 'nvmeof-operator')],
  ];
  const refs = manifests.map(([name, m]) => refOf(name, m));
  const setId = createHash('sha256').update(refs.join('\n')).digest('hex').slice(0, 16);
  const archive = join(storeDir(), 'archives', `nvmeof-images-${setId}.oci.tar`);
  if (!existsSync(archive)) {
    mkdirSync(join(storeDir(), 'archives'), { recursive: true });
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: manifests.map(([, m], i) => ({
        ...m,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { [NAME_ANNOTATION]: refs[i], 'org.opencontainers.image.ref.name': refs[i].split(':')[1] },
      })),
    };
    const blobs = new Set<string>();
    for (const [, m] of manifests) {
      blobs.add(m.digest);
      const man = JSON.parse(readFileSync(blobPath(m.digest), 'utf8')) as { config: Descriptor; layers: Descriptor[] };
      blobs.add(man.config.digest);
      for (const l of man.layers) blobs.add(l.digest);
    }
    const entries: TarEntry[] = [
      { type: 'data', path: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
      { type: 'data', path: 'index.json', data: Buffer.from(JSON.stringify(index)) },
      ...[...blobs].map((d): TarEntry => ({ type: 'file', path: `blobs/sha256/${d.slice(7)}`, mode: 0o644, source: blobPath(d) })),
    ];
    writeTar(withParents(entries), `${archive}.${process.pid}.tmp`);
    renameSync(`${archive}.${process.pid}.tmp`, archive);
    writeFileSync(archive + '.json', JSON.stringify({ refs, blobs: [...blobs] }, null, 1));
    prune(archive);
    log(`images: built ${refs.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${archive})`);
  } else {
    log(`images: unchanged ${refs.join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  return { pause: refs[0], target: refs[1], operator: refs[2], archive };
}

/** Keeps the newest few archives and the blobs they use; the store would grow with every change. */
function prune(current: string, keep = 3): void {
  const dir = join(storeDir(), 'archives');
  const archives = readdirSync(dir)
    .filter((n) => n.endsWith('.oci.tar'))
    .map((n) => join(dir, n))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const kept = [current, ...archives.filter((a) => a !== current).slice(0, keep - 1)];
  for (const a of archives) {
    if (!kept.includes(a)) {
      rmSync(a, { force: true });
      rmSync(a + '.json', { force: true });
    }
  }
  const used = new Set<string>();
  for (const a of kept) {
    try {
      for (const d of (JSON.parse(readFileSync(a + '.json', 'utf8')) as { blobs: string[] }).blobs) used.add(d.slice(7));
    } catch {
      return; // an archive without its list: keep every blob
    }
  }
  const bdir = join(storeDir(), 'blobs', 'sha256');
  for (const n of readdirSync(bdir)) {
    // Only blobs older than a minute: another build may be writing its own right now.
    if (!used.has(n) && Date.now() - statSync(join(bdir, n)).mtimeMs > 60_000) rmSync(join(bdir, n), { force: true });
  }
}
