import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TagMap } from './tag-map.js';

test('TagMap agrees with a Map over random inserts, deletes and lookups, across growth and colliding tags', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  for (const pool of [16, 200, 65536]) {
    const t = new TagMap<number>(4);
    const m = new Map<number, number>();
    // Tags that share their low bits (a generation counter in the top bits, as Linux numbers commands).
    const tagOf = (i: number) => (pool === 200 ? ((i % 8) | ((i >> 3) << 12)) & 0xffff : i);
    for (let step = 0; step < 20000; step++) {
      const tag = tagOf(rnd(pool));
      const op = rnd(10);
      if (op < 5) {
        t.set(tag, step);
        m.set(tag, step);
      } else if (op < 8) {
        assert.equal(t.delete(tag), m.delete(tag), `delete ${tag}`);
      } else {
        assert.equal(t.get(tag), m.get(tag), `get ${tag}`);
        assert.equal(t.has(tag), m.has(tag));
      }
      assert.equal(t.size, m.size);
    }
    for (const [k, v] of m) assert.equal(t.get(k), v);
    assert.deepEqual([...t.values()].sort((a, b) => a - b), [...m.values()].sort((a, b) => a - b));
    t.clear();
    assert.equal(t.size, 0);
    assert.equal(t.get(tagOf(0)), undefined);
  }
});
