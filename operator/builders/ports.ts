// Port conflicts between subsystems on one node. With hostNetwork a target binds its NVMe/TCP and
// metrics ports on the node itself, so two subsystems on one node must not share either. The loser
// gets Degraded/PortConflict and no pod, rather than two pods fighting over the port.
//
// Who wins, per node: a subsystem whose pod already runs there, then the older resource, then the
// smaller namespace/name, so the decision is stable across reconciles and operator restarts.
// A subsystem not yet placed conflicts only when every node its nodeSelector admits is taken.

export interface PortClaim {
  key: string;
  /** Pinned node (status.node) or spec.placement.nodeName; absent before the first scheduling. */
  node?: string;
  /** Ports bound on the node (none without hostNetwork). */
  ports: number[];
  nodeSelector?: Record<string, string>;
  createdAt: string;
  /** Whether a pod of this subsystem is already scheduled on `node`. */
  running: boolean;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
}

export interface PortConflict {
  with: string;
  port: number;
  node: string;
}

function order(a: PortClaim, b: PortClaim): number {
  return Number(b.running) - Number(a.running) || a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key);
}

export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

export function findPortConflicts(claims: readonly PortClaim[], nodes: readonly NodeInfo[]): Map<string, PortConflict> {
  const conflicts = new Map<string, PortConflict>();
  // node -> port -> key of the winner holding it
  const taken = new Map<string, Map<number, string>>();
  for (const c of [...claims].filter((c) => c.node !== undefined && c.ports.length > 0).sort(order)) {
    const node = c.node as string;
    const held = taken.get(node) ?? new Map<number, string>();
    taken.set(node, held);
    const clash = c.ports.find((p) => held.has(p));
    if (clash !== undefined) {
      conflicts.set(c.key, { with: held.get(clash) as string, port: clash, node });
      continue;
    }
    for (const p of c.ports) held.set(p, c.key);
  }
  for (const c of claims.filter((c) => c.node === undefined && c.ports.length > 0)) {
    const eligible = nodes.filter((n) => selectorMatches(c.nodeSelector, n.labels));
    if (eligible.length === 0) continue;
    let first: PortConflict | undefined;
    const allTaken = eligible.every((n) => {
      const held = taken.get(n.name);
      const clash = c.ports.find((p) => held?.has(p));
      if (clash === undefined) return false;
      first ??= { with: held?.get(clash) as string, port: clash, node: n.name };
      return true;
    });
    if (allTaken && first) conflicts.set(c.key, first);
  }
  return conflicts;
}
