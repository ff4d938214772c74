// A map from 16-bit tags (command identifiers, transfer tags) to values, for what a connection has in
// flight. A Map would do, but commands come and go one by one: V8's ordered hash table leaves a hole per
// delete and allocates a new table every few inserts to compact them (with synchronous completions, 10% of
// the target's CPU at QD32 went to that). This table never allocates after it has grown to what the
// connection keeps in flight.
//
// Invariants: open addressing with linear probing on a power-of-two table, at most half full; a key's slot
// is reachable from its home slot without crossing an empty slot (deletion shifts later entries back to keep
// it so: no tombstones); `keys[i] === EMPTY` exactly when `vals[i]` is undefined.

const EMPTY = -1;

export class TagMap<V> {
  private keys: Int32Array;
  private vals: Array<V | undefined>;
  private mask = 0;
  /** 32 - log2(table size): Fibonacci hashing keeps the top bits of tag x 2^32/phi. */
  private shift = 0;
  private n = 0;

  constructor(capacity = 64) {
    let c = 8;
    while (c < capacity * 2) c *= 2;
    this.keys = new Int32Array(0);
    this.vals = [];
    this.alloc(c);
  }

  private alloc(c: number): void {
    this.keys = new Int32Array(c).fill(EMPTY);
    this.vals = new Array<V | undefined>(c).fill(undefined);
    this.mask = c - 1;
    this.shift = 32 - Math.log2(c);
  }

  get size(): number {
    return this.n;
  }

  private home(tag: number): number {
    // Hosts number commands in many ways (Linux: a generation in the top bits); mix before using them.
    return Math.imul(tag, 0x9e3779b1) >>> this.shift;
  }

  private find(tag: number): number {
    for (let i = this.home(tag); ; i = (i + 1) & this.mask) {
      const k = this.keys[i];
      if (k === tag) return i;
      if (k === EMPTY) return -1;
    }
  }

  get(tag: number): V | undefined {
    const i = this.find(tag);
    return i < 0 ? undefined : this.vals[i];
  }

  has(tag: number): boolean {
    return this.find(tag) >= 0;
  }

  set(tag: number, v: V): void {
    if ((this.n + 1) * 2 > this.keys.length) this.grow();
    let i = this.home(tag);
    for (; this.keys[i] !== EMPTY; i = (i + 1) & this.mask) {
      if (this.keys[i] === tag) {
        this.vals[i] = v;
        return;
      }
    }
    this.keys[i] = tag;
    this.vals[i] = v;
    this.n++;
  }

  delete(tag: number): boolean {
    let i = this.find(tag);
    if (i < 0) return false;
    this.n--;
    // Backward-shift deletion: move up every later entry of the run whose home does not lie in (i, j].
    for (let j = (i + 1) & this.mask; this.keys[j] !== EMPTY; j = (j + 1) & this.mask) {
      const h = this.home(this.keys[j]);
      const between = i <= j ? i < h && h <= j : i < h || h <= j;
      if (between) continue;
      this.keys[i] = this.keys[j];
      this.vals[i] = this.vals[j];
      i = j;
    }
    this.keys[i] = EMPTY;
    this.vals[i] = undefined;
    return true;
  }

  *values(): IterableIterator<V> {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] !== EMPTY) yield this.vals[i] as V;
  }

  clear(): void {
    this.keys.fill(EMPTY);
    this.vals.fill(undefined);
    this.n = 0;
  }

  private grow(): void {
    const keys = this.keys;
    const vals = this.vals;
    this.alloc(keys.length * 2);
    this.n = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) this.set(keys[i], vals[i] as V);
  }
}
