// Limits known before a pod runs: memory namespaces live in the target process, so their sizes and the
// target's own need must fit the pod's memory limit, or, without one, what the node can give and what the
// target can address. A resource that cannot fit is refused with both numbers, never left to crash-loop
// (a RangeError from Buffer.alloc) or be OOM-killed. Pure.
import { MAX_MEMORY_NAMESPACE_BYTES, TARGET_BASE_MEMORY_BYTES } from '../../target/contract.js';
import type { NvmeofSubsystemSpec } from '../api/types.js';
import { parseBytes, quantityBytes } from './quantity.js';

export interface MemoryBounds {
  /** The target container's memory limit as it will be set (the resource's, else the operator's default). */
  limit?: string | number;
  /** Allocatable memory of the node the pod is pinned to, or the largest of the nodes it may go to. */
  nodeAllocatable?: { node: string; bytes: number };
}

const MIB = 2 ** 20;
const show = (b: number) => `${b} bytes (${(b / MIB).toFixed(b % MIB === 0 ? 0 : 1)} MiB)`;

/** Why the memory namespaces do not fit, or undefined when they do (or there are none). */
export function memoryProblem(spec: NvmeofSubsystemSpec, bounds: MemoryBounds | undefined): string | undefined {
  let total = 0;
  for (const [i, ns] of spec.namespaces.entries()) {
    if (!ns.backing?.memory || ns.size === undefined) continue;
    let size: number;
    try {
      size = parseBytes(ns.size);
    } catch {
      continue; // reported by the size check
    }
    if (size > MAX_MEMORY_NAMESPACE_BYTES) {
      return `spec.namespaces[${i}].size ${ns.size} is ${show(size)}, more than the ${show(MAX_MEMORY_NAMESPACE_BYTES)} the target can hold in one memory namespace`;
    }
    total += size;
  }
  if (total === 0) return undefined;
  const need = total + TARGET_BASE_MEMORY_BYTES;
  const what = `memory namespaces of ${show(total)} plus the target's own ${show(TARGET_BASE_MEMORY_BYTES)} need ${show(need)}`;
  if (bounds?.limit !== undefined) {
    const limit = quantityBytes(bounds.limit);
    if (limit !== undefined && need > limit) {
      return `${what}, more than the pod's memory limit ${bounds.limit} = ${show(limit)}: raise spec.resources.limits.memory or make the namespaces smaller (or file-backed)`;
    }
    return undefined;
  }
  const n = bounds?.nodeAllocatable;
  if (n && need > n.bytes) {
    return `${what}, more than node ${n.node}'s allocatable memory ${show(n.bytes)}: make the namespaces smaller, or file-backed`;
  }
  return undefined;
}
