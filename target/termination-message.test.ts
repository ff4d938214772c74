import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clampMessage, TERMINATION_MESSAGE_MAX_BYTES, TERMINATION_MESSAGE_PATH_ENV, terminationMessageFor, writeTerminationMessage,
} from './termination-message.js';
import { ConfigError } from './config/config.js';
import { describeFailure, errnoText, StartupError } from './startup-error.js';

test('terminationMessageFor: configuration and environment errors say why; a bug says nothing (its stack is in the log)', () => {
  assert.equal(terminationMessageFor(new ConfigError('subsystems[0].nqn', 'must be a string')), 'invalid configuration: subsystems[0].nqn: must be a string');
  assert.equal(terminationMessageFor(new StartupError('nsid 1: cannot size file /d/ns1.img to 5 bytes: EFBIG (file too large)')), 'nsid 1: cannot size file /d/ns1.img to 5 bytes: EFBIG (file too large)');
  assert.equal(terminationMessageFor(new TypeError('x is undefined')), undefined);
  assert.equal(terminationMessageFor('thrown string'), undefined);
});

test('errnoText and describeFailure: the errno name and its text', () => {
  const efbig = Object.assign(new Error('EFBIG: file too large, ftruncate'), { code: 'EFBIG', errno: -27 });
  assert.equal(errnoText(efbig), 'EFBIG (file too large)');
  assert.equal(errnoText(Object.assign(new Error('m'), { code: 'EWHATEVER' })), 'EWHATEVER');
  assert.equal(errnoText(Object.assign(new Error('m'), { code: 'ERR_INVALID_ARG_TYPE' })), 'm', 'a Node code is no errno');
  assert.equal(errnoText(new RangeError('Array buffer allocation failed')), 'Array buffer allocation failed');
  assert.equal(errnoText(undefined), 'undefined');
  const f = describeFailure('cannot size file /d/ns1.img to 109951162777600 bytes', efbig);
  assert.equal(f.message, 'cannot size file /d/ns1.img to 109951162777600 bytes: EFBIG (file too large)');
  assert.equal(f.code, 'EFBIG');
  assert.equal(errnoText(f), f.message, 'a described failure keeps its words');
});

test('clampMessage: one line of at most 4 KiB, cut on a character boundary', () => {
  assert.equal(clampMessage('a\nb\r\n  c '), 'a b c');
  const long = 'é'.repeat(5000);
  const c = clampMessage(long);
  assert.ok(Buffer.byteLength(c) <= TERMINATION_MESSAGE_MAX_BYTES);
  assert.ok(c.endsWith('é...'));
  assert.equal(clampMessage('short', 10), 'short');
  assert.equal(clampMessage('0123456789abc', 10), '0123456...');
});

test('writeTerminationMessage: to the path in the environment; never throws where it cannot write', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'termination-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'termination-log');
  assert.equal(writeTerminationMessage('port 10250 on 0.0.0.0 is in use\nby another process', { [TERMINATION_MESSAGE_PATH_ENV]: path }), true);
  assert.equal(readFileSync(path, 'utf8'), 'port 10250 on 0.0.0.0 is in use by another process\n');
  assert.equal(writeTerminationMessage('x', { [TERMINATION_MESSAGE_PATH_ENV]: join(dir, 'missing', 'dir', 'log') }), false);
  assert.equal(writeTerminationMessage('x', { [TERMINATION_MESSAGE_PATH_ENV]: dir }), false, 'a directory');
  assert.equal(writeTerminationMessage('x', { [TERMINATION_MESSAGE_PATH_ENV]: '/proc/version' }), false, 'read-only, even for root');
});
