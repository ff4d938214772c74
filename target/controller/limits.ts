// The transfer sizes the target advertises and enforces. Identify reports them (MDTS, IOCCSZ), dispatch
// refuses longer commands before any data moves (target.ts check()), the transport refuses longer in-capsule
// data (transport/connection.ts), and the in-pod-resume supervisor sizes its tx rings for the largest read
// (supervisor.ts).

/** Largest data transfer: 2^MDTS pages of 4 KiB (CAP.MPSMIN 0). MDTS 8 = 1 MiB, what the Linux host uses. */
export const MDTS = 8;
export const MAX_TRANSFER = (1 << MDTS) * 4096;
/** In-capsule data the target accepts with a command (IOCCSZ = (64 + this) / 16). */
export const INLINE_DATA_SIZE = 8192;
