// A connection's records in its subsystem's state file (the Target's IoRecords for it, if it has one): its
// qpair, and the stage of each command in flight. Informational: recovery abandons what it finds (README,
// "What a command stores"). Every call is a few plain stores into the mapping: no system call, no allocation.
// A command's record begins at the first stage it waits in, so a command decided in the step its capsule
// arrived with no data budget to wait for (an in-capsule write, a command without data, a rejected one) never
// shows "received"; it ends in the step that queues its completion (its bytes leave at that tick's uncork), so
// "done-but-unsent" is never stored.
import type { Qpair } from '../controller/qpair.js';
import type { Request } from '../controller/request.js';
import type { Target } from '../controller/target.js';
import { IoStage, type IoRecords } from '../controller/io-records.js';
import { carriesLbaRange } from '../controller/lba.js';
import type { ConnectionRecorder } from './recorder.js';

/** Request.ifh of a command whose record could not begin (every slot of its qpair taken): never tried again. */
const UNTRACKED = -2;

export class StateFileRecorder implements ConnectionRecorder {
  readonly units = false;
  private records: IoRecords | undefined;
  private qpair: Qpair | undefined;
  private qpSlot = -1;
  /** The SQ head the qpair record holds (stored once per chunk fed, not per capsule). */
  private sqhdRecorded = 0;

  constructor(private readonly target: Target) {}

  bound(q: Qpair, hdgst: boolean, ddgst: boolean, sqhd: number): void {
    this.records = this.target.recordsFor(q.ctrl.subsys);
    if (!this.records) return;
    this.qpair = q;
    this.qpSlot = this.records.allocateQpair();
    this.sqhdRecorded = sqhd;
    this.records.writeQpair(this.qpSlot, { cntlid: q.ctrl.cntlid, qid: q.qid, sqsize: q.sqsize, sqhd, hdgst, ddgst, epoch: this.target.nextEpoch() });
  }

  // The SQ head once per chunk of PDUs rather than per capsule (a word store each, a CRC'd one before): it is informational
  // (recovery abandons the queue), and a kill leaves it at most one chunk behind.
  chunkFed(sqhd: number): void {
    if (this.records !== undefined && this.sqhdRecorded !== sqhd) {
      this.sqhdRecorded = sqhd;
      this.records.storeSqhd(this.qpSlot, sqhd);
    }
  }

  waiting(req: Request): void {
    this.track(req, IoStage.received);
  }

  r2tRequested(req: Request): void {
    this.track(req, IoStage.dataIn);
  }

  executing(req: Request): void {
    this.track(req, IoStage.executing);
  }

  completed(req: Request): void {
    const h = req.ifh;
    if (h >= 0) this.records!.end(h);
  }

  retired(req: Request): void {
    this.completed(req);
  }

  closed(): void {
    if (this.records) this.records.freeQpair(this.qpSlot);
    this.records = undefined;
    this.qpSlot = -1;
  }

  /** Records the command at `stage`: its record begins now if this is the first stage it waits in. */
  private track(req: Request, stage: number): void {
    const r = this.records;
    if (!r) return;
    if (req.ifh >= 0) return r.stage(req.ifh, stage);
    if (req.ifh === UNTRACKED) return;
    const qid = this.qpair!.qid;
    const lba = carriesLbaRange(qid, req.opcode);
    const h = r.begin(
      this.qpSlot, req.cid, req.opcode, qid === 0 ? 0 : req.nsid,
      lba ? req.cdw(10) : 0, lba ? req.cdw(11) : 0, lba ? req.cdw(12) : 0,
      stage,
    );
    req.ifh = h >= 0 ? h : UNTRACKED;
  }

  // Nothing to record for these: the state file keeps no journal of the stream.
  icAccepted(): void {}
  icPublishing(): void {}
  parsed(): void {}
  received(): boolean { return true; }
  transferTag(): number { return -1; }
  r2tPublishing(): void {}
  completing(): number { return -1; }
  completionPublishing(): void {}
  completionPublished(): void {}
  replayed(): boolean { return false; }
}
