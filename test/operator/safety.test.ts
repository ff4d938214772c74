// Issue 17 on the real cluster: no spec change and no second resource can put a host's data at risk.
// Each test is one row of the table in the note: what a user does, and what they now see,
// either the apiserver's refusal at `kubectl apply` (the message is quoted) or the condition and the
// Warning event the operator raises. One cluster ('safe') for the file; the operator runs as its
// Deployment (one replica) with the target image the cluster built.
//
// The upgrade check (an object created under the CRD of the previous release, then the new CRD applied,
// then the object edited, its status written and it deleted) runs here on Kubernetes 1.34, which ratchets
// validation (GA, cannot be switched off); test/crd129 runs the same sequence through Kubernetes 1.29's
// own validation code, which does not ratchet.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../cluster/cluster.js';
import { repoRoot } from '../cluster/paths.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';
import { conditionOf, deployOperator, getSubsystem, installCrdsWithKubectl, listPods, waitFor, waitSubsystemReady } from './deploy.js';
import { clusterSuite } from './suite.js';

const NS = 'nvmeof-safe';
/** The CRD as the previous release shipped it (commit 4850e41), for the upgrade test. */
const OLD_CRD = join(repoRoot, 'test/crd129/crd-4850e41.yaml');

let c: Cluster;
let hostPathRoot: string;

interface NsSpec { nsid: number; size?: string | number; blockSize?: number; backing: Record<string, unknown>; uuid?: string }

/** A subsystem on ports of its own (hostNetwork: every subsystem of the node needs its own pair). */
function subsystem(name: string, port: number, namespaces: NsSpec[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', metadata: { name, namespace: NS },
    spec: { allowAnyHost: true, listener: { port, metricsPort: port + 5000 }, namespaces, ...extra },
  });
}

const apply = (manifest: string) => c.kubectlResult(['-n', NS, 'apply', '-f', '-'], { input: manifest });
const patch = (name: string, ops: unknown[]) => c.kubectlResult(['-n', NS, 'patch', 'nvmeofsubsystem', name, '--type=json', '-p', JSON.stringify(ops)]);

async function mustApply(manifest: string): Promise<void> {
  const r = await apply(manifest);
  assert.equal(r.code, 0, `kubectl apply refused it: ${r.stderr}`);
}

/** The refusal, quoted in the test's output (the note's table is made from these lines). */
function refused(r: { code: number; stderr: string }, want: RegExp, what: string): void {
  assert.notEqual(r.code, 0, `${what}: accepted, should have been refused`);
  assert.match(r.stderr, want, `${what}: refused, but not for the reason expected`);
  console.log(`REFUSED ${what}: ${r.stderr.trim().split('\n').find((l) => want.test(l)) ?? r.stderr.trim()}`);
}

async function sub(name: string): Promise<NvmeofSubsystem> {
  const s = await getSubsystem(c, NS, name);
  assert.ok(s, `NvmeofSubsystem ${NS}/${name} is gone`);
  return s;
}

/** Ready=False with `reason` for the current generation; prints the condition (a row of the table). */
async function waitReason(name: string, reason: string, ms = 60_000): Promise<NvmeofSubsystem> {
  let last: NvmeofSubsystem | undefined;
  try {
    return await waitFor(`${name}: Ready=False ${reason}`, async () => {
      last = await getSubsystem(c, NS, name);
      const r = conditionOf(last, 'Ready');
      return r?.status === 'False' && r.reason === reason && last?.status?.observedGeneration === last?.metadata.generation ? last : undefined;
    }, ms).then((s) => {
      console.log(`CONDITION ${name}: Ready=False ${reason}: ${conditionOf(s, 'Ready')!.message}`);
      return s;
    });
  } catch (e) {
    const conds = (last?.status?.conditions ?? []).map((x) => `${x.type}=${x.status} (${x.reason}: ${x.message})`).join('; ');
    throw new Error(`${(e as Error).message}; conditions: ${conds || 'none'}`);
  }
}

async function warningEvent(name: string, reason: string): Promise<string> {
  const uid = (await sub(name)).metadata.uid!;
  return waitFor(`a Warning ${reason} event on ${name}`, async () => {
    const out = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.uid=${uid},type=Warning,reason=${reason}`, '-o', 'jsonpath={.items[*].message}']);
    return out.trim() || undefined;
  }, 30_000);
}

async function targetPods(name: string): Promise<string[]> {
  const uid = (await sub(name)).metadata.uid!;
  return (await listPods(c, NS, `nvmeof.io/role=target,nvmeof.io/subsystem-uid=${uid}`)).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
}

const fileNs = (nsid: number, path: string, size = '16Mi'): NsSpec => ({ nsid, size, backing: { file: { path } } });

describe('issue 17: no spec change and no second resource can put a host\'s data at risk', { timeout: 20 * 60_000 }, () => {
  const { it } = clusterSuite({
    cluster: 'safe', hostPathPrefix: 'nvmeof-safety-test-',
    started: async (cl, root, phase) => {
      c = cl;
      hostPathRoot = root;
      await phase('old CRD, operator', async () => {
        assert.ok(existsSync(OLD_CRD), `${OLD_CRD} is missing`);
        await c.kubectl(['apply', '-f', OLD_CRD]);
        await c.kubectl(['wait', '--for=condition=Established', 'crd/nvmeofsubsystems.nvmeof.io', '--timeout=60s'], { timeoutMs: 70_000 });
        await deployOperator(c, { hostPathRoot, replicas: 1 });
        await c.kubectl(['create', 'namespace', NS]);
        await c.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged']);
      });
    },
  });

  // --- upgrade ------------------------------------------------------------------------------------
  let legacyPod = '';
  let legacyIds = '';
  it('upgrade: objects made under the previous CRD, one serving and one breaking the new rules', async () => {
    await mustApply(subsystem('legacy', 4420, [fileNs(1, 'a.img'), fileNs(2, 'b.img')], { reclaimPolicy: 'Delete' }));
    // Accepted by the previous CRD; the new one refuses it (size not a whole number of 4096-byte blocks).
    await mustApply(subsystem('misfit', 4421, [{ nsid: 1, size: 6144, blockSize: 4096, backing: { memory: {} } }], { reclaimPolicy: 'Delete' }));
    const s = await waitSubsystemReady(c, NS, 'legacy');
    legacyPod = s.status!.podName!;
    // As the previous operator wrote it: no backing recorded with the identifiers.
    const old = s.status!.namespaces!.map(({ nsid, uuid, nguid, eui64 }) => ({ nsid, uuid, nguid, eui64 }));
    legacyIds = JSON.stringify(old);
    await waitReason('misfit', 'InvalidSpec');
    const m = await sub('misfit');
    assert.ok(m.metadata.finalizers?.includes('nvmeof.io/cleanup'), 'the Delete-policy misfit holds the finalizer');
  });

  it('upgrade: the new CRD applied, the serving subsystem keeps its pod and identifiers', async () => {
    await installCrdsWithKubectl(c);
    // The status as the previous operator wrote it: identifiers without their backing (the previous CRD
    // pruned that field anyway). Writing it wakes the operator, which reads it under the new CRD.
    const r = await c.kubectlResult(['-n', NS, 'patch', 'nvmeofsubsystem', 'legacy', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { namespaces: JSON.parse(legacyIds) } })]);
    assert.equal(r.code, 0, r.stderr);
    const s = await waitFor('the operator to record the backings', async () => {
      const x = await sub('legacy');
      return x.status?.namespaces?.every((n) => n.backing) ? x : undefined;
    }, 100_000); // a status-only change may wait for the ready refresh (READY_REFRESH_MS, 60 s)
    assert.equal(s.status!.podName, legacyPod, 'no roll: the same pod serves');
    assert.deepEqual(await targetPods('legacy'), [legacyPod]);
    assert.equal(JSON.stringify(s.status!.namespaces!.map(({ nsid, uuid, nguid, eui64 }) => ({ nsid, uuid, nguid, eui64 }))), legacyIds, 'the identifiers stay');
    assert.deepEqual(s.status!.namespaces!.map((n) => n.backing), [{ file: { path: 'a.img' } }, { file: { path: 'b.img' } }]);
    await waitSubsystemReady(c, NS, 'legacy');
  });

  it('upgrade: an object breaking a new rule can still be edited, have its status written and be deleted', async () => {
    const before = await sub('misfit');
    const r = await patch('misfit', [{ op: 'add', path: '/spec/serial', value: 'MISFIT0001' }]);
    assert.equal(r.code, 0, `editing an unrelated field was refused: ${r.stderr}`);
    await waitFor('the operator to write its status for the edit', async () => (await sub('misfit')).status?.observedGeneration === before.metadata.generation! + 1 || undefined, 30_000);
    const d = await c.kubectlResult(['-n', NS, 'delete', 'nvmeofsubsystem', 'misfit', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await getSubsystem(c, NS, 'misfit'), undefined, 'the finalizer was removed and the object is gone');
  });

  // --- 1: what a namespace is cannot change under it ------------------------------------------------
  it('refuses a new backing path, another backing kind, a smaller size, an identifier added where one was derived', async () => {
    refused(await patch('legacy', [{ op: 'replace', path: '/spec/namespaces/0/backing', value: { file: { path: 'other.img' } } }]),
      /backing cannot change/, 'nsid 1: ns1.img -> other.img');
    refused(await patch('legacy', [{ op: 'replace', path: '/spec/namespaces/0/backing', value: { memory: {} } }]),
      /backing cannot change/, 'nsid 1: file -> memory');
    refused(await patch('legacy', [{ op: 'replace', path: '/spec/namespaces/0/size', value: '8Mi' }]),
      /size can only grow/, 'nsid 1: 16Mi -> 8Mi');
    refused(await patch('legacy', [{ op: 'add', path: '/spec/namespaces/0/uuid', value: '5a1f5c0e-3b0c-4f4e-8d7a-1f2e3d4c5b6a' }]),
      /uuid cannot be added/, 'nsid 1: a uuid where one was derived');
    const grown = await patch('legacy', [{ op: 'replace', path: '/spec/namespaces/0/size', value: '32Mi' }]);
    assert.equal(grown.code, 0, `growing was refused: ${grown.stderr}`);
  });

  it('refuses sizes that are not a whole number of blocks, or less than 4096 bytes, at apply', async () => {
    for (const [size, blockSize] of [[-1, 512], [0, 512], [6144, 4096], ['1000', 512]] as const) {
      refused(await apply(subsystem('badsize', 4422, [{ nsid: 1, size, blockSize, backing: { memory: {} } }])),
        /whole number of blocks/, `size ${size} with blockSize ${blockSize}`);
    }
  });

  it('refuses two nsids over one file, or with one uuid, at apply; the operator refuses them too (IdentityConflict)', async () => {
    refused(await apply(subsystem('twice', 4423, [fileNs(1, 'x.img'), fileNs(2, 'x.img')])), /one backing and identifiers of its own/, 'two nsids over x.img');
    const u = '5a1f5c0e-3b0c-4f4e-8d7a-1f2e3d4c5b6a';
    refused(await apply(subsystem('twice', 4423, [{ ...fileNs(1, 'x.img'), uuid: u }, { ...fileNs(2, 'y.img'), uuid: u }])), /one backing and identifiers of its own/, 'two nsids with one uuid');
    // The CRD compares identifiers as written (normalising them in CEL exceeds Kubernetes 1.29's cost
    // budget); one uuid written in two cases passes the schema and is the operator's to refuse.
    await mustApply(subsystem('twice', 4423, [{ ...fileNs(1, 'x.img'), uuid: u }, { ...fileNs(2, 'y.img'), uuid: u.toUpperCase() }]));
    const s = await waitReason('twice', 'IdentityConflict');
    assert.match(conditionOf(s, 'Ready')!.message, new RegExp(`uuid ${u} is both nsid 1's and nsid 2's`));
    assert.deepEqual(await targetPods('twice'), [], 'no pod');
    const d = await c.kubectlResult(['-n', NS, 'delete', 'nvmeofsubsystem', 'twice', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(d.code, 0, d.stderr);
  });

  let firstUuid = '';
  it('removing nsid 2 and adding nsid 3 in one apply keeps the state (no "corrupt"), live and across the next restart, and the recovery counts', async () => {
    const s = await waitSubsystemReady(c, NS, 'legacy');
    firstUuid = s.status!.namespaces!.find((n) => n.nsid === 1)!.uuid!;
    const count = s.status?.recovery?.count ?? 0;
    const r = await patch('legacy', [{ op: 'replace', path: '/spec/namespaces/1', value: fileNs(3, 'c.img') }]);
    assert.equal(r.code, 0, r.stderr);
    // A namespace added and one removed is a live change (issue 20): the same pod serves it.
    const gen = s.metadata.generation! + 1;
    const live = await waitFor(`generation ${gen} served`, async () => {
      const x = await sub('legacy');
      return (x.status?.config?.servedGeneration ?? -1) >= gen ? x : undefined;
    }, 60_000, 100);
    assert.equal(live.status!.podName, s.status!.podName, 'a live change replaces no pod');
    // The next start (here a pod deleted) finds the namespace set changed and keeps the state file.
    await c.kubectl(['-n', NS, 'delete', 'pod', s.status!.podName!, '--timeout=60s'], { timeoutMs: 70_000 });
    const again = await waitSubsystemReady(c, NS, 'legacy', { notPod: s.status!.podName! });
    const rec = await waitFor('status.recovery after the roll', async () => {
      const x = await sub('legacy');
      return x.status?.recovery && x.status.recovery.count > count ? x.status.recovery : undefined;
    }, 60_000);
    assert.notEqual(rec.lastOutcome, 'corrupt', `the state file was set aside: ${JSON.stringify(rec)}`);
    assert.equal(rec.outcomes.corrupt, 0, JSON.stringify(rec));
    assert.ok(rec.count > count, 'the recovery count went on, not back to 0');
    assert.deepEqual(again.status!.retiredNamespaces?.map((x) => x.nsid), [2], 'nsid 2 is remembered as retired');
    assert.ok(existsSync(join(hostPathRoot, NS, 'legacy', 'b.img')), 'the removed namespace\'s file stays on the node');
    assert.notEqual(legacyPod, again.status!.podName);
  });

  it('nsid 1 removed, then added back over another file: new identifiers, the old ones retired', async () => {
    const r1 = await patch('legacy', [{ op: 'remove', path: '/spec/namespaces/0' }]);
    assert.equal(r1.code, 0, r1.stderr);
    await waitFor('nsid 1 retired', async () => ((await sub('legacy')).status?.retiredNamespaces?.some((x) => x.nsid === 1) ? true : undefined), 60_000);
    const r2 = await patch('legacy', [{ op: 'add', path: '/spec/namespaces/-', value: fileNs(1, 'other.img') }]);
    assert.equal(r2.code, 0, r2.stderr);
    const s = await waitSubsystemReady(c, NS, 'legacy');
    const n1 = s.status!.namespaces!.find((n) => n.nsid === 1)!;
    assert.equal(n1.incarnation, 1);
    assert.notEqual(n1.uuid, firstUuid, 'never the old identity over other data');
    assert.equal(s.status!.retiredNamespaces!.find((x) => x.nsid === 1)?.uuid, firstUuid);
    console.log(`RE-ADDED nsid 1 over other.img: uuid ${firstUuid} -> ${n1.uuid} (incarnation 1)`);
  });

  // --- 2: uniqueness across resources -------------------------------------------------------------
  it('a second resource with the same NQN gets IdentityConflict naming the first, a Warning and no pod; the first keeps serving', async () => {
    const nqn = (await sub('legacy')).status!.nqn!;
    await mustApply(subsystem('copycat', 4424, [fileNs(1, 'a.img')], { nqn }));
    const s = await waitReason('copycat', 'IdentityConflict');
    assert.match(conditionOf(s, 'Ready')!.message, new RegExp(`NQN ${nqn.replace(/\./g, '\\.')} is already the NQN of NvmeofSubsystem ${NS}/legacy`));
    assert.match(await warningEvent('copycat', 'IdentityConflict'), /NvmeofSubsystem nvmeof-safe\/legacy/);
    assert.deepEqual(await targetPods('copycat'), [], 'no pod');
    await waitSubsystemReady(c, NS, 'legacy', { ms: 10_000 });
  });

  it('a uuid another resource already presents: IdentityConflict naming it', async () => {
    const theirs = (await sub('legacy')).status!.namespaces!.find((n) => n.nsid === 3)!.uuid!;
    await mustApply(subsystem('borrower', 4425, [{ ...fileNs(1, 'a.img'), uuid: theirs }]));
    const s = await waitReason('borrower', 'IdentityConflict');
    assert.match(conditionOf(s, 'Ready')!.message, new RegExp(`uuid ${theirs} is already used by nsid 3 of NvmeofSubsystem ${NS}/legacy`));
    assert.deepEqual(await targetPods('borrower'), []);
  });

  // --- 3: limits known before a pod runs ----------------------------------------------------------
  it('a memory namespace larger than the node can hold: MemoryTooSmall with both numbers, no pod', async () => {
    await mustApply(subsystem('hungry', 4426, [{ nsid: 1, size: '64Gi', backing: { memory: {} } }]));
    const s = await waitReason('hungry', 'MemoryTooSmall');
    assert.match(conditionOf(s, 'Ready')!.message, /68719476736 bytes .* more than node \S+'s allocatable memory \d+ bytes/);
    assert.deepEqual(await targetPods('hungry'), []);
    // (A smaller size for 'hungry' itself would be refused: sizes only grow.)
    await mustApply(subsystem('hungry2', 4428, [{ nsid: 1, size: '256Mi', backing: { memory: {} } }], { resources: { limits: { memory: '128Mi' } } }));
    const l = await waitReason('hungry2', 'MemoryTooSmall');
    assert.match(conditionOf(l, 'Ready')!.message, /more than the pod's memory limit 128Mi = 134217728 bytes/);
  });

  it('a file size the node refuses (100Ti on ext4): the target says EFBIG in its termination message, the condition quotes it', async () => {
    await mustApply(subsystem('huge', 4427, [fileNs(1, 'huge.img', '100Ti')]));
    const s = await waitReason('huge', 'TargetFailed', 90_000);
    assert.match(conditionOf(s, 'Ready')!.message, /EFBIG|too large/i);
    assert.equal(conditionOf(s, 'Degraded')?.status, 'True');
  });

  // --- 5: ports -------------------------------------------------------------------------------------
  it('a port something else on the node holds (the kubelet\'s 10250): PortInUse with what the target saw', async () => {
    await mustApply(subsystem('clash', 10250, [fileNs(1, 'a.img')]));
    const s = await waitReason('clash', 'PortInUse', 120_000);
    assert.match(conditionOf(s, 'Ready')!.message, /port 10250 .*in use/);
  });

  it('two subsystems created in one apply on one port: the loser gets PortConflict and ends with no pod', async () => {
    const a = JSON.parse(subsystem('twin-a', 4430, [{ nsid: 1, size: '16Mi', backing: { memory: {} } }]));
    const b = JSON.parse(subsystem('twin-b', 4430, [{ nsid: 1, size: '16Mi', backing: { memory: {} } }]));
    await mustApply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [a, b] }));
    const loser = await waitFor('one of the twins to lose with PortConflict and have no pod', async () => {
      for (const n of ['twin-a', 'twin-b']) {
        const x = await getSubsystem(c, NS, n);
        if (conditionOf(x, 'Ready')?.reason === 'PortConflict' && (await targetPods(n)).length === 0) return n;
      }
      return undefined;
    }, 60_000);
    const winner = loser === 'twin-a' ? 'twin-b' : 'twin-a';
    await waitSubsystemReady(c, NS, winner);
    console.log(`CONDITION ${loser}: ${conditionOf(await sub(loser), 'Ready')!.message}`);
  });

  // --- 6: descriptions ------------------------------------------------------------------------------
  it('`kubectl explain` describes the kind and every field', async () => {
    const top = await c.kubectl(['explain', 'nvmeofsubsystem']);
    assert.doesNotMatch(top, /DESCRIPTION:\s*\n\s*<empty>/, top);
    const all = await c.kubectl(['explain', 'nvmeofsubsystem', '--recursive']);
    assert.ok(all.includes('namespaces'), all.slice(0, 500));
    for (const path of ['spec', 'spec.listener', 'spec.namespaces', 'spec.namespaces.backing', 'spec.namespaces.nsid', 'spec.namespaces.uuid', 'spec.persistence', 'spec.placement', 'spec.resources', 'status', 'status.retiredNamespaces']) {
      const out = await c.kubectl(['explain', `nvmeofsubsystem.${path}`]);
      assert.doesNotMatch(out, /<no description>|<empty>/, `kubectl explain nvmeofsubsystem.${path}:\n${out}`);
    }
  });

  it('the backing files of every test are still where they were (nothing was lost or truncated)', async () => {
    const dir = join(hostPathRoot, NS, 'legacy');
    assert.equal(statSync(join(dir, 'a.img')).size, 32 << 20, 'a.img (nsid 1, grown to 32Mi, then retired) keeps its size');
    assert.equal(statSync(join(dir, 'b.img')).size, 16 << 20);
    assert.ok(readFileSync(join(dir, 'state.bin')).length > 0);
  });
});
