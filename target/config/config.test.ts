import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, MAX_MEMORY_NAMESPACE_BYTES, MEMORY_NAMESPACE_CAP_BYTES, memorySizeProblem, validateConfig, nqnProblem } from './config.js';
import { parseArgs, parseSize, DEFAULT_NQN } from './cli.js';

const base = () => ({
  apiVersion: 'nvmeof.io/v1alpha1',
  kind: 'TargetConfig',
  subsystems: [{
    nqn: 'nqn.2026-01.io.example:sub',
    listeners: [{ address: '127.0.0.1', port: 4420 }],
    allowAnyHost: true,
    namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'memory', size: 1 << 20 } }],
  }],
});

test('TLS fields: a listener mode (off dropped), per-host PSK files; the command line\'s --tls and --tls-psk', () => {
  const c = base() as any;
  c.subsystems[0].listeners = [{ address: '127.0.0.1', port: 4420, tls: 'required' }, { address: '127.0.0.1', port: 4421, tls: 'off' }];
  c.subsystems[0].tlsPsks = [{ host: 'nqn.2014-08.org.nvmexpress:uuid:7d1f3c2a-9b8e-4c6d-a5f4-2e1b0c9d8a71', pskFile: '/k', derivation: 'rfc8446' }];
  const v = validateConfig(c).subsystems[0];
  assert.deepEqual(v.listeners, [{ address: '127.0.0.1', port: 4420, tls: 'required' }, { address: '127.0.0.1', port: 4421 }]);
  assert.deepEqual(v.tlsPsks, c.subsystems[0].tlsPsks);
  const cli = parseArgs(['--listen', '127.0.0.1:4580', '--memory', '1M', '--tls', 'allowed', '--tls-psk', 'nqn.2014-08.org.nvmexpress:uuid:7d1f3c2a-9b8e-4c6d-a5f4-2e1b0c9d8a71=/k']).subsystems[0];
  assert.deepEqual(cli.listeners, [{ address: '127.0.0.1', port: 4580, tls: 'allowed' }]);
  assert.deepEqual(cli.tlsPsks, [{ host: 'nqn.2014-08.org.nvmexpress:uuid:7d1f3c2a-9b8e-4c6d-a5f4-2e1b0c9d8a71', pskFile: '/k' }]);
});

test('a valid config passes and keeps its fields', () => {
  const c = validateConfig(base());
  assert.equal(c.subsystems[0].nqn, 'nqn.2026-01.io.example:sub');
  assert.equal(c.subsystems[0].namespaces[0].backing.kind, 'memory');
});

const bad: Array<[string, (c: any) => void, string]> = [
  ['wrong apiVersion', (c) => { c.apiVersion = 'v2'; }, 'apiVersion'],
  ['unknown field', (c) => { c.subsystems[0].nope = 1; }, 'subsystems[0].nope'],
  ['bad NQN', (c) => { c.subsystems[0].nqn = 'hello'; }, 'subsystems[0].nqn'],
  ['NQN too long', (c) => { c.subsystems[0].nqn = 'nqn.2026-01.io.example:' + 'x'.repeat(300); }, 'subsystems[0].nqn'],
  ['duplicate nsid', (c) => { c.subsystems[0].namespaces.push(c.subsystems[0].namespaces[0]); }, 'subsystems[0].namespaces[1].nsid'],
  ['block size 1024', (c) => { c.subsystems[0].namespaces[0].blockSize = 1024; }, 'subsystems[0].namespaces[0].blockSize'],
  ['unknown tls mode', (c) => { c.subsystems[0].listeners[0].tls = 'maybe'; }, 'subsystems[0].listeners[0].tls'],
  ['tls on the metrics address', (c) => { c.metrics = { address: '127.0.0.1', port: 9420, tls: 'required' }; }, 'metrics.tls'],
  ['one address, two tls modes', (c) => { c.subsystems.push({ ...c.subsystems[0], nqn: 'nqn.2026-01.io.example:other', listeners: [{ address: '127.0.0.1', port: 4420, tls: 'required' }] }); }, 'subsystems[1].listeners[0].tls'],
  ['a TLS PSK without its file', (c) => { c.subsystems[0].tlsPsks = [{ host: 'nqn.2014-08.org.nvmexpress:uuid:7d1f3c2a-9b8e-4c6d-a5f4-2e1b0c9d8a71' }]; }, 'subsystems[0].tlsPsks[0].pskFile'],
  ['two TLS PSKs for one host', (c) => { const k = { host: 'nqn.2014-08.org.nvmexpress:uuid:7d1f3c2a-9b8e-4c6d-a5f4-2e1b0c9d8a71', pskFile: '/k' }; c.subsystems[0].tlsPsks = [k, k]; }, 'subsystems[0].tlsPsks[1].host'],
  ['an unknown PSK derivation', (c) => { c.subsystems[0].tlsPsks = [{ host: 'nqn.2014-08.org.nvmexpress:uuid:7d1f3c2a-9b8e-4c6d-a5f4-2e1b0c9d8a71', pskFile: '/k', derivation: 'md5' }]; }, 'subsystems[0].tlsPsks[0].derivation'],
  ['size not a multiple of the block size', (c) => { c.subsystems[0].namespaces[0].backing.size = 5000; }, 'subsystems[0].namespaces[0].backing.size'],
  ['no hosts and no allowAnyHost', (c) => { delete c.subsystems[0].allowAnyHost; }, 'subsystems[0].hosts'],
  ['bad port', (c) => { c.subsystems[0].listeners[0].port = 70000; }, 'subsystems[0].listeners[0].port'],
  ['unknown backing', (c) => { c.subsystems[0].namespaces[0].backing = { kind: 'tape' }; }, 'subsystems[0].namespaces[0].backing.kind'],
  ['all-zero NGUID', (c) => { c.subsystems[0].namespaces[0].nguid = '0'.repeat(32); }, 'subsystems[0].namespaces[0].nguid'],
  ['bad durability', (c) => { c.subsystems[0].durability = 'disk'; }, 'subsystems[0].durability'],
  ['negative generation', (c) => { c.generation = -1; }, 'generation'],
  ['fractional generation', (c) => { c.generation = 1.5; }, 'generation'],
];

test('generation: absent in a hand-written config, kept when the operator sets it', () => {
  assert.equal(validateConfig(base()).generation, undefined);
  assert.equal(validateConfig({ ...base(), generation: 7 }).generation, 7);
});

for (const [name, mutate, field] of bad) {
  test(`config refuses ${name}, naming ${field}`, () => {
    const c = base();
    mutate(c);
    assert.throws(() => validateConfig(c), (e: unknown) => e instanceof ConfigError && e.field === field);
  });
}

test('NQN rules', () => {
  assert.equal(nqnProblem('nqn.2014-08.org.nvmexpress:uuid:bfaf2044-43cc-46bd-9b5e-413f98947054'), undefined);
  assert.equal(nqnProblem('nqn.2026-01.io.example:a'), undefined);
  assert.ok(nqnProblem(''));
  assert.ok(nqnProblem('iqn.2026-01.io.example:a'));
});

test('sizes parse with binary suffixes', () => {
  assert.equal(parseSize('4096', 'x'), 4096);
  assert.equal(parseSize('64M', 'x'), 64 * 1024 * 1024);
  assert.equal(parseSize('1Gi', 'x'), 1024 ** 3);
  assert.throws(() => parseSize('1.5G', 'x'), ConfigError);
});

test('command line builds one subsystem with namespace 1 and any host', () => {
  const c = parseArgs(['--listen', '127.0.0.1:4420', '--nqn', 'nqn.2026-01.io.example:cli', '--namespace', '/tmp/x.img:1G', '--state', '/tmp/s.bin', '--metrics', '127.0.0.1:9464']);
  const s = c.subsystems[0];
  assert.equal(s.nqn, 'nqn.2026-01.io.example:cli');
  assert.deepEqual(s.listeners, [{ address: '127.0.0.1', port: 4420 }]);
  assert.equal(s.allowAnyHost, true);
  assert.deepEqual(s.namespaces[0], { nsid: 1, blockSize: 512, backing: { kind: 'file', path: '/tmp/x.img', size: 1024 ** 3 } });
  assert.equal(s.stateFile, '/tmp/s.bin');
  assert.deepEqual(c.metrics, { address: '127.0.0.1', port: 9464 });
  assert.equal(parseArgs(['--memory', '1M']).subsystems[0].nqn, DEFAULT_NQN);
});

test('command line errors name the flag', () => {
  assert.throws(() => parseArgs(['--listen']), (e: unknown) => e instanceof ConfigError && e.field === '--listen');
  assert.throws(() => parseArgs(['--bogus']), (e: unknown) => e instanceof ConfigError && e.field === '--bogus');
  assert.throws(() => parseArgs(['--tls-psk', 'nokey']), (e: unknown) => e instanceof ConfigError && e.field === '--tls-psk');
  assert.throws(() => parseArgs(['--memory', '1M', '--tls', 'sometimes']), (e: unknown) => e instanceof ConfigError && e.field === 'subsystems[0].listeners[0].tls');
  assert.throws(() => parseArgs(['--listen', 'nope']), (e: unknown) => e instanceof ConfigError && e.field === '--listen');
});

test('command line: repeatable flags in order, --flag=value, and every refusal naming the flag', () => {
  const c = parseArgs(['--memory', '1M', '--namespace=/tmp/a.img', '--block', '/dev/sdb', '--listen=[::1]:4420', '--listen', ':4421', '--host', 'nqn.2014-08.io.example:h1', '--host=nqn.2014-08.io.example:h2']);
  const s = c.subsystems[0];
  assert.deepEqual(s.namespaces.map((n) => [n.nsid, n.backing.kind]), [[1, 'memory'], [2, 'file'], [3, 'block']]);
  assert.deepEqual(s.listeners, [{ address: '::1', port: 4420 }, { address: '0.0.0.0', port: 4421 }]);
  assert.deepEqual(s.hosts, ['nqn.2014-08.io.example:h1', 'nqn.2014-08.io.example:h2']);
  // [argv, the field the error names, its message]
  const refused: Array<[string[], string, RegExp]> = [
    [['--listen', '--nqn', 'x'], '--listen', /needs a value/],
    [['--nqn'], '--nqn', /needs a value/],
    [['--bogus=1'], '--bogus=1', /unknown flag/],
    [['stray'], 'stray', /unknown flag/],
    [['-m', '1M'], '-m', /unknown flag/],
    [['--'], '--', /unknown flag/],
    [['--memory', '1.5G'], '--memory', /size "1.5G"/],
    [['--namespace', '/tmp/x.img:0'], '--namespace', /out of range/],
    [['--metrics', '9464'], '--metrics', /ADDRESS:PORT/],
    [['--config', '/nonexistent/c.json', '--memory', '1M'], '--config', /takes no other flags/],
    [['--config=/nonexistent/c.json'], '--config', /cannot read/],
  ];
  for (const [argv, field, message] of refused) {
    assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof ConfigError && e.field === field && message.test(e.message), argv.join(' '));
  }
});

test('a memory namespace larger than the target can address is refused, naming both numbers', () => {
  const withMemory = (size: unknown) => {
    const c = base();
    c.subsystems[0].namespaces = [{ nsid: 1, blockSize: 512, backing: { kind: 'memory', size: size as number } }];
    return c;
  };
  assert.equal(validateConfig(withMemory(MAX_MEMORY_NAMESPACE_BYTES)).subsystems[0].namespaces[0].backing.kind, 'memory');
  const over = MEMORY_NAMESPACE_CAP_BYTES + 512;
  assert.throws(() => validateConfig(withMemory(over)), (e: unknown) => e instanceof ConfigError
    && e.field === 'subsystems[0].namespaces[0].backing.size' && e.message.includes(String(over)) && e.message.includes(String(MEMORY_NAMESPACE_CAP_BYTES)));
  assert.throws(() => validateConfig(withMemory(2 ** 60)), (e: unknown) => e instanceof ConfigError && /integer in/.test(e.message), 'beyond a safe integer');
  assert.throws(() => validateConfig(withMemory('1G')), ConfigError);
  // A Node whose buffers hold at most 2^32 bytes (Node 20): the limit and the size are both named.
  const p = memorySizeProblem(2 ** 33, 2 ** 32);
  assert.match(p ?? '', /8589934592 bytes is more than the target can address in one memory namespace \(buffer.constants.MAX_LENGTH = 4294967296 bytes\)/);
  assert.equal(memorySizeProblem(2 ** 32, 2 ** 32), undefined);
});
