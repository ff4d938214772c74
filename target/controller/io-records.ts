// Where a connection records its qpair and the stage of each command in flight (the state file's
// ConnectionRecords implements it; the transport never imports the state module). Every method is a few
// plain stores: no system call, no allocation. Handle or slot -1 means "untracked" and is accepted everywhere.

/** Stage codes, equal to the state file layout's (`state/layout.ts` Stage; a test checks they agree). */
export const IoStage = { free: 0, received: 1, dataIn: 2, executing: 3, doneButUnsent: 4 } as const;

export interface IoRecords {
  allocateQpair(): number;
  writeQpair(slot: number, q: { cntlid: number; qid: number; sqsize: number; sqhd: number; hdgst: boolean; ddgst: boolean; epoch: number }): void;
  storeSqhd(slot: number, sqhd: number): void;
  freeQpair(slot: number): void;
  /**
   * A command's record, beginning at `stage`, with its CDW10-12 as in the SQE (a read's or write's SLBA low and
   * high words and NLB; 0 for other commands); its handle, or -1 when every slot of the qpair is taken.
   */
  begin(qpairSlot: number, cid: number, opcode: number, nsid: number, cdw10: number, cdw11: number, cdw12: number, stage: number): number;
  stage(h: number, stage: number): void;
  end(h: number): void;
}
