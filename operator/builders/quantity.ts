// Kubernetes quantities for namespace sizes. Only exact byte counts make sense for a namespace, so
// only integers with an optional binary (Ki..Pi) or decimal (k..P) suffix are accepted, as the CRD's
// pattern says; anything else is refused rather than rounded.
const FACTORS: Record<string, bigint> = {
  '': 1n,
  Ki: 1024n, Mi: 1024n ** 2n, Gi: 1024n ** 3n, Ti: 1024n ** 4n, Pi: 1024n ** 5n,
  k: 1000n, M: 1000n ** 2n, G: 1000n ** 3n, T: 1000n ** 4n, P: 1000n ** 5n,
};

export class QuantityError extends Error {}

/** Bytes of a quantity; throws QuantityError when it is not an exact non-negative integer number of bytes. */
export function parseBytes(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isSafeInteger(q) || q < 0) throw new QuantityError(`size ${q} is not a whole number of bytes`);
    return q;
  }
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q);
  if (!m) throw new QuantityError(`size ${JSON.stringify(q)} is not a quantity such as 1Gi or 500M`);
  const bytes = BigInt(m[1]) * FACTORS[m[2] ?? ''];
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new QuantityError(`size ${q} is too large`);
  return Number(bytes);
}

const DECIMAL_EXP: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_EXP: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/**
 * Bytes of any Kubernetes quantity (a memory limit: "1Gi", "1.5G", "129e6", "512M"), rounded up as the
 * kubelet does; undefined when it is not a quantity. Approximate beyond 2^53 bytes, which no limit reaches.
 */
export function quantityBytes(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) && q >= 0 ? Math.ceil(q) : undefined;
  const m = /^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|[eE]([+-]?[0-9]+))?$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const v = m[2] ? n * 2 ** BINARY_EXP[m[2]] : n * 10 ** (m[3] !== undefined ? DECIMAL_EXP[m[3]] : m[4] !== undefined ? Number(m[4]) : 0);
  return Math.ceil(v);
}
