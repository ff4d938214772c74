// Node maintenance (issue 22) on the real single-node cluster (test/cluster) with the real images and the
// operator's Deployment of two replicas: `kubectl drain` of the node
//   - without the opt-in, is refused at the serving target by its PodDisruptionBudget (<name>-target) and
//     times out with the budget's message, while the target goes on serving a TypeScript host (test/host)
//     that reads and writes throughout without an error;
//   - with spec.maintenance.allowEviction, evicts the target, which stops gracefully; its successor waits
//     on the cordoned node (Ready=False, NodeCordoned) and, after `kubectl uncordon`, serves with the same
//     identity and data, its start's outcome `clean`;
//   - never evicts both operator replicas: their own budget lets one go and holds the other while the
//     first one's successor cannot start (the node is cordoned).
// Then the node goes NotReady (its kubelet stopped): the resource says NodeNotReady, and after 60 s Degraded
// with one Warning event naming the subsystems on the node.
// The resource carries nvmeof.io/node=<node>, so `kubectl get nvmeofsubsystems -l nvmeof.io/node=<node>` lists it.
// Its own cluster, `nvmeofmaint` (the brief's `nvmeof-maint`: cluster names are 1-12 of [a-z0-9]); the
// subsystem listens on 4452 and 9452, a range no other test uses (each cluster has its own network namespace).
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { warningEvents, type Cluster } from '../cluster/cluster.js';
import { HostController } from '../host/index.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';
import {
  conditionOf, getSubsystem, listPods, OPERATOR_NAME, OPERATOR_NAMESPACE, podReady, sleep, waitFor, waitSubsystemReady,
  type PodInfo,
} from './deploy.js';
import { operatorSuite } from './suite.js';

const NS = 'nvmeof-maint';
const NAME = 'maint-file';
const PORT = 4452;
const METRICS_PORT = 9452;
const BUDGET = `${NAME}-target`;
/** Long enough for the drain to try each pod a few times (it retries every 5 s), short for CI. */
const DRAIN_TIMEOUT = '15s';

let c: Cluster;

function manifest(allowEviction?: boolean): string {
  return `apiVersion: nvmeof.io/v1alpha1
kind: NvmeofSubsystem
metadata:
  name: ${NAME}
spec:
  allowAnyHost: true
  listener: {port: ${PORT}, metricsPort: ${METRICS_PORT}}
  namespaces:
    - {nsid: 1, size: 64Mi, backing: {file: {path: ns1.img}}}
${allowEviction === undefined ? '' : `  maintenance: {allowEviction: ${allowEviction}}\n`}`;
}

async function sub(): Promise<NvmeofSubsystem> {
  const s = await getSubsystem(c, NS, NAME);
  assert.ok(s, `NvmeofSubsystem ${NS}/${NAME} is gone`);
  return s;
}

async function targetPods(s: NvmeofSubsystem): Promise<PodInfo[]> {
  return (await listPods(c, NS, `nvmeof.io/role=target,nvmeof.io/subsystem-uid=${s.metadata.uid}`)).filter((p) => !p.metadata.deletionTimestamp);
}

async function operatorPods(): Promise<PodInfo[]> {
  return listPods(c, OPERATOR_NAMESPACE, `app.kubernetes.io/name=${OPERATOR_NAME}`);
}

interface Budget {
  spec: { minAvailable?: number };
  status?: { disruptionsAllowed?: number; currentHealthy?: number; observedGeneration?: number };
  metadata: { generation?: number; uid: string };
}
async function budget(ns: string, name: string): Promise<Budget> {
  return JSON.parse(await c.kubectl(['-n', ns, 'get', 'pdb', name, '-o', 'json'])) as Budget;
}
/** The disruption controller has computed the budget's current spec and it allows `n` disruptions. */
async function waitDisruptionsAllowed(ns: string, name: string, n: number): Promise<Budget> {
  return waitFor(`PodDisruptionBudget ${ns}/${name} allows ${n} disruption(s)`, async () => {
    const b = await budget(ns, name);
    return b.status?.observedGeneration === b.metadata.generation && b.status?.disruptionsAllowed === n ? b : undefined;
  }, 60_000);
}

/** `kubectl drain` of the node with a short timeout: its exit code and everything it printed. */
async function drain(): Promise<{ code: number; out: string; ms: number }> {
  const t = Date.now();
  const r = await c.kubectlResult(['drain', c.nodeName, '--ignore-daemonsets', '--delete-emptydir-data', `--timeout=${DRAIN_TIMEOUT}`], { timeoutMs: 60_000 });
  return { code: r.code, out: r.stdout + r.stderr, ms: Date.now() - t };
}

/**
 * The host's I/O while something else happens: writes of a fresh pattern at rotating blocks, each read back
 * and compared, and a Keep Alive, until stopped. Any error or mismatch is kept and ends the loop.
 */
function ioLoop(host: HostController): { stop: () => Promise<{ ios: number; error?: string }> } {
  let running = true;
  let ios = 0;
  let error: string | undefined;
  const q = host.io[0];
  const done = (async () => {
    const back = Buffer.alloc(4096);
    while (running) {
      try {
        const lba = 8192 + (ios % 512) * 8;
        const data = randomBytes(4096);
        await q.write(1, lba, 8, data);
        await q.read(1, lba, 8, back);
        if (!back.equals(data)) throw new Error(`block ${lba} read back other data`);
        await host.keepAlive();
        ios++;
      } catch (e) {
        error = (e as Error).message;
        return;
      }
      await sleep(20);
    }
  })();
  return { stop: async () => { running = false; await done; return { ios, ...(error ? { error } : {}) }; } };
}

describe('node maintenance: drains and PodDisruptionBudgets on a real cluster', { timeout: 10 * 60_000 }, () => {
  let host: HostController | undefined;
  const written = randomBytes(256 * 1024);

  const { it } = operatorSuite({
    cluster: 'nvmeofmaint',
    hostPathPrefix: 'nvmeof-maint-test-',
    namespace: NS,
    replicas: 2,
    onCluster: (cl) => (c = cl),
    stopping: async () => {
      if (host) await Promise.race([host.disconnect().catch(() => {}), sleep(5000)]);
    },
  });

  it('a serving subsystem gets its budget (and gets it back without a roll) and the nvmeof.io/node label; the operator has its own budget; no Warning', async () => {
    await c.kubectl(['-n', NS, 'apply', '-f', '-'], { input: manifest() });
    const s = await waitSubsystemReady(c, NS, NAME);
    assert.equal(s.status!.node, c.nodeName);
    await waitFor('the nvmeof.io/node label', async () => (await sub()).metadata.labels?.['nvmeof.io/node'] === c.nodeName, 30_000);
    const listed = await c.kubectl(['get', 'nvmeofsubsystems', '-A', '-l', `nvmeof.io/node=${c.nodeName}`, '-o', 'name']);
    assert.equal(listed.trim(), `nvmeofsubsystem.nvmeof.io/${NAME}`);
    const b = await waitDisruptionsAllowed(NS, BUDGET, 0);
    assert.equal(b.spec.minAvailable, 1);
    assert.equal(b.status!.currentHealthy, 1, 'the budget counts the target pod: its selector matches it');
    await waitDisruptionsAllowed(OPERATOR_NAMESPACE, OPERATOR_NAME, 1);
    // Neither budget makes the disruption controller complain (a maxUnavailable over the resource's pods would:
    // it has no scale subresource).
    assert.deepEqual(await warningEvents(c, [NS, OPERATOR_NAMESPACE, 'default']), []);

    // A subsystem of a release before budgets: its budget is made, its pod stays.
    const [pod] = await targetPods(await sub());
    const old = await budget(NS, BUDGET);
    await c.kubectl(['-n', NS, 'delete', 'pdb', BUDGET]);
    await waitFor('the budget made again', async () => {
      const r = await c.kubectlResult(['-n', NS, 'get', 'pdb', BUDGET, '-o', 'jsonpath={.metadata.uid}']);
      return r.code === 0 && r.stdout !== '' && r.stdout !== old.metadata.uid;
    }, 30_000);
    await waitDisruptionsAllowed(NS, BUDGET, 0);
    const [same] = await targetPods(await sub());
    assert.equal(same.metadata.uid, pod.metadata.uid, 'the pod was not replaced');
  });

  it('kubectl drain stops at the serving target with its budget\'s message; the target serves a host throughout; one operator replica goes, never both', async () => {
    const s = await sub();
    const [target] = await targetPods(s);
    const opsBefore = await operatorPods();
    assert.equal(opsBefore.length, 2);
    host = await HostController.connect({ host: c.nodeIP, port: PORT, subnqn: s.status!.nqn!, ioQueues: 1, kato: 10_000 });
    await host.io[0].write(1, 0, written.length / 512, written);
    const io = ioLoop(host);

    const d = await drain();
    const result = await io.stop();
    console.log(`drain refused after ${(d.ms / 1000).toFixed(1)} s; the host did ${result.ios} verified writes meanwhile\n${d.out.trim()}`);
    assert.notEqual(d.code, 0, 'the drain did not complete');
    assert.equal(result.error, undefined, `the host saw an error during the drain: ${result.error}`);
    assert.ok(result.ios > 10, `the host kept doing I/O (${result.ios})`);
    assert.match(d.out, new RegExp(`error when evicting pods/"${target.metadata.name}" -n "${NS}".*Cannot evict pod as it would violate the pod's disruption budget`));
    assert.match(d.out, /global timeout reached|drain did not complete within/);
    assert.match(d.out, new RegExp(`node/${c.nodeName} cordoned`));

    // The same pod still serves, and the host reads back what it wrote before.
    const [still] = await targetPods(await sub());
    assert.equal(still.metadata.uid, target.metadata.uid, 'the target pod was not evicted');
    assert.ok(podReady(still));
    const back = Buffer.alloc(written.length);
    await host.io[0].read(1, 0, written.length / 512, back);
    assert.ok(back.equals(written));
    assert.equal(conditionOf(await sub(), 'Ready')?.status, 'True', 'a serving subsystem on a cordoned node is Ready');

    // The operator: one replica evicted, the other refused by the operator's budget and still running.
    const opsAfter = await operatorPods();
    const kept = opsBefore.filter((p) => opsAfter.some((q) => q.metadata.uid === p.metadata.uid && !q.metadata.deletionTimestamp));
    assert.equal(kept.length, 1, `exactly one of the two replicas stayed: ${opsAfter.map((p) => `${p.metadata.name} ${p.status.phase}`).join(', ')}`);
    assert.match(d.out, new RegExp(`error when evicting pods/"${kept[0].metadata.name}" -n "${OPERATOR_NAMESPACE}".*disruption budget`));
    assert.ok(podReady(opsAfter.find((p) => p.metadata.uid === kept[0].metadata.uid)!), 'the replica that stayed is Ready');
  });

  it('with spec.maintenance.allowEviction the drain evicts the target; the successor says NodeCordoned; after uncordon it serves the same identity and data, outcome clean', async () => {
    const before = await sub();
    const [target] = await targetPods(before);
    if (host) await host.disconnect();
    host = undefined;
    await c.kubectl(['-n', NS, 'apply', '-f', '-'], { input: manifest(true) });
    await waitDisruptionsAllowed(NS, BUDGET, 1);
    const [same] = await targetPods(await sub());
    assert.equal(same.metadata.uid, target.metadata.uid, 'turning the opt-in on replaced no pod');

    const d = await drain();
    console.log(`drain with the opt-in: ${(d.ms / 1000).toFixed(1)} s\n${d.out.trim()}`);
    assert.match(d.out, new RegExp(`pod/${target.metadata.name} evicted`));
    // The operator replica that stayed is still refused: its peer's successor cannot start on the cordoned node.
    assert.notEqual(d.code, 0);
    assert.match(d.out, new RegExp(`-n "${OPERATOR_NAMESPACE}".*disruption budget`));
    assert.equal((await operatorPods()).filter((p) => podReady(p)).length, 1, 'one operator replica still serves');

    const waiting = await waitFor('Ready=False NodeCordoned', async () => {
      const s = await sub();
      return conditionOf(s, 'Ready')?.reason === 'NodeCordoned' ? s : undefined;
    }, 60_000);
    const ready = conditionOf(waiting, 'Ready')!;
    console.log(`while cordoned: Ready=${ready.status} ${ready.reason}: ${ready.message}`);
    assert.equal(ready.status, 'False');
    assert.match(ready.message, new RegExp(`waits for node ${c.nodeName}.*cordoned.*kubectl uncordon ${c.nodeName}`));
    const events = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${NAME},reason=TargetEvicted`, '-o', 'jsonpath={.items[*].message}']);
    assert.match(events, new RegExp(`pod ${target.metadata.name} was evicted from node ${c.nodeName}`));

    await c.kubectl(['uncordon', c.nodeName]);
    const s = await waitSubsystemReady(c, NS, NAME, { notPod: target.metadata.name, ms: 120_000 });
    assert.equal(s.status!.nqn, before.status!.nqn, 'the same NQN');
    assert.deepEqual(s.status!.namespaces, before.status!.namespaces, 'the same namespace identifiers');
    const rec = await waitFor('status.recovery of the successor', async () => {
      const x = await sub();
      return x.status?.recovery && x.status.recovery.count > (before.status?.recovery?.count ?? 0) ? x.status.recovery : undefined;
    }, 90_000);
    assert.equal(rec.lastOutcome, 'clean', `the evicted target closed its state file clean: ${JSON.stringify(rec)}`);

    host = await HostController.connect({ host: c.nodeIP, port: PORT, subnqn: s.status!.nqn!, ioQueues: 1 });
    const back = Buffer.alloc(written.length);
    await host.io[0].read(1, 0, written.length / 512, back);
    assert.ok(back.equals(written), 'the data written before the drains reads back');
    await host.disconnect();
    host = undefined;
    await waitFor('both operator replicas Ready again', async () => (await operatorPods()).filter((p) => podReady(p) && !p.metadata.deletionTimestamp).length === 2, 120_000);
  });

  it('a NotReady node (its kubelet stopped): NodeNotReady, then Degraded and one Warning naming the subsystems on it; Ready again once it is back', async () => {
    // SIGSTOP, not a kill: the kubelet stops posting the node's status, as on a hung or partitioned node, and
    // the node lifecycle controller calls the node NotReady (Unknown) after its grace period (50 s); the
    // containers, the target among them, go on running. SIGCONT brings it back before the 300 s after which
    // pods would be evicted from an unreachable node.
    const kubelet = Number(readFileSync(join(c.stateDir, 'pids', 'kubelet.pid'), 'utf8').trim());
    const t = Date.now();
    process.kill(kubelet, 'SIGSTOP');
    try {
      const down = await waitFor('Ready=False NodeNotReady', async () => {
        const s = await sub();
        return conditionOf(s, 'Ready')?.reason === 'NodeNotReady' ? s : undefined;
      }, 120_000, 500);
      console.log(`NodeNotReady ${((Date.now() - t) / 1000).toFixed(1)} s after the kubelet stopped: ${conditionOf(down, 'Ready')!.message}`);
      assert.equal(conditionOf(down, 'Ready')!.status, 'False');
      assert.match(conditionOf(down, 'Ready')!.message, new RegExp(`node ${c.nodeName}, which holds this subsystem's state, is NotReady`));
      const warning = await waitFor('a Warning NodeNotReady event', async () => {
        const out = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${NAME},reason=NodeNotReady,type=Warning`, '-o', 'jsonpath={.items[*].message}']);
        return out.trim() || undefined;
      }, 120_000, 1000);
      const s = await sub();
      console.log(`Warning ${((Date.now() - t) / 1000).toFixed(1)} s after the kubelet stopped: ${warning}`);
      assert.match(warning, new RegExp(`node ${c.nodeName} has been NotReady for .*the subsystems whose state is on it are not served: ${NS}/${NAME}$`));
      assert.equal(conditionOf(s, 'Degraded')?.status, 'True');
      assert.equal(conditionOf(s, 'Degraded')?.reason, 'NodeNotReady');
    } finally {
      process.kill(kubelet, 'SIGCONT');
    }
    await waitSubsystemReady(c, NS, NAME, { ms: 120_000 });
    assert.equal(conditionOf(await sub(), 'Degraded')?.status, 'False');
  });
});
