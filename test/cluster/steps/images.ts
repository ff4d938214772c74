// The project's images, imported into the cluster's containerd.
import type { ImageSet } from '../images.js';

export async function importImages(ctr: (args: string[]) => Promise<string>, set: ImageSet): Promise<void> {
  await ctr(['images', 'import', set.archive]);
}
