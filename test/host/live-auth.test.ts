// DH-HMAC-CHAP hosts and TLS PSKs changed in a running target (issues 20 and 21), with the TypeScript host,
// against the target alone and under its supervisor (in-pod resume: TLS ends in the supervisor, which learns
// the new PSKs from the worker). The configuration file is replaced (rename) as the operator's ConfigMap is.
// Checked: a host that gains a DH-HMAC-CHAP key has its unauthenticated connection ended and must
// authenticate when it comes back; a host that gains a TLS PSK completes a handshake with it, its plain
// connection kept; a missing key file and a malformed PSK file each refuse the whole change, the message naming
// the host and field and never the key, the old keys serving; under the supervisor, a PSK added while the
// worker hung reaches the supervisor through the worker that replaces it; the missing one tried again and served once the
// file appears (the configuration unchanged), a queue authenticated before re-authenticating with its key; keys removed while the host stays listed: its
// live connections are kept, a new one connects without authentication, and a TLS handshake with the removed
// PSK is refused. Under the supervisor a worker SIGKILLed after the change leaves the new PSKs in use.
// Times (file written -> generation served) are printed, never asserted. Ports are OS-assigned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTarget, SUPERVISOR_MAIN, TARGET_MAIN } from '../support/target-process.js';
import { waitFor } from '../support/wait.js';
import { HostController, propertyGetSqe, type HostQueue } from './index.js';
import { authenticateQueue, connectRaw } from './auth.js';
import { AUTHREQ_ATR, DYNAMIC_CNTLID } from '../../target/protocol/connect.js';
import { Status } from '../../target/protocol/status.js';
import { formatDhchapSecret } from '../../target/auth/secret.js';
import { formatInterchangePsk, hostIdentities, parseInterchangePsk } from '../../target/tls/psk.js';
import { killServingWorker, servingWorker } from '../resume/support.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:live-auth';
const HOST_A = 'nqn.2014-08.org.nvmexpress:uuid:4a1e2d3c-0000-4000-8000-00000000000a';
const HOST_B = 'nqn.2014-08.org.nvmexpress:uuid:4b1e2d3c-0000-4000-8000-00000000000b';
const HOSTID_A = Buffer.from('4a1e2d3c00004000800000000000000a', 'hex');
const SECRET = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x71) });
const CTRL_SECRET = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x72) });
/** A's key in the file generation 3 names instead. */
const SECRET_3 = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x74) });
const PSK_TEXT = formatInterchangePsk({ transform: 1, key: Buffer.alloc(32, 0x73) });
const [PSK_B] = hostIdentities('compat', parseInterchangePsk(PSK_TEXT), HOST_B, NQN);
const CSTS = 0x1c;
/** POLL_MS of runtime/config-watch.ts and a margin: a content refused for a missing key file is tried again by then. */
const RETRIED_MS = 2_500;

interface ConfigBlock { generation: number; rejected?: { generation: number; error: string } }

for (const [name, main] of [['the target', TARGET_MAIN], ['in-pod resume', SUPERVISOR_MAIN]] as const) {
  test(`${name}: DH-HMAC-CHAP hosts and TLS PSKs added, refused and removed live`, { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvmeof-live-auth-'));
    const [port, metricsPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'a.key'), SECRET);
    writeFileSync(join(dir, 'ctrl.key'), CTRL_SECRET);
    writeFileSync(join(dir, 'b.psk'), PSK_TEXT);
    writeFileSync(join(dir, 'bad.psk'), 'NVMeTLSkey-1:01:not base64 at all:\n');
    // Another folder than the configuration's (whose changes the target watches), as a Secret's volume is.
    mkdirSync(join(dir, 'secret'));
    const path = join(dir, 'config.json');
    /** Writes generation `g` (rename: one atomic replace) and returns when it was written. */
    const write = (g: number, o: { aKey?: string; bPsk?: string }): number => {
      writeFileSync(`${path}.new`, JSON.stringify({
        apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig', generation: g, logLevel: 'info',
        metrics: { address: '127.0.0.1', port: metricsPort },
        subsystems: [{
          nqn: NQN, hosts: [HOST_A, HOST_B],
          // A listener that takes plain and TLS hosts: its gate (and keys) exist from the start.
          listeners: [{ address: '127.0.0.1', port, tls: 'allowed' }],
          namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 8 << 20 } }],
          ...(o.aKey ? { dhchap: [{ host: HOST_A, keyFile: o.aKey, ctrlKeyFile: join(dir, 'ctrl.key') }] } : {}),
          ...(o.bPsk ? { tlsPsks: [{ host: HOST_B, pskFile: o.bPsk }] } : {}),
        }],
      }));
      renameSync(`${path}.new`, path);
      return Date.now();
    };
    write(1, {});
    const resume = main === SUPERVISOR_MAIN ? ['--connection-slots', '16', '--rx-ring', '4M', '--rings', join(dir, 'rings')] : [];
    const target = await startTarget([...resume, '--config', path], { main, keepLines: 2000 });
    const configBlock = async () => ((await (await fetch(`http://127.0.0.1:${metricsPort}/recovery`)).json()) as { config: ConfigBlock }).config;
    const served = async (g: number, written: number, what: string) => {
      await waitFor(`generation ${g} served`, async () => (await configBlock()).generation === g, 10_000, 20);
      console.log(`${name}: ${what}: file written -> generation ${g} served in ${Date.now() - written} ms`);
    };
    const refused = async (g: number) => {
      return waitFor(`generation ${g} refused`, async () => { const c = await configBlock(); return c.rejected?.generation === g ? c : undefined; }, 10_000, 20);
    };
    const queues: HostQueue[] = [];
    const hosts: HostController[] = [];
    const connectA = async () => {
      const r = await connectRaw(port, { qid: 0, cntlid: DYNAMIC_CNTLID, subnqn: NQN, hostnqn: HOST_A, hostid: HOSTID_A });
      queues.push(r.q);
      return r;
    };
    const cstsStatus = async (q: HostQueue) => (await q.submit(propertyGetSqe(CSTS, false))).status;
    try {
      // Generation 1: no keys. A connects plain, without authentication; B too.
      const a1 = await connectA();
      assert.equal(a1.dw0 & AUTHREQ_ATR, 0, 'no key: no authentication asked');
      assert.equal(await cstsStatus(a1.q), 0);
      const bPlain = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOST_B });
      hosts.push(bPlain);

      // Generation 2: A must authenticate, B gets a PSK. A's unauthenticated connection ends; B's plain one stays.
      let written = write(2, { aKey: join(dir, 'a.key'), bPsk: join(dir, 'b.psk') });
      await served(2, written, 'A gains a DH-HMAC-CHAP key, B a TLS PSK');
      const closed = await Promise.race([a1.q.closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5_000))]);
      assert.ok(closed, 'the connection of the host that gained a key was ended');
      assert.deepEqual(await bPlain.activeNamespaces(), [1], 'B\'s plain connection goes on');
      const a2 = await connectA();
      assert.equal(a2.dw0 & AUTHREQ_ATR, AUTHREQ_ATR, 'A must now authenticate');
      assert.equal(await cstsStatus(a2.q), Status.AuthRequired);
      await authenticateQueue(a2.q, { hostnqn: HOST_A, subnqn: NQN, secret: SECRET, ctrlSecret: CTRL_SECRET });
      assert.equal(await cstsStatus(a2.q), 0, 'authenticated with the key added live');
      const bTls = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOST_B, tls: { identity: PSK_B.identity, psk: PSK_B.key } });
      hosts.push(bTls);
      assert.deepEqual(await bTls.activeNamespaces(), [1], 'B\'s TLS handshake used the PSK added live');

      // Generation 3 names a key file not there yet (a Secret's update reaching the pod after the ConfigMap's):
      // refused, naming host and field; the same content is tried again and served once the file appears.
      // Generation 4: B's PSK file malformed, refused.
      write(3, { aKey: join(dir, 'secret', 'later.key'), bPsk: join(dir, 'b.psk') });
      const r3 = await refused(3);
      assert.equal(r3.generation, 2);
      assert.match(r3.rejected!.error, new RegExp(`host ${HOST_A}: keyFile ${join(dir, 'secret', 'later.key')} cannot be read \\(ENOENT\\)`));
      await new Promise((r) => setTimeout(r, RETRIED_MS));
      const refusals = target.lines.filter((l) => l.includes('configuration refused') && l.includes('"generation":3'));
      assert.equal(refusals.length, 1, `tried again, logged once:\n${refusals.join('\n')}`);
      const appeared = Date.now();
      writeFileSync(join(dir, 'secret', 'later.key'), SECRET_3);
      await served(3, appeared, 'the key file named appears after the configuration');
      // A's queue authenticated under generation 2 re-authenticates with generation 3's key (bidirectionally).
      await authenticateQueue(a2.q, { hostnqn: HOST_A, subnqn: NQN, secret: SECRET_3, ctrlSecret: CTRL_SECRET, tid: 9 });
      write(4, { aKey: join(dir, 'secret', 'later.key'), bPsk: join(dir, 'bad.psk') });
      const r4 = await refused(4);
      assert.equal(r4.generation, 3);
      assert.match(r4.rejected!.error, new RegExp(`tlsPsks\\[0\\] \\(host ${HOST_B}\\)`));
      for (const e of [r3.rejected!.error, r4.rejected!.error]) {
        for (const secret of [SECRET, SECRET_3, CTRL_SECRET, PSK_TEXT, 'not base64 at all']) assert.ok(!e.includes(secret), `the refusal quotes no key: ${e}`);
      }
      assert.equal(await cstsStatus(a2.q), 0, 'A\'s authenticated queue is served through the refusals');

      if (main === SUPERVISOR_MAIN) {
        // The new PSKs live in the supervisor: a worker that replaces the killed one leaves them in use.
        await killServingWorker(`127.0.0.1:${metricsPort}`);
        const again = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOST_B, tls: { identity: PSK_B.identity, psk: PSK_B.key } });
        hosts.push(again);
        assert.deepEqual(await again.activeNamespaces(), [1], 'a TLS handshake after the worker\'s replacement');
        assert.equal(await cstsStatus(a2.q), 0, 'A\'s authenticated queue is resumed');
      }

      // Generation 5: both keys removed, both hosts still listed: their live connections stay.
      written = write(5, {});
      await served(5, written, 'keys removed, hosts kept');
      assert.equal(await cstsStatus(a2.q), 0, 'A keeps its authenticated connection');
      assert.deepEqual(await bTls.activeNamespaces(), [1], 'B keeps its TLS session');
      const a3 = await connectA();
      assert.equal(a3.dw0 & AUTHREQ_ATR, 0, 'A connects without authentication now');
      assert.equal(await cstsStatus(a3.q), 0);
      await assert.rejects(
        HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOST_B, tls: { identity: PSK_B.identity, psk: PSK_B.key } }),
        'a handshake with the removed PSK is refused',
      );

      if (main === SUPERVISOR_MAIN) {
        // Generation 6 (B's PSK back) written while the worker hangs, so it never applies it: the worker that
        // replaces it reads the file, and tells the supervisor its configuration's PSKs when it starts ('set').
        const metrics = `127.0.0.1:${metricsPort}`;
        const whileHung = async (change: () => void) => {
          const hung = await servingWorker(metrics);
          assert.ok(hung, 'a worker serves');
          process.kill(hung, 'SIGSTOP');
          try {
            change();
            await waitFor('the watchdog\'s replacement of the hung worker', async () => { const w = await servingWorker(metrics); return w !== undefined && w !== hung; }, 30_000, 20);
          } finally {
            try { process.kill(hung, 'SIGKILL'); } catch { /* the watchdog's already */ }
          }
        };
        await whileHung(() => write(6, { bPsk: join(dir, 'b.psk') }));
        assert.equal((await configBlock()).generation, 6);
        assert.equal(await cstsStatus(a2.q), 0, 'A\'s queue, authenticated before its key was removed, is resumed without one');
        const back = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostnqn: HOST_B, tls: { identity: PSK_B.identity, psk: PSK_B.key } });
        hosts.push(back);
        assert.deepEqual(await back.activeNamespaces(), [1], 'the supervisor took the new worker\'s PSKs');
        // Generation 7 gives A its key back while the worker hangs: the successor ends A's plain queue (it never
        // authenticated) and resumes the one authenticated before, with the key.
        await whileHung(() => write(7, { aKey: join(dir, 'a.key'), bPsk: join(dir, 'b.psk') }));
        assert.equal((await configBlock()).generation, 7);
        const ended = await Promise.race([a3.q.closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5_000))]);
        assert.ok(ended, 'A\'s unauthenticated queue ended once its host must authenticate');
        assert.equal(await cstsStatus(a2.q), 0, 'A\'s authenticated queue resumed');
        await authenticateQueue(a2.q, { hostnqn: HOST_A, subnqn: NQN, secret: SECRET, ctrlSecret: CTRL_SECRET, tid: 11 });
      }
    } catch (e) {
      console.log(target.lines.slice(-40).join('\n'));
      throw e;
    } finally {
      for (const q of queues) q.close();
      for (const h of hosts) h.destroy();
      await target.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
