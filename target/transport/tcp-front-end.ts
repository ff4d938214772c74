// The TCP front end: a listener per address of the subsystems served and per discovery-only address, each
// accepted socket a Connection recording into its subsystem's state file (listener.ts).
import type { ListenerConfig, SubsystemConfig } from '../config/config.js';
import { AuthCounter } from '../auth-metric.js';
import { StartupError } from '../startup-error.js';
import type { GateContext } from '../tls/gate.js';
import { TlsKeySource } from '../tls/key-source.js';
import { DATA_BUDGET_BYTES } from './data-budget.js';
import type { FrontEnd, FrontEndContext, ListenerChange, TlsKeysChange } from './front-end.js';
import { Listener } from './listener.js';
import { listenWhenFree } from './port-wait.js';

const discoveryWhat = (l: Listener) => (l.discoveryOnly ? 'NVMe/TCP discovery listener' : 'NVMe/TCP listener');

export class TcpFrontEnd implements FrontEnd {
  /** A quarter of the whole: 4 MiB, QD32 of 128 KiB. */
  readonly perConnectionBudget = DATA_BUDGET_BYTES / 4;
  private listeners: Listener[] = [];
  private ctx: FrontEndContext | undefined;

  /** Listeners with `tls` required or allowed pass each new connection through it (target/tls/gate.ts). */
  private gate: GateContext | undefined;
  private keySource: TlsKeySource | undefined;

  /**
   * `discoveryListeners`: addresses that serve only the discovery subsystem (e.g. port 8009); `subsystems`: the
   * configuration's, for the TLS PSKs of listeners with `tls` (target/tls).
   */
  constructor(private readonly discoveryListeners: ListenerConfig[] = [], private readonly subsystems: SubsystemConfig[] = []) {}

  async start(ctx: FrontEndContext): Promise<void> {
    const gate = this.tlsGate(ctx);
    this.gate = gate;
    this.ctx = ctx;
    const seen = new Set<string>();
    const add = (l: ListenerConfig, discoveryOnly: boolean) => {
      const key = `${l.address}:${l.port}`;
      if (seen.has(key)) return;
      seen.add(key);
      this.listeners.push(new Listener(l, ctx.target, discoveryOnly, ctx.budget, gate));
    };
    for (const s of ctx.subsystems) for (const l of s.listeners) add(l, false);
    for (const l of this.discoveryListeners) add(l, true);
    for (const l of this.listeners) {
      // A force-deleted pod's container may still hold the port: wait for it, saying so, never crash-loop;
      // but a port someone else keeps ends the process, saying whose (port-wait.ts).
      await listenWhenFree(() => l.listen(), {
        what: discoveryWhat(l), address: l.config.address, port: l.config.port, log: ctx.log,
        locksHeldSinceMs: ctx.locksHeldSinceMs, notReady: ctx.notReady,
      });
    }
  }

  /**
   * The addresses wanted now: each one missing is opened at once (no waiting for a port in use, as at
   * start-up: a running target's configuration change is refused instead, and the old one keeps serving).
   * An address both kinds list is a full listener, as at start-up.
   */
  async prepareListeners(subsystemListeners: ListenerConfig[], discoveryOnly: ListenerConfig[]): Promise<ListenerChange> {
    const ctx = this.ctx;
    if (!ctx) throw new Error('the front end has not started');
    const key = (l: { address: string; port: number }) => `${l.address}:${l.port}`;
    const wanted = new Map<string, { l: ListenerConfig; discoveryOnly: boolean }>();
    for (const l of subsystemListeners) if (!wanted.has(key(l))) wanted.set(key(l), { l, discoveryOnly: false });
    for (const l of discoveryOnly) if (!wanted.has(key(l))) wanted.set(key(l), { l, discoveryOnly: true });
    const have = new Map(this.listeners.map((l) => [key(l.config), l]));
    const opened: Listener[] = [];
    try {
      for (const [k, w] of wanted) {
        if (have.has(k)) continue;
        // TLS keys are loaded at start only when a listener had TLS then: a first TLS listener needs a restart.
        if ((w.l.tls ?? 'off') !== 'off' && !this.gate) throw new Error(`${k}: a TLS listener in a target started without one needs a restart (its keys are loaded at start)`);
        const l = new Listener(w.l, ctx.target, w.discoveryOnly, ctx.budget, this.gate);
        await l.listen();
        opened.push(l);
      }
    } catch (e) {
      for (const l of opened) await l.stopAccepting();
      throw e;
    }
    const closing = this.listeners.filter((l) => !wanted.has(key(l.config)));
    return {
      opened: opened.map((l) => l.address),
      closing: closing.map((l) => l.address),
      commit: () => {
        // A connection that came through an address no longer listened on ends with it (as nvmet's
        // nvmet_port_del_ctrls when a port leaves a subsystem); the host's reconnect finds the new ones.
        for (const l of closing) {
          void l.stopAccepting();
          l.closeConnections();
        }
        this.listeners = [...this.listeners.filter((l) => !closing.includes(l)), ...opened];
      },
      undo: async () => {
        for (const l of opened) await l.stopAccepting();
      },
    };
  }

  /**
   * The PSKs of a configuration change. A target started without a TLS listener reads no key (as at start:
   * tlsGate) and cannot open one live (config/diff.ts), so it has nothing to reload.
   */
  async prepareTlsKeys(subsystems: SubsystemConfig[]): Promise<TlsKeysChange> {
    const commit = this.keySource?.prepare(subsystems);
    return { commit: () => commit?.(), undo: () => {} };
  }

  /** The keys are read before any port listens: a missing or malformed key ends the start, naming the host. */
  private tlsGate(ctx: FrontEndContext): GateContext | undefined {
    const tls = [...this.subsystems.flatMap((s) => s.listeners), ...this.discoveryListeners].some((l) => (l.tls ?? 'off') !== 'off');
    if (!tls) return undefined;
    let keys: TlsKeySource;
    try {
      keys = new TlsKeySource(this.subsystems, ctx.log);
    } catch (e) {
      throw new StartupError(`TLS: ${(e as Error).message}`, { cause: e });
    }
    this.keySource = keys;
    const auth = new AuthCounter(ctx.registry);
    return { keys: () => keys.current(), log: ctx.log, counted: (r) => auth.count('tls', r) };
  }

  get addresses(): string[] {
    return this.listeners.map((l) => l.address);
  }

  async stopAccepting(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stopAccepting()));
  }

  closeConnections(): void {
    for (const l of this.listeners) l.closeConnections();
  }
}
