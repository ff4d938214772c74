// Which commands address a range of logical blocks (NVM Command Set 1.0, 3.2): on an I/O queue, Read, Write
// and Write Zeroes carry the starting LBA in CDW10-11 and the number of blocks, 0's based, in CDW12's low
// 16 bits. On the admin queue the same opcodes are other commands (02h is Get Log Page).
import { IoOpc } from '../protocol/opcodes.js';

export function carriesLbaRange(qid: number, opcode: number): boolean {
  return qid !== 0 && (opcode === IoOpc.Read || opcode === IoOpc.Write || opcode === IoOpc.WriteZeroes);
}
