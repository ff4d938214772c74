// Writes a layout-1 file (layout-v1.ts), as a binary of that layout would have: the migration test's input.
import { HEADER_SECTION, MAGIC, HDR } from '../layout.js';
import { TwoSlotSection } from '../slots.js';
import { identityDigestV1 as identityDigest, sortedNamespaces } from '../identity-digest.js';
import {
  V1_ALLOC, V1_CTRL, V1_CTRL_LIVE, V1_HDR, V1_LAYOUT_VERSION, V1_NS, v1FileSize, v1Sections,
} from '../layout-v1.js';
import type { SubsystemIdentity } from '../types.js';

export interface V1Controller {
  cntlid: number;
  hostNqn: string;
  hostId: Buffer;
  katoMs: number;
}

export interface V1State {
  bootCount: number;
  cleanShutdown: boolean;
  outcomes: { fresh: number; clean: number; restored: number };
  cntlidNext: number;
  controllers: Array<V1Controller | undefined>;
}

export function writeV1Image(identity: SubsystemIdentity, s: V1State): Buffer {
  const namespaces = sortedNamespaces(identity);
  const buf = Buffer.alloc(v1FileSize(s.controllers.length));
  new TwoSlotSection(HEADER_SECTION).write(buf, 0, 0, (b, o) => {
    MAGIC.copy(b, o + HDR.MAGIC); // frozen offset, the same in every layout
    b.writeUInt32LE(V1_LAYOUT_VERSION, o + HDR.VERSION);
    identityDigest(identity).copy(b, o + V1_HDR.IDENTITY_DIGEST);
    b.writeUInt32LE(s.bootCount, o + V1_HDR.BOOT_COUNT);
    b.writeUInt32LE(s.cleanShutdown ? 1 : 0, o + V1_HDR.CLEAN_SHUTDOWN);
    b.writeUInt32LE(s.outcomes.fresh, o + V1_HDR.OUTCOME_FRESH);
    b.writeUInt32LE(s.outcomes.clean, o + V1_HDR.OUTCOME_CLEAN);
    b.writeUInt32LE(s.outcomes.restored, o + V1_HDR.OUTCOME_RESTORED);
    b.writeUInt32LE(namespaces.length, o + V1_HDR.NAMESPACE_COUNT);
    b.writeUInt32LE(s.controllers.length, o + V1_HDR.CONTROLLER_COUNT);
  });
  const secs = v1Sections(namespaces.length, s.controllers.length);
  const ns = new TwoSlotSection(secs.ns);
  namespaces.forEach((n, i) => ns.write(buf, i, 0, (b, o) => {
    b.writeUInt32LE(n.nsid, o + V1_NS.NSID);
    b.writeUInt32LE(n.blockSize, o + V1_NS.BLOCK_SIZE);
    b.writeDoubleLE(n.size, o + V1_NS.SIZE);
    n.uuid.copy(b, o + V1_NS.UUID);
    n.nguid.copy(b, o + V1_NS.NGUID);
    n.eui64.copy(b, o + V1_NS.EUI64);
  }));
  new TwoSlotSection(secs.alloc).write(buf, 0, 0, (b, o) => b.writeUInt32LE(s.cntlidNext, o + V1_ALLOC.NEXT_CNTLID));
  const ctrl = new TwoSlotSection(secs.ctrl);
  s.controllers.forEach((c, i) => {
    if (!c) return;
    // Two versions, as a running layout-1 binary would have left: the second is the record's value.
    ctrl.write(buf, i, V1_CTRL_LIVE, (b, o) => b.writeUInt16LE(c.cntlid, o + V1_CTRL.CNTLID));
    ctrl.write(buf, i, V1_CTRL_LIVE, (b, o) => {
      b.writeUInt16LE(c.cntlid, o + V1_CTRL.CNTLID);
      b.writeUInt32LE(c.katoMs, o + V1_CTRL.KATO_MS);
      c.hostId.copy(b, o + V1_CTRL.HOST_ID);
      const n = b.write(c.hostNqn, o + V1_CTRL.HOST_NQN, 'utf8');
      b.writeUInt16LE(n, o + V1_CTRL.HOST_NQN_LENGTH);
    });
  });
  return buf;
}
