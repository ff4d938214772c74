// Status for a CRD older than the operator. Server-side apply refuses a status with a field the stored CRD
// does not declare ("field not declared in schema"), so an operator upgraded before its CRD (the README
// says CRD first; Helm never upgrades CRDs) would write no status at all and no subsystem would turn
// Ready. Instead it writes what the older CRD declares: the fields this release added are left out. Pure.
import type { NvmeofSubsystemStatus } from '../api/types.js';

/** The apiserver's words for a field the CRD does not declare. */
export const UNDECLARED_FIELD = /field not declared in schema/;

/**
 * `status` without the fields added with issue 17 (retired namespaces, and each namespace's backing and
 * incarnation), issue 20 (config, the generation the target serves; the ConfigApplied condition is a
 * condition like the others, which every CRD declares) and issue 19 (offlineNamespaces; its Degraded
 * condition and Warning event need no new field).
 */
export function statusForOlderCrd(status: NvmeofSubsystemStatus): NvmeofSubsystemStatus {
  const { retiredNamespaces: _retired, config: _config, offlineNamespaces: _offline, namespaces, ...rest } = status;
  return {
    ...rest,
    ...(namespaces ? { namespaces: namespaces.map(({ backing: _b, incarnation: _i, ...n }) => n) } : {}),
  };
}
