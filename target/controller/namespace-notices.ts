// Namespace Attribute Notices: how an I/O controller tells its host that namespaces came, went or changed size
// (NVMe Base 2.0, 5.2: Asynchronous Event, Notice type 2h, information 00h "Namespace Attribute Changed",
// log page 04h; 5.16.1.5 Changed Namespace List; 5.27.1.7 Asynchronous Event Configuration bit 8).
// Invariants, as Linux nvmet keeps them (drivers/nvme/target/core.c nvmet_add_to_changed_ns_log and
// nvmet_ns_changed; admin-cmd.c nvmet_execute_get_log_changed_ns):
//  - every controller of the subsystem records each changed nsid once in its Changed Namespace List, whether or
//    not its host enabled the notice; past 1024 entries the list is the single entry FFFFFFFFh ("more than
//    1024 changed: rescan them all");
//  - a notice goes only to a controller whose host enabled AEC bit 8, and after one notice that controller gets
//    no other until its host reads log 04h with RAE clear (the event is masked until then: NVMe Base 2.0,
//    5.2.1), so a host that is slow to read is told once and reads every change at once;
//  - reading log 04h with RAE clear empties the list and unmasks the notice; with RAE set both stay (the
//    specification's rule; nvmet empties the list even with RAE set, which loses nothing a host asked to keep
//    only because the Linux host reads it without RAE: drivers/nvme/host/core.c nvme_clear_changed_ns_log).
// The state is kept here, beside the rule, per controller object: it dies with its controller. A controller
// rebuilt by in-pod resume starts with an empty list, unmasked.
import type { Controller } from './controller.js';

/** OAES and Asynchronous Event Configuration bit 8: Namespace Attribute Notices. */
export const AEN_NAMESPACE_ATTRIBUTE = 1 << 8;

/** AER completion DW0: type Notice (2h), information Namespace Attribute Changed (00h), log page 04h. */
export const AEN_NAMESPACE_ATTRIBUTE_CHANGED = 0x02 | (0x00 << 8) | (0x04 << 16);

/** Entries the Changed Namespace List holds (4096 bytes of nsids). */
export const MAX_CHANGED_NAMESPACES = 1024;
/** The single entry of a list that overflowed. */
export const CHANGED_NAMESPACES_OVERFLOW = 0xffff_ffff;

interface NoticeState {
  changed: number[];
  masked: boolean;
}

const states = new WeakMap<Controller, NoticeState>();

function stateOf(ctrl: Controller): NoticeState {
  let s = states.get(ctrl);
  if (!s) states.set(ctrl, (s = { changed: [], masked: false }));
  return s;
}

/** Adds `nsid` to a Changed Namespace List (pure on the list): once, and the overflow entry past 1024. */
export function addChangedNamespace(list: readonly number[], nsid: number): number[] {
  if (list[0] === CHANGED_NAMESPACES_OVERFLOW && list.length === 1) return [...list];
  if (list.includes(nsid)) return [...list];
  if (list.length >= MAX_CHANGED_NAMESPACES) return [CHANGED_NAMESPACES_OVERFLOW];
  return [...list, nsid];
}

/**
 * The namespaces `nsids` of `ctrl`'s subsystem changed (added, removed, resized): recorded in its list and,
 * if its host enabled the notice and read the log since the last one, told. True when the notice was raised.
 */
export function noticeNamespacesChanged(ctrl: Controller, nsids: readonly number[]): boolean {
  if (ctrl.isDiscovery || ctrl.destroyed || nsids.length === 0) return false;
  const s = stateOf(ctrl);
  for (const nsid of nsids) s.changed = addChangedNamespace(s.changed, nsid);
  if (((ctrl.features.asyncEventConfig >>> 0) & AEN_NAMESPACE_ATTRIBUTE) === 0 || s.masked) return false;
  s.masked = true;
  ctrl.raiseAsyncEvent(AEN_NAMESPACE_ATTRIBUTE_CHANGED);
  return true;
}

/** Log 04h read by `ctrl`'s host: the list as it is; without RAE the list empties and the notice unmasks. */
export function takeChangedNamespaces(ctrl: Controller, retainAsyncEvent: boolean): number[] {
  const s = stateOf(ctrl);
  const list = s.changed;
  if (!retainAsyncEvent) {
    s.changed = [];
    s.masked = false;
  }
  return list;
}
