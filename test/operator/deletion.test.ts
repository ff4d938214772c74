// Issue 17: a deletion never hangs silently. A reclaimPolicy Delete subsystem whose namespace was
// relabelled `pod-security.kubernetes.io/enforce=baseline` before its deletion cannot get its cleanup
// pod (hostPath) past Pod Security admission. The operator must say so where users look: a condition
// and a Warning event quoting the API's refusal, and a log whose stated retry delay is the one used;
// once the namespace is privileged again, the deletion completes by itself and the directory goes.
// One cluster ('del') for the file, the operator as its Deployment (one replica: one log to read).
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../cluster/cluster.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';
import { conditionOf, deployOperator, getSubsystem, installCrdsWithKubectl, leaseHolder, OPERATOR_NAMESPACE, sampleDir, waitFor, waitSubsystemReady } from './deploy.js';
import { clusterSuite } from './suite.js';

const NS = 'nvmeof-del';
const NAME = 'demo-memory'; // crds/samples/memory.yaml, with reclaimPolicy Delete
const KEY = `${NS}/${NAME}`;
const REFUSAL = 'violates PodSecurity "baseline:latest"';

let c: Cluster;
let hostPathRoot: string;
let refused = '';

const subsystemDir = () => join(hostPathRoot, NS, NAME);

interface LogLine { timestamp: string; message: string; object?: string; error?: string }

/** The leader's log lines about the subsystem that state a retry delay, oldest first. */
async function retryLines(): Promise<{ at: number; delayMs: number; line: LogLine }[]> {
  const { holder } = await leaseHolder(c);
  if (!holder) return [];
  const out = (await c.kubectlResult(['-n', OPERATOR_NAMESPACE, 'logs', holder])).stdout;
  return out.split('\n').flatMap((l) => {
    try {
      const line = JSON.parse(l) as LogLine;
      const m = /retrying in (\d+) ms/.exec(line.message);
      return line.object === KEY && m ? [{ at: Date.parse(line.timestamp), delayMs: Number(m[1]), line }] : [];
    } catch {
      return [];
    }
  });
}

async function warnings(uid: string): Promise<{ reason: string; message: string; count?: number }[]> {
  const out = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.uid=${uid},type=Warning`, '-o', 'json']);
  return (JSON.parse(out) as { items: { reason: string; message: string; count?: number }[] }).items;
}

const describeConditions = (s: NvmeofSubsystem | undefined) =>
  (s?.status?.conditions ?? []).map((x) => `${x.type}=${x.status} (${x.reason}: ${x.message})`).join('; ') || 'none';

describe('a deletion the cluster refuses to clean up', { timeout: 10 * 60_000 }, () => {
  let uid = '';
  const { it } = clusterSuite({
    cluster: 'del',
    hostPathPrefix: 'nvmeof-deletion-test-',
    started: async (cl, root, phase) => {
      c = cl;
      hostPathRoot = root;
      await phase('CRD and operator', async () => {
        await installCrdsWithKubectl(c);
        await deployOperator(c, { hostPathRoot, replicas: 1 });
      });
    },
  });

  it('brings a reclaimPolicy Delete subsystem to Ready in a privileged namespace', async () => {
    await c.kubectl(['create', 'namespace', NS]);
    await c.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged']);
    // The sample's last top-level key is spec: a line indented under it adds to spec.
    const yaml = `${readFileSync(join(sampleDir, 'memory.yaml'), 'utf8').trimEnd()}\n  reclaimPolicy: Delete\n`;
    await c.kubectl(['-n', NS, 'apply', '-f', '-'], { input: yaml });
    const s = await waitSubsystemReady(c, NS, NAME);
    uid = s.metadata.uid!;
    assert.deepEqual(s.metadata.finalizers, ['nvmeof.io/cleanup']);
    assert.ok(existsSync(subsystemDir()), `no directory ${subsystemDir()} on the node`);
  });

  it('holds the resource with a condition and one Warning event quoting the Pod Security refusal', async () => {
    await c.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=baseline', '--overwrite']);
    await c.kubectl(['-n', NS, 'delete', 'nvmeofsubsystem', NAME, '--wait=false']);
    let last: NvmeofSubsystem | undefined;
    const ready = await waitFor('a CleanupBlocked condition', async () => {
      last = await getSubsystem(c, NS, NAME);
      const r = conditionOf(last, 'Ready');
      return r?.reason === 'CleanupBlocked' ? r : undefined;
    }, 60_000).catch((e: Error) => { throw new Error(`${e.message}; conditions: ${describeConditions(last)}`); });
    console.log(`condition: Ready=${ready.status} ${ready.reason}: ${ready.message}`);
    assert.equal(ready.status, 'False');
    assert.ok(ready.message.includes(REFUSAL), ready.message);
    assert.match(ready.message, /^pods "demo-memory-cleanup" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes/);
    assert.ok(ready.message.includes('pod-security.kubernetes.io/enforce=privileged'), `the message says what to do: ${ready.message}`);
    assert.ok(ready.message.includes(subsystemDir()) && ready.message.includes(c.nodeName), `the message names the directory and node: ${ready.message}`);
    assert.deepEqual([conditionOf(last, 'Degraded')?.status, conditionOf(last, 'Degraded')?.reason], ['True', 'CleanupBlocked']);
    assert.deepEqual([conditionOf(last, 'Progressing')?.status, conditionOf(last, 'Progressing')?.reason], ['False', 'CleanupBlocked']);
    assert.ok(last?.metadata.deletionTimestamp && last.metadata.finalizers?.includes('nvmeof.io/cleanup'), 'the finalizer holds the resource');
    refused = ready.message;

    const events = await waitFor('a CleanupBlocked Warning event', async () => {
      const w = (await warnings(uid)).filter((e) => e.reason === 'CleanupBlocked');
      return w.length > 0 ? w : undefined;
    }, 30_000);
    console.log(`event: Warning CleanupBlocked: ${events[0].message}`);
    assert.equal(events[0].message, refused, 'the event says what the condition says');
  });

  it('retries with the backoff its log states, one Event for the one failure', async () => {
    // 0.5 + 1 + 2 + 4 + 8 s: five attempts well within the deletion cap.
    const lines = await waitFor('six attempts in the log', async () => {
      const l = await retryLines();
      return l.length >= 6 ? l : undefined;
    }, 60_000);
    const report = lines.map((l, i) => `${l.line.timestamp} stated ${l.delayMs} ms${i > 0 ? `, ${l.at - lines[i - 1].at} ms after the previous attempt` : ''}`);
    console.log(`retries:\n  ${report.join('\n  ')}`);
    for (const l of lines) assert.ok(l.line.error?.includes(REFUSAL), `the log line carries the API's message: ${JSON.stringify(l.line)}`);
    let early = 0;
    for (let i = 1; i < lines.length; i++) {
      const stated = lines[i - 1].delayMs;
      const gap = lines[i].at - lines[i - 1].at;
      const why = `attempt ${i} came ${gap} ms after the one that said "retrying in ${stated} ms":\n${report.join('\n')}`;
      // Never long after the stated delay.
      assert.ok(gap <= stated * 1.5 + 2000, why);
      if (gap >= stated * 0.9 - 100) continue;
      // Before it only when something else changed (say, the target pod going away as the deletion begins
      // requeues its owner at once, as a controller should): that attempt keeps the backoff's due time,
      // and says so, "retrying in" what was left of it.
      early++;
      assert.ok(Math.abs(lines[i].delayMs - (stated - gap)) <= 150, `${why}\nan early attempt must keep the due time: it should state about ${stated - gap} ms`);
    }
    assert.ok(early <= 1, `${early} attempts before their stated time:\n${report.join('\n')}`);
    assert.ok(lines.slice(1).some((l, i) => l.delayMs > lines[i].delayMs), `the delay grows: ${report.join('\n')}`);
    const events = (await warnings(uid)).filter((e) => e.reason === 'CleanupBlocked');
    assert.equal(events.length, 1, `one Event for one failure: ${JSON.stringify(events)}`);
    assert.ok((events[0].count ?? 1) >= 2, `its count tells the attempts: ${JSON.stringify(events[0])}`);
  });

  it('completes the deletion by itself once the namespace is privileged again, and removes the directory', async () => {
    const t = Date.now();
    await c.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged', '--overwrite']);
    await waitFor('the resource to be gone', async () => (await getSubsystem(c, NS, NAME)) === undefined, 60_000);
    const took = (Date.now() - t) / 1000;
    console.log(`relabelled privileged: the resource was gone ${took.toFixed(1)} s later`);
    assert.ok(took < 30, `took ${took} s: the namespace's change should requeue its subsystem at once`);
    assert.equal(existsSync(subsystemDir()), false, `${subsystemDir()} is still on the node`);
    const reasons = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.uid=${uid}`, '-o', 'jsonpath={.items[*].reason}']);
    assert.match(reasons, /DirectoryRemoved/);
  });
});
