import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSeed, epochOrder, mulberry32, permutation, randomInt, shuffleInPlace } from '../../src/data/random.js';

function assertPermutation(p: ArrayLike<number>, n: number): void {
  assert.equal(p.length, n);
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    assert.ok(Number.isInteger(p[i]) && p[i] >= 0 && p[i] < n, `entry ${p[i]} out of range`);
    assert.equal(seen[p[i]], 0, `duplicate ${p[i]}`);
    seen[p[i]] = 1;
  }
}

describe('seeded randomness', () => {
  it('mulberry32 is deterministic, in [0,1), and roughly uniform', () => {
    const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
    const xs = Array.from({ length: 20000 }, () => a());
    assert.deepEqual(xs.slice(0, 100), Array.from({ length: 100 }, () => b()));
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c()));
    const bins = new Array(10).fill(0);
    for (const x of xs) {
      assert.ok(x >= 0 && x < 1);
      bins[Math.floor(x * 10)]++;
    }
    for (const n of bins) assert.ok(Math.abs(n - 2000) < 200, `bin count ${n}`);
  });

  it('permutation is a valid permutation, deterministic in the seed', () => {
    for (const n of [0, 1, 2, 7, 1000]) assertPermutation(permutation(n, 3), n);
    assert.deepEqual(permutation(50, 9), permutation(50, 9));
    assert.notDeepEqual(permutation(50, 9), permutation(50, 10));
    assert.throws(() => permutation(-1, 0), /permutation: argument 'n' is invalid: got -1, expected a whole number >= 0/);
  });

  it('permutations of 4 elements are uniform over the 24 orders', () => {
    const counts = new Map<string, number>();
    for (let s = 0; s < 24000; s++) {
      const key = permutation(4, deriveSeed(s)).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(counts.size, 24);
    for (const [k, n] of counts) assert.ok(Math.abs(n - 1000) < 150, `order ${k} drawn ${n} times`);
  });

  it('epochOrder depends only on (seed, epoch), and differs across epochs and seeds', () => {
    const n = 200;
    const e0 = epochOrder(n, 7, 0), e1 = epochOrder(n, 7, 1);
    assertPermutation(e0, n);
    assertPermutation(e1, n);
    assert.deepEqual(epochOrder(n, 7, 1), e1);
    assert.notDeepEqual(e0, e1);
    assert.notDeepEqual(epochOrder(n, 8, 0), e0);
    assert.throws(() => epochOrder(n, 7, -1), /epochOrder: argument 'epoch' is invalid: got -1/);
  });

  it('deriveSeed separates neighbouring seeds and streams', () => {
    const seeds = new Set<number>();
    for (let s = 0; s < 20; s++) for (let e = 0; e < 20; e++) for (const stream of [1, 2]) seeds.add(deriveSeed(s, stream, e));
    assert.equal(seeds.size, 800);
    assert.equal(deriveSeed(5, 1, 2), deriveSeed(5, 1, 2));
    assert.notEqual(deriveSeed(5, 1, 2), deriveSeed(5, 2, 1));
  });

  it('randomInt covers [0, n) and shuffleInPlace permutes in place', () => {
    const r = mulberry32(1);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const k = randomInt(r, 5);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 5);
      seen.add(k);
    }
    assert.equal(seen.size, 5);
    const a = Int32Array.from([10, 11, 12, 13, 14, 15]);
    shuffleInPlace(a, mulberry32(2));
    assert.deepEqual(Array.from(a).sort(), [10, 11, 12, 13, 14, 15]);
  });
});
