import type { Backend } from './backends/backend.js';
import type { NamespaceIds } from './identity.js';

export class Namespace {
  /** Number of logical blocks (NSZE = NCAP = NUSE); only grows (resized()). */
  nsze: number;
  readonly lbaShift: number;

  constructor(
    readonly nsid: number,
    readonly blockSize: 512 | 4096,
    readonly ids: NamespaceIds,
    readonly backend: Backend,
  ) {
    this.nsze = Math.floor(backend.size / blockSize);
    this.lbaShift = blockSize === 4096 ? 12 : 9;
  }

  /** The backend grew: whole blocks of its new size become addressable. */
  resized(): void {
    this.nsze = Math.max(this.nsze, Math.floor(this.backend.size / this.blockSize));
  }

  /** True if [slba, slba + nlb) lies inside the namespace. */
  inRange(slba: number, nlb: number): boolean {
    return slba >= 0 && nlb >= 0 && slba + nlb <= this.nsze;
  }
}
