#!/usr/bin/env node
// Writes the generated files (`npm run generate`): the Helm chart's (operator/deploy/chart.ts says which,
// and from what: the chart's CRD from crds/ and its RBAC rules from operator/deploy/manifests.ts) and the
// resource's TypeScript types, operator/api/generated.ts, from the CRD (operator/api/codegen.ts). Run after a
// build; generated.ts holds only types, so what runs does not change until the next build type-checks it.
import { writeTypesFile, GENERATED_TYPES } from '../dist/operator/api/codegen.js';
import { writeChartFiles } from '../dist/operator/deploy/chart.js';

const { written, removed } = writeChartFiles();
if (writeTypesFile()) written.push(GENERATED_TYPES);
for (const p of written) console.log(`generate: wrote ${p}`);
for (const p of removed) console.log(`generate: removed ${p} (crds/ has no such file)`);
if (!written.length && !removed.length) console.log('generate: the generated files are current');
