import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TargetMetrics } from './metrics.js';
import { AdminOpc, DISCOVERY_NQN, FabricsType, IoOpc } from './protocol/opcodes.js';
import { buildSqe } from './protocol/sqe.js';
import { Request } from './controller/request.js';
import type { Qpair } from './controller/qpair.js';
import { Status } from './protocol/status.js';

test('process and Node metrics carry the nvmeof_target_ prefix once, and the running Node version', async () => {
  const text = await new TargetMetrics(['nqn.2014-08.org.example:a']).registry.metrics();
  assert.match(text, /^nvmeof_target_process_cpu_seconds_total \d/m);
  assert.match(text, /^nvmeof_target_process_resident_memory_bytes \d/m);
  assert.doesNotMatch(text, /process_process_|nvmeof_target_process_nodejs_/);
  assert.ok(text.includes(`nvmeof_target_nodejs_version_info{version="${process.version}"`), 'the version series names the running Node');
});

test('backend errors are counted by subsystem, nsid and operation', async () => {
  const m = new TargetMetrics(['nqn.2014-08.org.example:a']);
  const e = { subnqn: 'nqn.2014-08.org.example:a', nsid: 2, path: '/d', offset: 0, length: 512, errno: 'EIO', message: 'EIO', status: Status.WriteFault };
  m.backendError({ ...e, opcode: IoOpc.Write });
  m.backendError({ ...e, opcode: IoOpc.Write });
  m.backendError({ ...e, opcode: IoOpc.Read, status: Status.UnrecoveredReadError });
  const text = await m.registry.metrics();
  assert.match(text, /^nvmeof_target_backend_errors_total\{subsystem="nqn.2014-08.org.example:a",nsid="2",op="write"\} 2$/m);
  assert.match(text, /^nvmeof_target_backend_errors_total\{subsystem="nqn.2014-08.org.example:a",nsid="2",op="read"\} 1$/m);
});

test('admin queue commands are counted by subsystem and name, Fabrics commands by their type; I/O commands are not', async () => {
  const m = new TargetMetrics(['nqn.2014-08.org.example:a']);
  const disc = { qid: 0, ctrl: { subsys: { nqn: DISCOVERY_NQN } } } as unknown as Qpair;
  const io = { qid: 1, ctrl: { subsys: { nqn: 'nqn.2014-08.org.example:a' } } } as unknown as Qpair;
  const req = (opc: number, fctype = 0) => new Request(buildSqe({ opc, cid: 1, ...(opc === AdminOpc.Fabrics ? { fctype } : {}) }), { complete() {} }, undefined);
  for (let i = 0; i < 3; i++) m.commandCompleted(disc, req(AdminOpc.KeepAlive), 0);
  m.commandCompleted(disc, req(AdminOpc.Fabrics, FabricsType.PropertyGet), 0);
  m.commandCompleted(io, req(IoOpc.Read), 0);
  const text = await m.registry.metrics();
  assert.match(text, new RegExp(`^nvmeof_target_admin_commands_total\\{subsystem="${DISCOVERY_NQN}",opcode="keep_alive"\\} 3$`, 'm'));
  assert.match(text, new RegExp(`^nvmeof_target_admin_commands_total\\{subsystem="${DISCOVERY_NQN}",opcode="property_get"\\} 1$`, 'm'));
  assert.doesNotMatch(text, /admin_commands_total\{subsystem="nqn.2014-08.org.example:a"/);
});
