#!/usr/bin/env node
// Writes the Helm chart's generated files (operator/deploy/chart.ts says which, and from what): the chart's
// CRD from crds/ and its RBAC rules from operator/deploy/manifests.ts. Run after a build: `npm run generate`.
import { writeChartFiles } from '../dist/operator/deploy/chart.js';

const { written, removed } = writeChartFiles();
for (const p of written) console.log(`generate: wrote ${p}`);
for (const p of removed) console.log(`generate: removed ${p} (crds/ has no such file)`);
if (!written.length && !removed.length) console.log('generate: the chart\'s generated files are current');
