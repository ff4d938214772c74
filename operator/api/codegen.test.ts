// generated.ts is what the CRD makes of it now, and the types read the schema as the operator means them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import * as yaml from 'js-yaml';
import { GENERATE_COMMAND } from '../deploy/chart.js';
import { crdDir } from '../install.js';
import { CRD_FILE, GENERATED_TYPES, generatedTypes, typesFile } from './codegen.js';

test(`operator/api/generated.ts is current (else run \`${GENERATE_COMMAND}\`)`, () => {
  const f = typesFile();
  assert.equal(f.path, GENERATED_TYPES);
  assert.equal(f.source, `crds/${CRD_FILE}`);
  assert.equal(readFileSync(join(resolve(crdDir(), '..'), f.path), 'utf8'), f.text, `${f.path} is stale: run \`${GENERATE_COMMAND}\``);
});

test('the schema read as types: names, optionality, enums, int-or-string, client types, descriptions as doc comments', () => {
  const text = typesFile().text;
  for (const line of [
    "  apiVersion: 'nvmeof.io/v1alpha1';",
    "  kind: 'NvmeofSubsystem';",
    '  metadata: V1ObjectMeta;',
    '  spec: NvmeofSubsystemSpec;',
    '  status?: NvmeofSubsystemStatus;',
    '  namespaces: NamespaceSpec[];',
    '  size?: string | number;',
    "export type BlockSize = 512 | 4096;",
    '  memory?: Record<string, never>;',
    '  nodeSelector?: Record<string, string>;',
    '  tolerations?: V1Toleration[];',
    '  resources?: V1ResourceRequirements;',
    "  type: 'Ready' | 'Progressing' | 'Degraded' | 'ConfigApplied';",
    '  outcomes: RecoveryOutcomes;',
    '  backing?: BackingSpec;',
    '  retiredNamespaces?: RetiredNamespaceStatus[];',
    '  /** What the identifiers were issued for. */',
  ]) {
    assert.ok(text.split('\n').includes(line), line);
  }
  assert.equal(text.match(/^export interface BackingSpec /gm)?.length, 1, 'the status backings are the spec\'s type');
  assert.match(text, /^import type \{ V1ObjectMeta, V1ResourceRequirements, V1Toleration \} from '@kubernetes\/client-node';$/m);
});

test('a table entry for a field the CRD no longer has fails the generation; so do two shapes under one name', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const crd = () => yaml.load(readFileSync(join(crdDir(), CRD_FILE), 'utf8')) as any;
  const gone = crd();
  delete gone.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.recovery.properties.outcomes;
  assert.throws(() => generatedTypes(gone, 'x'), /status\.recovery\.outcomes/);
  const differ = crd();
  differ.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.namespaces.items.properties.backing.properties.file.required = [];
  assert.throws(() => generatedTypes(differ, 'x'), /BackingSpec names .* differ in shape/);
});
