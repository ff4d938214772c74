// Child process for lock.test.ts: opens the state file given as argv[2], prints "locked", then holds
// it. On "clean" from stdin it marks a clean shutdown, closes and exits; otherwise it waits to be killed.
import { createInterface } from 'node:readline';
import { writeSync } from 'node:fs';
import { openStateFile } from '../state-file.js';
import { BOOT_ID, SMALL_CAPACITY, testIdentity } from './fixtures.js';

const quiet = { error() {}, warn() {}, info() {} };
const sf = await openStateFile({ path: process.argv[2], identity: testIdentity(), durability: 'process', bootId: BOOT_ID, log: quiet, capacity: SMALL_CAPACITY });
sf.writeController(sf.allocateControllerSlot(), {
  cntlid: sf.allocateCntlid(), hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:holder', hostId: Buffer.alloc(16, 1), subnqn: 'x',
  katoMs: 0, aenConfig: 0, cc: 0, csts: 0, savedFeatures: [], lastSeenMs: 0, createdMs: 0,
});
writeSync(1, 'locked\n');
const keepAlive = setInterval(() => {}, 60_000);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'clean') return;
  sf.markCleanShutdown();
  sf.close();
  clearInterval(keepAlive);
  process.exit(0);
});
