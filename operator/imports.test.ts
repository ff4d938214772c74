// The operator reaches the target only through target/contract.ts: every import (static, dynamic or
// re-export) of any operator/ file, tests included, that lands in target/ names that module.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// This file runs as dist/operator/imports.test.js; the sources are read, not the build's output.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONTRACT = 'target/contract';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The module specifiers of `import ... from`, `import '...'`, `export ... from` and `import('...')`. */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*(['"])([^'"]+)\1/g)) out.push(m[2]);
  return out;
}

/** The target/ modules other than the contract that `file` (a path under the repository) imports. */
export function forbiddenImports(file: string, text: string): string[] {
  return specifiers(text).filter((s) => {
    if (!s.startsWith('.')) return false;
    const to = relative(root, resolve(dirname(file), s)).replace(/\.(js|ts)$/, '');
    return to.startsWith('target/') && to !== CONTRACT;
  });
}

test('the specifiers and the verdict, on made-up sources', () => {
  const at = join(root, 'operator/builders/x.ts');
  const text = [
    "import { a } from '../../target/contract.js';",
    "import type { B } from '../../target/config/config.js';",
    "import {\n  c,\n} from \"../../target/subsystem/identity.js\";",
    "export { d } from '../../target/node-flags.js';",
    "import '../../target/log.js';",
    "const e = await import('../../target/resume/layout.js');",
    "import { f } from './target/not-the-target.js';",
    "import { g } from '@kubernetes/client-node';",
  ].join('\n');
  assert.deepEqual(forbiddenImports(at, text), [
    '../../target/config/config.js', '../../target/subsystem/identity.js', '../../target/node-flags.js', '../../target/log.js',
    '../../target/resume/layout.js',
  ]);
});

test('no operator/ file imports a target/ module other than target/contract.ts', () => {
  const files = sources(join(root, 'operator'));
  assert.ok(files.length > 50, `operator/ sources found under ${root}`);
  const offenders = files.flatMap((f) => forbiddenImports(f, readFileSync(f, 'utf8')).map((s) => `${relative(root, f)}: ${s}`));
  assert.deepEqual(offenders, [], 'import these through target/contract.ts (export them there if the operator may use them)');
  assert.ok(files.some((f) => specifiers(readFileSync(f, 'utf8')).some((s) => s.endsWith('target/contract.js'))), 'the contract is used');
});
