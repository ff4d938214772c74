// The cluster's network namespace, joined to the host by a veth pair (see cluster.ts).
import { run } from '../proc.js';
import type { StepContext } from './context.js';

export function createNetwork(ctx: StepContext): void {
  const { l, bins, log } = ctx;
  const ip = (...a: string[]) => run(bins.ip, a);
  const inNs = (cmd: string, ...a: string[]) => run(bins.nsenter, [`--net=/run/netns/${l.netns}`, '--', cmd, ...a]);
  ip('netns', 'add', l.netns);
  inNs(bins.ip, 'link', 'set', 'lo', 'up');
  ip('link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', l.nsIf, 'netns', l.netns);
  ip('addr', 'add', `${l.hostIP}/30`, 'dev', l.hostIf);
  ip('link', 'set', l.hostIf, 'up');
  inNs(bins.ip, 'addr', 'add', `${l.nodeIP}/30`, 'dev', l.nsIf);
  inNs(bins.ip, 'link', 'set', l.nsIf, 'up');
  run('modprobe', ['br_netfilter'], { allowFail: true });
  for (const s of ['net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1', 'net.ipv4.conf.all.route_localnet=1']) {
    const r = run(bins.nsenter, [`--net=/run/netns/${l.netns}`, '--', 'sysctl', '-qw', s], { allowFail: true });
    if (r.code !== 0) log(`WARNING: sysctl ${s} in ${l.netns}: ${r.stderr.trim()}`);
  }
}
