import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checksum, reduceSegment, segmentOf, shardOf } from '../../../src/train/parallel/reduce.js';
import { randn } from '../../helpers.js';

/** Weighted mean of W blocks of `length` values in float64 (the reference). */
function naiveMean(grads: Float64Array, weights: number[], length: number): Float64Array {
  const out = new Float64Array(length);
  for (let j = 0; j < length; j++) {
    for (let k = 0; k < weights.length; k++) out[j] += weights[k] * grads[k * length + j];
  }
  return out;
}

describe('parallel all-reduce arithmetic', () => {
  test('shards cover the batch in order, contiguous, sizes differing by at most one', () => {
    for (const [B, W] of [[64, 2], [7, 2], [10, 3], [5, 5], [1, 1], [13, 4]]) {
      let next = 0;
      const sizes: number[] = [];
      for (let r = 0; r < W; r++) {
        const { start, end } = shardOf(B, W, r);
        assert.equal(start, next, `B=${B} W=${W} rank ${r}`);
        sizes.push(end - start);
        next = end;
      }
      assert.equal(next, B);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
      assert.ok(Math.min(...sizes) >= 1);
    }
    assert.deepEqual(shardOf(7, 2, 0), { start: 0, end: 4 });
    assert.deepEqual(shardOf(7, 2, 1), { start: 4, end: 7 });
  });

  test('segments partition the parameters', () => {
    for (const [P, W] of [[10, 3], [1, 2], [1000, 7], [5, 1]]) {
      let next = 0;
      for (let r = 0; r < W; r++) {
        const { start, end } = segmentOf(P, W, r);
        assert.equal(start, next);
        assert.ok(end >= start);
        next = end;
      }
      assert.equal(next, P);
    }
  });

  test('segment by segment equals one pass (bit for bit) and the float64 weighted mean (float32 rounding)', () => {
    const W = 3, P = 257, B = 10;
    const weights = [0, 1, 2].map((r) => { const s = shardOf(B, W, r); return (s.end - s.start) / B; });
    for (const scale of [1e-4, 1, 1e3]) {
      const g64 = randn([W * P], 11, scale).data;
      const grads = Float32Array.from(g64);
      const whole = new Float32Array(P);
      assert.equal(reduceSegment(grads, weights, P, whole, 0, P), -1);
      const pieces = new Float32Array(P);
      for (let r = 0; r < W; r++) {
        const { start, end } = segmentOf(P, W, r);
        reduceSegment(grads, weights, P, pieces, start, end);
      }
      assert.deepEqual(pieces, whole);
      const ref = naiveMean(Float64Array.from(grads), weights, P);
      let err = 0, den = 0;
      for (let j = 0; j < P; j++) {
        err = Math.max(err, Math.abs(whole[j] - ref[j]));
        den = Math.max(den, Math.abs(ref[j]));
      }
      assert.ok(err / den < 1e-7, `scale ${scale}: relative error ${err / den}`);
    }
  });

  test('one worker of weight 1 copies exactly; only the given segment is written', () => {
    const g = Float32Array.from(randn([20], 3).data);
    const out = new Float32Array(20).fill(7);
    assert.equal(reduceSegment(g, [1], 20, out, 5, 12), -1);
    for (let j = 0; j < 20; j++) assert.equal(out[j], j >= 5 && j < 12 ? g[j] : 7);
  });

  test('reports the first non-finite mean of its segment (NaN, Inf, float32 overflow)', () => {
    const P = 6;
    const g = new Float32Array(2 * P).fill(1);
    g[P + 4] = NaN;
    g[2] = Infinity;
    const out = new Float32Array(P);
    assert.equal(reduceSegment(g, [0.5, 0.5], P, out, 0, P), 2);
    assert.equal(reduceSegment(g, [0.5, 0.5], P, out, 3, P), 4);
    assert.equal(reduceSegment(g, [0.5, 0.5], P, out, 5, P), -1);
    const big = new Float32Array(2).fill(3e38);
    assert.equal(reduceSegment(big, [1.5, 1.5], 1, new Float32Array(1), 0, 1), 0, 'float32 overflow of the mean');
    const one = new Float32Array([1, NaN]);
    assert.equal(reduceSegment(one, [1], 2, new Float32Array(2), 0, 2), 1);
  });

  test('checksum: equal for equal values, changed by one ulp anywhere, by the sign, by the order of arrays', () => {
    const a = Float32Array.from(randn([50], 1).data);
    const b = Float32Array.from(randn([9], 2).data);
    const h = checksum([a, b]);
    assert.equal(checksum([a.slice(), b.slice()]), h);
    assert.notEqual(checksum([b, a]), h);
    for (const i of [0, 17, 49]) {
      const c = a.slice();
      const bits = new Uint32Array(c.buffer);
      bits[i] ^= 1;
      assert.notEqual(checksum([c, b]), h, `ulp at ${i}`);
      bits[i] ^= 1 | 0x80000000;
      assert.notEqual(checksum([c, b]), h, `sign at ${i}`);
    }
    const sub = new Float32Array(new Float32Array([0, ...a]).buffer, 4, a.length);
    assert.equal(checksum([sub, b]), h, 'views with an offset');
  });

  test('bad arguments name the argument', () => {
    assert.throws(() => shardOf(3, 4, 0), /'batchSize'.*got 3/);
    assert.throws(() => shardOf(8, 0, 0), /'workers'/);
    assert.throws(() => shardOf(8, 2, 2), /'rank'.*got 2/);
    assert.throws(() => reduceSegment(new Float32Array(5), [0.5, 0.5], 3, new Float32Array(3), 0, 3), /'grads'/);
  });
});
