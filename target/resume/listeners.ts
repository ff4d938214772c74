// The listeners of a configuration, numbered the same way by the supervisor (which listens) and the worker
// (which learns from SW.LISTENER which one a connection came through): every subsystem's listeners, then the
// discovery-only ones, each address once, as the TCP front end orders them (transport/tcp-front-end.ts).
import type { ListenerConfig, TargetConfig } from '../config/config.js';
import type { ListenerEntry } from './messages.js';

export function listenerTable(config: TargetConfig): ListenerEntry[] {
  return listenerEntries(config.subsystems.flatMap((s) => s.listeners), config.discoveryListeners ?? []);
}

/** The table of these subsystem and discovery-only listeners, each address once, in that order. */
export function listenerEntries(subsystemListeners: ListenerConfig[], discoveryOnly: ListenerConfig[]): ListenerEntry[] {
  const out: ListenerEntry[] = [];
  const seen = new Set<string>();
  const add = (l: ListenerConfig, discoveryOnly: boolean) => {
    const key = `${l.address}:${l.port}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ address: l.address, port: l.port, discoveryOnly, ...(l.tls ? { tls: l.tls } : {}) });
  };
  for (const l of subsystemListeners) add(l, false);
  for (const l of discoveryOnly) add(l, true);
  return out;
}
