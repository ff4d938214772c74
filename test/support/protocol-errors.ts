// The check every host-driven test ends with: the target logged no protocol error the test did not provoke.
// A real host (the Linux guest, the TypeScript host library) that runs cleanly never gets a C2HTermReq and
// never sends an H2CTermReq, so one in the target's log is a bug of the target or of the host's model of it,
// even when the test's own assertions passed (the host reconnected, the data was right).
//
// The target logs JSON lines (target/log.ts); a protocol error is one whose message is one of
// ProtocolErrorLog's (target/transport/protocol-error-log.ts). A test that provokes some on purpose says
// which with patterns matched against the whole line (e.g. [/"kind":"digest"/]); every other one fails it.
// Cheap: a substring test per line before any JSON is parsed.
import { ProtocolErrorLog } from '../../target/transport/protocol-error-log.js';

const MESSAGES: readonly string[] = Object.values(ProtocolErrorLog);
const NEEDLES = MESSAGES.map((m) => `"message":${JSON.stringify(m)}`);

/** The protocol error a target log line reports, or undefined for any other line. */
export function protocolErrorOf(line: string): { message: string; kind: string | undefined } | undefined {
  if (!NEEDLES.some((n) => line.includes(n))) return undefined;
  try {
    const o = JSON.parse(line) as { message?: unknown; kind?: unknown };
    if (typeof o.message !== 'string' || !MESSAGES.includes(o.message)) return undefined;
    return { message: o.message, kind: typeof o.kind === 'string' ? o.kind : undefined };
  } catch {
    return undefined; // a line cut by the process's death, or not JSON: not a log entry
  }
}

/** The lines of `protocolErrorLines` no pattern of `expected` matches. */
export function unexpectedProtocolErrors(protocolErrorLines: readonly string[], expected: readonly RegExp[] = []): string[] {
  return protocolErrorLines.filter((l) => !expected.some((re) => re.test(l)));
}

/** Throws, quoting the lines, when the target logged a protocol error no pattern of `expected` allows. */
export function assertNoUnexpectedProtocolErrors(protocolErrorLines: readonly string[], expected: readonly RegExp[] = [], who = 'the target'): void {
  const bad = unexpectedProtocolErrors(protocolErrorLines, expected);
  if (bad.length === 0) return;
  const shown = bad.slice(0, 20).join('\n') + (bad.length > 20 ? `\n... and ${bad.length - 20} more` : '');
  throw new Error(
    `${who} logged ${bad.length} protocol error${bad.length === 1 ? '' : 's'} the test did not provoke ` +
    `(a test that provokes them on purpose passes expectProtocolErrors: [/pattern/] when it starts the target):\n${shown}`,
  );
}

/** Collects a target's protocol-error lines as they are logged (all of them: unaffected by trimming the output). */
export class ProtocolErrorWatch {
  readonly lines: string[] = [];
  private checked = false;

  constructor(private readonly expected: readonly RegExp[] = [], private readonly who = 'the target') {}

  onLine(line: string): void {
    if (protocolErrorOf(line)) this.lines.push(line);
  }

  /** The check, once per process: later calls (a second kill or stop of the same process) pass. */
  check(): void {
    if (this.checked) return;
    this.checked = true;
    assertNoUnexpectedProtocolErrors(this.lines, this.expected, this.who);
  }
}
