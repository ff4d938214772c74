import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoStage } from '../controller/io-records.js';
import { Stage } from '../state/layout.js';
import { runTarget } from './run.js';
import { TcpFrontEnd } from '../transport/tcp-front-end.js';
import { nullLogger } from '../controller/observer.js';
import type { TargetConfig } from '../config/config.js';

test('the transport stage codes are the state layout stage codes', () => {
  assert.deepEqual(
    [IoStage.free, IoStage.received, IoStage.dataIn, IoStage.executing, IoStage.doneButUnsent],
    [Stage.free, Stage.received, Stage['data-in'], Stage.executing, Stage['done-but-unsent']],
  );
});

function config(dir: string, memory = false): TargetConfig {
  return {
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{
      nqn: 'nqn.2026-01.io.example:persist', allowAnyHost: true, listeners: [{ address: '127.0.0.1', port: 0 }],
      namespaces: [memory
        ? { nsid: 1, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } }
        : { nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns.img'), size: 1 << 20 } }],
      stateFile: join(dir, 'state.bin'),
    }],
  };
}

test('a clean shutdown and restart count as clean; the cumulative count and SMART power cycles carry over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'persist-'));
  try {
    const a = await runTarget(config(dir), nullLogger, new TcpFrontEnd());
    const pa = [...a.persistence.values()][0];
    assert.equal(pa.report().outcomes.fresh, 1);
    await a.shutdown();
    const b = await runTarget(config(dir), nullLogger, new TcpFrontEnd());
    const pb = [...b.persistence.values()][0];
    const r = pb.report();
    assert.equal(r.last?.outcome, 'clean');
    assert.equal(r.count, 1);
    assert.equal(r.bootCount, 2);
    assert.equal([...b.persistence.keys()][0].smart.powerCycles, 2);
    await b.shutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('memory namespaces are left out of the identity: their state file is not set aside at every start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'persist-'));
  try {
    await (await runTarget(config(dir, true), nullLogger, new TcpFrontEnd())).shutdown();
    const b = await runTarget(config(dir, true), nullLogger, new TcpFrontEnd());
    const r = [...b.persistence.values()][0].report();
    assert.equal(r.outcomes.corrupt, 0);
    assert.equal(r.last?.outcome, 'clean');
    await b.shutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
