/**
 * SMART / Health counters of a subsystem (NVMe Base 2.0, 5.16.1.3). Plain numbers: exact up to 2^53,
 * which at 1 M commands per second lasts 285 years.
 */
export class SmartCounters {
  /** 512-byte units read and written (the log reports thousands of them, rounded up). */
  unitsRead = 0;
  unitsWritten = 0;
  hostReads = 0;
  hostWrites = 0;
  powerCycles = 0;
  unsafeShutdowns = 0;
  mediaErrors = 0;
  readonly startedAt = Date.now();
  /** Power-on time carried over from earlier processes, in hours. */
  powerOnHoursBefore = 0;
}
