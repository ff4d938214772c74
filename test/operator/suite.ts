// One real cluster (test/cluster) for a whole test file of test/operator/: started before its tests, with a
// folder of its own for the hostPath root, stopped after them; each test's time and each phase's are
// printed at the end. Called inside the file's describe(), whose hooks it adds.
import { after, before, it as nodeIt } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../cluster/cluster.js';
import { operatorMissing, operatorWithNamespace } from './deploy.js';
import { PodProtocolErrorWatch } from '../support/pod-protocol-errors.js';

/** Runs and times a phase (printed with the tests' times). */
export type Phase = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

export interface ClusterSuite {
  /** A test of the file: a failed start (a missing part, say) fails it with its message, it is never skipped. */
  it(name: string, fn: () => Promise<void>, opts?: { todo?: string }): void;
}

export function clusterSuite(o: {
  /** the cluster's name (its state folder, network namespace, subnet) */
  cluster: string;
  /** prefix of the hostPath root's temporary folder */
  hostPathPrefix: string;
  /** once the cluster is up: the file keeps both, and may prepare more (timed as phases) */
  started: (c: Cluster, hostPathRoot: string, phase: Phase) => void | Promise<void>;
  /** before the cluster stops */
  stopping?: () => Promise<void>;
  /** protocol errors a test of the file provokes on purpose in a target pod (none does today) */
  expectProtocolErrors?: RegExp[];
}): ClusterSuite {
  const t0 = Date.now();
  const timings: [string, number][] = [];
  let c: Cluster | undefined;
  let hostPathRoot: string | undefined;
  let startError: unknown;
  let protocolErrors: PodProtocolErrorWatch | undefined;
  const phase: Phase = async (name, fn) => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timings.push([name, (Date.now() - t) / 1000]);
    }
  };

  before(async () => {
    try {
      const missing = operatorMissing();
      if (missing) throw new Error(`the operator is not built: missing ${missing}`);
      c = await phase('cluster start', () => startCluster({ name: o.cluster }));
      protocolErrors = new PodProtocolErrorWatch(join(c.stateDir, 'pod-logs'), o.expectProtocolErrors).start();
      hostPathRoot = mkdtempSync(join(tmpdir(), o.hostPathPrefix));
      await o.started(c, hostPathRoot, phase);
    } catch (e) {
      startError = e;
    }
  });

  // The file's last word: every target pod's log, read as it grew, has no protocol error the file did not
  // provoke (a host, Linux's or the TypeScript one, that runs cleanly never causes one). A failure here
  // fails the file's run even when each test passed.
  after(async () => {
    try {
      await o.stopping?.();
      protocolErrors?.check();
      if (protocolErrors) console.log(`protocol-error check: ${protocolErrors.filesRead} target container logs read, no protocol error`);
    } finally {
      await c?.stop();
      if (hostPathRoot) rmSync(hostPathRoot, { recursive: true, force: true });
      timings.push(['whole file', (Date.now() - t0) / 1000]);
      console.log('phase timings (s):');
      for (const [name, s] of timings) console.log(`  ${s.toFixed(1).padStart(6)}  ${name}`);
    }
  });

  return {
    it: (name, fn, opts = {}) =>
      nodeIt(name, opts, async () => {
        if (startError) throw startError;
        await phase(name, fn);
      }),
  };
}

/**
 * A file whose tests need the operator: clusterSuite, with the CRD, the operator's Deployment (`replicas`,
 * default 1) and a privileged namespace for the file's subsystems installed as its first phase.
 */
export function operatorSuite(o: {
  cluster: string;
  hostPathPrefix: string;
  namespace: string;
  replicas?: number;
  /** the cluster, once it is up (the file keeps it) */
  onCluster: (c: Cluster) => void;
  stopping?: () => Promise<void>;
}): ClusterSuite {
  const replicas = o.replicas ?? 1;
  return clusterSuite({
    cluster: o.cluster,
    hostPathPrefix: o.hostPathPrefix,
    started: (c, hostPathRoot, phase) => {
      o.onCluster(c);
      return phase(`CRD, operator${replicas > 1 ? ` (${replicas} replicas)` : ''}, namespace`, () => operatorWithNamespace(c, { hostPathRoot, replicas, namespace: o.namespace }));
    },
    ...(o.stopping ? { stopping: o.stopping } : {}),
  });
}
