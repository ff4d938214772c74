import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataBudget, type BudgetHolder } from './data-budget.js';

test('grants up to the limit, then in order as releases make room', () => {
  const b = new DataBudget(100, 100);
  const h1: BudgetHolder = { held: 0 };
  const h2: BudgetHolder = { held: 0 };
  const got: string[] = [];
  b.acquire(h1, 60, () => got.push('a'));
  b.acquire(h2, 30, () => got.push('b'));
  b.acquire(h2, 30, () => got.push('c'));
  assert.deepEqual(got, ['a', 'b']);
  assert.equal(b.inUse, 90);
  b.release(h1, 60);
  assert.deepEqual(got, ['a', 'b', 'c']);
  assert.equal(b.inUse, 60);
  assert.equal(h2.held, 60);
});

test('one command larger than the whole budget still proceeds when nothing else is held', () => {
  const b = new DataBudget(10, 10);
  const h: BudgetHolder = { held: 0 };
  let granted = false;
  b.acquire(h, 1000, () => { granted = true; });
  assert.ok(granted);
});

test('a holder at its own cap waits without blocking others', () => {
  const b = new DataBudget(100, 20);
  const greedy: BudgetHolder = { held: 0 };
  const other: BudgetHolder = { held: 0 };
  const got: string[] = [];
  b.acquire(greedy, 20, () => got.push('g1'));
  b.acquire(greedy, 20, () => got.push('g2')); // over its cap: waits
  b.acquire(other, 20, () => got.push('o1')); // queued behind g2, but fits once anything is released
  b.release(greedy, 20);
  assert.deepEqual(got, ['g1', 'g2', 'o1']);
  b.cancel(greedy);
  assert.equal(b.waiting, 0);
});

test('cancel drops a closed holder\'s waiters', () => {
  const b = new DataBudget(10, 10);
  const h1: BudgetHolder = { held: 0 };
  const h2: BudgetHolder = { held: 0 };
  b.acquire(h1, 10, () => {});
  let called = false;
  b.acquire(h2, 10, () => { called = true; });
  b.cancel(h2);
  b.release(h1, 10);
  assert.equal(called, false);
  assert.equal(b.inUse, 0);
});
