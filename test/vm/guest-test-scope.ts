// What one test that drives a guest against target processes holds, released when that test ends whatever
// its outcome: a scratch folder, the target process of the moment, and the guest (aborted, so a failure while
// the guest still runs does not leave qemu running to its timeout). The guest's image must exist: a test
// whose VM is missing fails here, saying what to run; it never skips.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { TargetProcess } from '../support/target-process.js';
import { vmAvailable, type GuestKernel } from './guest.js';

export interface GuestTestScope {
  dir: string;
  /** Pass to runGuest: aborted when the test ends. */
  signal: AbortSignal;
  /** The target process now serving (replace it on restarts); SIGKILLed when the test ends. */
  target?: TargetProcess;
}

export function guestTestScope(t: TestContext, kernel: GuestKernel, dirPrefix: string): GuestTestScope {
  const vm = vmAvailable(kernel);
  assert.ok(vm.ok, `the Linux host VM is missing: ${vm.missing} (run: bash test/vm/prepare.sh)`);
  const stop = new AbortController();
  const scope: GuestTestScope = { dir: mkdtempSync(join(tmpdir(), dirPrefix)), signal: stop.signal };
  t.after(async () => {
    stop.abort();
    await scope.target?.kill('SIGKILL');
    rmSync(scope.dir, { recursive: true, force: true });
  });
  return scope;
}
