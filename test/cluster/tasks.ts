// Containers of the test cluster seen from this machine, through containerd's task list.
import type { Cluster } from './cluster.js';

/** The host PID of a container's main process (`containerd://<id>` or `<id>`); throws if containerd runs no such task. */
export async function containerPid(c: Pick<Cluster, 'ctr'>, containerID: string): Promise<number> {
  const id = containerID.replace(/^containerd:\/\//, '');
  for (const line of (await c.ctr(['tasks', 'ls'])).split('\n')) {
    const [task, pid] = line.trim().split(/\s+/);
    if (task === id) return Number(pid);
  }
  throw new Error(`no containerd task ${id}`);
}
