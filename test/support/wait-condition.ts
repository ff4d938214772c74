// Waiting for a status condition of a Kubernetes object by polling `kubectl get`, instead of
// `kubectl wait --for=condition=...`: kubectl 1.32 fails that at once ("error: .status.conditions accessor
// error: <nil> is of the type <nil>, expected []interface{}") when the object's status has no conditions
// yet, which is how a CRD, a pod or a custom resource starts out right after `kubectl apply`.
import { waitFor } from './wait.js';

interface Conditioned {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** Resolves once `kubectl [-n ns] get <object> -o json` shows condition `type` with status "True". */
export async function waitCondition(
  kubectl: (args: string[]) => Promise<string>,
  o: { namespace?: string; object: string; type: string; timeoutMs: number },
): Promise<void> {
  let seen = 'no status.conditions yet';
  await waitFor(`${o.object}${o.namespace ? ` in ${o.namespace}` : ''} to be ${o.type}`, async () => {
    const obj = JSON.parse(await kubectl([...(o.namespace ? ['-n', o.namespace] : []), 'get', o.object, '-o', 'json'])) as Conditioned;
    const conds = obj.status?.conditions ?? [];
    if (conds.length) seen = conds.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`).join(', ');
    if (conds.some((c) => c.type === o.type && c.status === 'True')) return true;
    throw new Error(seen);
  }, o.timeoutMs, 200);
}
