// Helm for the chart tests: the helm v3 that test/cluster/prepare.sh builds into the cache, run on
// charts/nvmeof-operator, and the objects `helm template` renders.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { cacheDir, HELM_VERSION, repoRoot } from '../cluster/paths.js';

export const CHART = join(repoRoot, 'charts', 'nvmeof-operator');
/** The cluster's Kubernetes release: `helm template` otherwise assumes v1.20, below the chart's kubeVersion. */
export const KUBE_VERSION = '1.34.4';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The helm binary, or an error that says what builds it. */
export function helmBinary(): string {
  const p = join(cacheDir(), 'helm', HELM_VERSION, 'helm');
  try {
    accessSync(p, constants.X_OK);
  } catch {
    throw new Error(
      `helm ${HELM_VERSION} is missing: ${p} is not built; run \`bash test/cluster/prepare.sh\` (as root; \`npm test\` runs it), ` +
        'which builds it with `go install helm.sh/helm/v3/cmd/helm@' + HELM_VERSION + '`',
    );
  }
  return p;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `--set`-style pairs and extra flags to `helm template`; resolves to the rendered objects. */
export function template(opts: { set?: string[]; values?: string; extra?: string[]; release?: string; namespace?: string } = {}): K8sObject[] {
  const r = templateResult(opts);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return (yaml.loadAll(r.stdout) as (K8sObject | null)[]).filter((o): o is K8sObject => o !== null);
}

export function templateResult(opts: { set?: string[]; values?: string; extra?: string[]; release?: string; namespace?: string } = {}): HelmResult {
  const args = ['template', opts.release ?? 'nvmeof-operator', CHART, '-n', opts.namespace ?? 'nvmeof-system', '--kube-version', KUBE_VERSION];
  for (const s of opts.set ?? []) args.push('--set', s);
  if (opts.values) args.push('-f', opts.values);
  args.push(...(opts.extra ?? []));
  return helm(args);
}

export function find<T = K8sObject>(objs: K8sObject[], kind: string, name?: string): T {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o as T;
}
