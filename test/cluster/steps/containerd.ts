// containerd with its own config, root, state and socket under the state directory, and its CNI
// network; and `ctr` against it.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageSet } from '../images.js';
import { POD_CIDR } from '../layout.js';
import { run, runAsync } from '../proc.js';
import type { StepContext } from './context.js';

export async function startContainerd(ctx: StepContext, images: ImageSet): Promise<void> {
  const { l, bins, cfg, startProc, waitFor } = ctx;
  const cd = join(l.stateDir, 'containerd');
  writeFileSync(
    cfg('containerd.toml'),
    `version = 2
root = "${cd}/root"
state = "${cd}/state"
plugin_dir = ""
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${l.containerdSock}"
[ttrpc]
  address = "${cd}/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${cd}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${images.pause}"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  # This machine withholds CAP_SYS_RESOURCE: a negative oom_score_adj is refused, so cap it at containerd's own.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${bins.runc}"
        Root = "${cd}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${bins.cniBinDir}"
    conf_dir = "${join(l.stateDir, 'cni/net.d')}"
    max_conf_num = 1
`,
  );
  writeFileSync(
    join(l.stateDir, 'cni/net.d/10-nvmeof.conflist'),
    JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: l.cniNetwork,
        plugins: [
          {
            type: 'bridge', bridge: 'cni-nvmeof', isGateway: true, ipMasq: false, hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(l.stateDir, 'cni/ipam') },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ),
  );
  startProc('containerd', bins.containerd, ['--config', cfg('containerd.toml')]);
  await waitFor('containerd', () => existsSync(l.containerdSock) && run(bins.ctr, ['--address', l.containerdSock, 'version'], { allowFail: true }).code === 0, 60_000);
}

/** Runs `ctr` against the cluster's containerd in the k8s.io namespace: resolves to stdout, rejects on failure. */
export function containerdCtr(ctx: StepContext): (args: string[]) => Promise<string> {
  const { l, bins } = ctx;
  const ctr = async (args: string[]) => {
    const r = await runAsync(bins.ctr, ['--address', l.containerdSock, '--namespace', 'k8s.io', ...args], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`ctr ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  return ctr;
}
