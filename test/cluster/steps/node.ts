// The start's last wait: the node Ready and the default ServiceAccount made.
import type { StepContext } from './context.js';

export async function waitForNode(ctx: StepContext, apiGet: (path: string) => Promise<unknown>): Promise<void> {
  const { nodeName, waitFor } = ctx;
  await waitFor(`node ${nodeName} Ready`, async () => {
    const n = (await apiGet(`/api/v1/nodes/${nodeName}`)) as { status?: { conditions?: { type: string; status: string }[] } };
    return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  });
  await waitFor('the default ServiceAccount', async () => {
    await apiGet('/api/v1/namespaces/default/serviceaccounts/default');
    return true;
  });
}
