// The worker of in-pod resume (forked by supervisor.ts, never run by hand): the whole target, with its
// connections coming from the supervisor's rings instead of sockets. Same arguments as target/main.ts; the
// rings file is named by NVMEOF_RINGS. It exits when the supervisor goes (the sockets went with it).
import { configFileArg, parseArgs } from '../config/cli.js';
import { createLogger } from '../log.js';
import { serve } from '../serve.js';
import { exitForError } from '../termination-message.js';
import { RingsFile } from './rings-file.js';
import { compactStandbyHeap } from './standby-compaction.js';
import { RingFrontEnd } from './ring-front-end.js';
import { listenerTable } from './listeners.js';
import type { ListenerEntry, SupervisorMessage, WorkerMessage } from './messages.js';
import type { NativeHandle } from './node-socket.js';

/**
 * A standby worker has loaded every module; it waits here until the supervisor makes it the worker. Resolves
 * with the supervisor's listener table of that moment (it may have changed while the standby waited).
 */
function standby(): Promise<ListenerEntry[] | undefined> {
  process.on('disconnect', () => process.exit(0));
  return new Promise((resolve) => {
    const onMessage = (m: { t: string; listeners?: ListenerEntry[] }) => {
      if (m.t !== 'go') return;
      process.off('message', onMessage);
      resolve(m.listeners);
    };
    process.on('message', onMessage);
    compactStandbyHeap();
    process.send!({ t: 'standby' });
  });
}

async function main(): Promise<void> {
  const ringsPath = process.env.NVMEOF_RINGS;
  if (!ringsPath || !process.send) throw new Error('the worker is started by the supervisor (dist/target/supervisor.js), not by hand');
  const fromGo = process.env.NVMEOF_WORKER_STANDBY === '1' ? await standby() : undefined;
  const config = parseArgs(process.argv.slice(2));
  // The supervisor's listener table (it numbers connections by it): after a live change of the listening
  // addresses it is not the one this configuration would give, so it comes from the supervisor.
  const listeners = fromGo ?? (process.env.NVMEOF_LISTENERS ? JSON.parse(process.env.NVMEOF_LISTENERS) as ListenerEntry[] : listenerTable(config));
  const log = createLogger(config.logLevel ?? 'info', { process: 'worker' });
  process.on('disconnect', () => {
    log.error('supervisor gone: exiting');
    process.exit(1);
  });
  const rings = RingsFile.open(ringsPath);
  const send = (m: WorkerMessage) => {
    if (process.connected) process.send!(m, undefined, {}, () => { /* a lost supervisor shows as 'disconnect' */ });
  };
  const front = new RingFrontEnd({ rings, listeners, tlsPsks: config.subsystems, log, send });
  // A direct socket's handle comes with its message (child_process 'net.Native'): resume/node-socket.ts.
  process.on('message', (m: SupervisorMessage, handle?: unknown) => front.onMessage(m, handle as NativeHandle | undefined));
  // A worker reads --config when it starts: one started after a live change serves the new configuration.
  // It watches the file as the target does; a change of the listening addresses is asked of the supervisor,
  // which holds the sockets (RingFrontEnd.prepareListeners).
  await serve(config, log, front, ['SIGTERM'], {
    configFile: configFileArg(process.argv.slice(2)),
    setLogLevel: (level) => { log.level = level; },
  });
  process.on('SIGINT', () => { /* the supervisor decides: it forwards SIGTERM */ });
}

// The worker shares the container: its configuration or environment error is the termination message too.
main().catch((e) => exitForError('nvmeof-target worker', e));
