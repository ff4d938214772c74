// Writes operator/api/generated.ts, the resource's TypeScript types, from the CRD's schema: the CRD
// (crds/nvmeofsubsystems.nvmeof.io.yaml) is the one source of the fields and of their descriptions, which
// become the types' doc comments, so `kubectl explain` and an editor's hover say the same thing.
// `npm run generate` (scripts/generate-chart.mjs) writes the file; codegen.test.ts fails when it is stale.
//
// The schema alone gives field names, optionality (required), enums as literal unions, int-or-string as
// `string | number`, maps (additionalProperties) and arrays. What TypeScript says beyond it is in the
// tables below, by schema path ('' is the resource, `a.b[]` the items of the list a.b): which objects and
// enums get an exported name, which fields are the client library's own types, and the few places the
// types promise more than the apiserver checks (what the operator itself always writes).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as yaml from 'js-yaml';
import { GENERATE_COMMAND } from '../deploy/chart.js';
import { crdDir } from '../install.js';

export const CRD_FILE = 'nvmeofsubsystems.nvmeof.io.yaml';
/** Relative to the repository. */
export const GENERATED_TYPES = 'operator/api/generated.ts';

export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  enum?: unknown[];
  maxProperties?: number;
  'x-kubernetes-int-or-string'?: boolean;
}

/** Exported names: objects become interfaces, enums type aliases; paths that share a name must share a shape. */
const NAMES: Record<string, string> = {
  '': 'NvmeofSubsystem',
  spec: 'NvmeofSubsystemSpec',
  'spec.listener': 'ListenerSpec',
  'spec.namespaces[]': 'NamespaceSpec',
  'spec.namespaces[].blockSize': 'BlockSize',
  'spec.namespaces[].backing': 'BackingSpec',
  'spec.maintenance': 'MaintenanceSpec',
  'spec.persistence': 'PersistenceSpec',
  'spec.persistence.durability': 'Durability',
  'spec.placement': 'PlacementSpec',
  'spec.reclaimPolicy': 'ReclaimPolicy',
  status: 'NvmeofSubsystemStatus',
  'status.conditions[]': 'Condition',
  'status.conditions[].status': 'ConditionStatus',
  'status.namespaces[]': 'NamespaceIdentityStatus',
  'status.namespaces[].backing': 'BackingSpec',
  'status.retiredNamespaces[]': 'RetiredNamespaceStatus',
  'status.retiredNamespaces[].backing': 'BackingSpec',
  'status.config': 'ConfigStatus',
  'status.config.rejected': 'RejectedConfigStatus',
  'status.offlineNamespaces[]': 'OfflineNamespaceStatus',
  'status.recovery': 'RecoveryStatus',
  'status.recovery.outcomes': 'RecoveryOutcomes',
};

/** Fields whose type is written here: the client library's types, and values the schema leaves open. */
const TYPES: Record<string, string> = {
  metadata: 'V1ObjectMeta',
  'spec.resources': 'V1ResourceRequirements',
  'spec.placement.tolerations[]': 'V1Toleration',
  // metav1.Condition leaves type open; the operator sets these four (operator/builders/conditions.ts and
  // operator/builders/config-applied.ts).
  'status.conditions[].type': "'Ready' | 'Progressing' | 'Degraded' | 'ConfigApplied'",
  'status.recovery.lastOutcome': 'keyof RecoveryOutcomes',
};

/** Fields the types require though the schema does not: the operator always writes them (and kubectl apply always sends the first three). */
const REQUIRED: Record<string, string[]> = {
  '': ['apiVersion', 'kind', 'metadata'],
  'status.config': ['servedGeneration'],
  'status.config.rejected': ['generation', 'error', 'at'],
  'status.recovery': ['count', 'bootCount', 'outcomes'],
  'status.recovery.outcomes': ['fresh', 'clean', 'restored', 'corrupt'],
};

const CLIENT_TYPES = ['V1ObjectMeta', 'V1ResourceRequirements', 'V1Toleration'];
const WIDTH = 120;

/** A doc comment of `text`, wrapped to WIDTH at `indent`. */
function doc(text: string | undefined, indent: string): string {
  if (!text?.trim()) return '';
  const safe = text.trim().replace(/\*\//g, '*\\/');
  if (indent.length + safe.length + 7 <= WIDTH) return `${indent}/** ${safe} */\n`;
  const lines: string[] = [];
  let line = '';
  for (const word of safe.split(/\s+/)) {
    if (line && indent.length + 3 + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}\n`).join('')}${indent} */\n`;
}

/** What makes two schemas the same type: everything but descriptions and validations. */
function shape(s: Schema): unknown {
  return {
    type: s.type, required: s.required, enum: s.enum, maxProperties: s.maxProperties, intOrString: s['x-kubernetes-int-or-string'],
    properties: s.properties && Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, shape(v)])),
    items: s.items && shape(s.items),
    additionalProperties: typeof s.additionalProperties === 'object' ? shape(s.additionalProperties) : s.additionalProperties,
  };
}

const literal = (v: unknown): string => (typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(v));

class Emitter {
  private readonly declared = new Map<string, { path: string; shape: string; text: string }>();
  readonly order: string[] = [];
  readonly used = new Set<string>();
  /** Schema paths seen, so a table entry for a field that is gone fails the generation. */
  readonly seen = new Set<string>();

  constructor(private readonly fixed: Record<string, string>) {}

  /** The TypeScript type of the schema at `path`, declaring named types on the way. */
  typeOf(s: Schema, path: string, indent: string): string {
    this.seen.add(path);
    const fixed = this.fixed[path] ?? TYPES[path];
    if (fixed !== undefined) {
      for (const t of CLIENT_TYPES) if (fixed.includes(t)) this.used.add(t);
      return fixed;
    }
    const name = NAMES[path];
    if (name !== undefined) {
      this.declare(name, s, path);
      return name;
    }
    return this.anonymous(s, path, indent);
  }

  private anonymous(s: Schema, path: string, indent: string): string {
    if (s.enum) return s.enum.map(literal).join(' | ');
    if (s['x-kubernetes-int-or-string']) return 'string | number';
    switch (s.type) {
      case 'integer':
      case 'number':
        return 'number';
      case 'string':
        return 'string';
      case 'boolean':
        return 'boolean';
      case 'array': {
        if (!s.items) throw new Error(`${path || '(root)'}: an array without items`);
        const t = this.typeOf(s.items, `${path}[]`, indent);
        return /[ |]/.test(t) && !t.startsWith('{') ? `(${t})[]` : `${t}[]`;
      }
      case 'object':
        if (s.properties) return `{\n${this.members(s, path, `${indent}  `)}${indent}}`;
        if (typeof s.additionalProperties === 'object') return `Record<string, ${this.typeOf(s.additionalProperties, `${path}.*`, indent)}>`;
        return s.maxProperties === 0 ? 'Record<string, never>' : 'Record<string, unknown>';
      default:
        throw new Error(`${path || '(root)'}: no TypeScript type for schema type ${s.type}`);
    }
  }

  private members(s: Schema, path: string, indent: string): string {
    const required = new Set([...(s.required ?? []), ...(REQUIRED[path] ?? [])]);
    return Object.entries(s.properties ?? {}).map(([k, v]) => {
      const p = path ? `${path}.${k}` : k;
      return `${doc(v.description, indent)}${indent}${k}${required.has(k) ? '' : '?'}: ${this.typeOf(v, p, indent)};\n`;
    }).join('');
  }

  private declare(name: string, s: Schema, path: string): void {
    const sh = JSON.stringify(shape(s));
    const seen = this.declared.get(name);
    if (seen) {
      if (seen.shape !== sh) throw new Error(`${name} names ${seen.path} and ${path}, which differ in shape`);
      return;
    }
    const entry = { path, shape: sh, text: '' };
    this.declared.set(name, entry);
    this.order.push(name);
    const where = path || 'the resource';
    entry.text = s.type === 'object' && s.properties
      ? `${doc(s.description ?? `(${where})`, '')}export interface ${name} {\n${this.members(s, path, '  ')}}\n`
      : `/** The values of ${where}. */\nexport type ${name} = ${this.anonymous(s, path, '')};\n`;
  }

  text(name: string): string {
    return this.declared.get(name)!.text;
  }
}

/** generated.ts for a CRD document (its first version's schema), as `npm run generate` writes it. */
export function generatedTypes(crd: {
  spec: { group: string; names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }> };
}, source: string): string {
  const version = crd.spec.versions[0];
  const e = new Emitter({ apiVersion: literal(`${crd.spec.group}/${version.name}`), kind: literal(crd.spec.names.kind) });
  e.typeOf(version.schema.openAPIV3Schema, '', '');
  const stale = [...Object.keys(NAMES), ...Object.keys(TYPES), ...Object.keys(REQUIRED)].filter((p) => !e.seen.has(p));
  if (stale.length) throw new Error(`operator/api/codegen.ts names schema paths the CRD does not have: ${stale.join(', ')}`);
  const header = [
    `// Generated by \`${GENERATE_COMMAND}\` (operator/api/codegen.ts) from ${source}:`,
    `// do not edit; edit the CRD (its descriptions are these comments) and run \`${GENERATE_COMMAND}\`.`,
    '// operator/api/types.ts exports these types.',
  ].join('\n');
  const imports = [...e.used].sort();
  const importLine = imports.length ? `import type { ${imports.join(', ')} } from '@kubernetes/client-node';\n` : '';
  return `${header}\n${importLine}\n${e.order.map((n) => e.text(n)).join('\n')}`;
}

const repoRoot = (): string => resolve(crdDir(), '..');

/** The file as it should be, from the CRD on disk. */
export function typesFile(): { path: string; text: string; source: string } {
  const file = join(crdDir(), CRD_FILE);
  const source = relative(repoRoot(), file);
  return { path: GENERATED_TYPES, text: generatedTypes(yaml.load(readFileSync(file, 'utf8')) as Parameters<typeof generatedTypes>[0], source), source };
}

/** Writes generated.ts when it differs; true when it did. */
export function writeTypesFile(): boolean {
  const f = typesFile();
  const at = join(repoRoot(), f.path);
  let current: string | undefined;
  try {
    current = readFileSync(at, 'utf8');
  } catch {
    // not written yet
  }
  if (current === f.text) return false;
  writeFileSync(at, f.text);
  return true;
}
