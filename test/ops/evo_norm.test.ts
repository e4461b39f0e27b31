import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { evoNormS0 } from '../../src/ops/evo_norm.js';
import { Arr, assertClose, assertMatchesReference, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { BACKENDS, onBackend } from './backends.js';
import { f32, meanAt, meanSquareAbout, sampleGroups } from './references.js';

/**
 * Naive float64 EvoNorm-S0: per sample b and group g, the biased variance s of x over the group's positions and
 * channels; then `y = x * sigmoid(v[c] x) / sqrt(s + eps) * gamma[c] + beta[c]`.
 */
function evoReference(x: Float64Array, shape: number[], groups: number, gamma: Float64Array, beta: Float64Array, v: Float64Array, eps: number): Float64Array {
  const C = shape[shape.length - 1];
  const y = new Float64Array(x.length);
  for (const idx of sampleGroups(shape, groups)) {
    const s = meanSquareAbout(x, idx, meanAt(x, idx));
    for (const i of idx) {
      const c = i % C;
      y[i] = x[i] / (1 + Math.exp(-v[c] * x[i])) / Math.sqrt(s + eps) * gamma[c] + beta[c];
    }
  }
  return y;
}

describe('evoNormS0', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; groups: number; scale?: number; shift?: number; eps?: number }> = [
    { name: '2 groups', shape: [2, 3, 3, 4], groups: 2 },
    { name: 'one group (LN-like), B = 1', shape: [1, 3, 2, 3], groups: 1 },
    { name: 'one channel per group', shape: [2, 2, 2, 3], groups: 3 },
    { name: 'dense input', shape: [3, 6], groups: 2 },
    { name: '1x1 map', shape: [2, 1, 1, 6], groups: 3 },
    { name: 'tiny magnitudes 1e-4', shape: [2, 3, 3, 4], groups: 2, scale: 1e-4, eps: 1e-10 },
    { name: 'large magnitudes 1e3', shape: [2, 3, 3, 4], groups: 2, scale: 1e3 },
    { name: 'offset 1e3 with spread 1', shape: [2, 3, 3, 2], groups: 1, shift: 1e3 },
  ];

  for (const backend of BACKENDS) for (const [k, tc] of cases.entries()) {
    it(`${backend}: matches the float64 reference and its finite-difference gradients: ${tc.name}`, () => onBackend(backend, () => {
      const C = tc.shape[tc.shape.length - 1];
      const eps = tc.eps ?? 1e-5;
      // v is scaled against x so that sigmoid(v x) stays away from saturation and the test sees its curvature.
      const xScale = tc.scale ?? 1;
      const x = f32(randn(tc.shape, 10 + k, xScale, tc.shift ?? 0));
      const vScale = 1 / Math.max(xScale, Math.abs(tc.shift ?? 0));
      const gamma = f32(randn([C], 20 + k, 0.5, 1)), beta = f32(randn([C], 30 + k, 0.5));
      const v = f32(randn([C], 40 + k, 0.5 * vScale, vScale)), dy = f32(randn(tc.shape, 50 + k));
      const ref = (a: Float64Array[]) => evoReference(a[0], tc.shape, tc.groups, a[1], a[2], a[3], eps);
      const op = (...t: tf.Tensor[]) => evoNormS0(t[0], { groups: tc.groups, gamma: t[1], beta: t[2], v: t[3], eps });
      assertMatchesReference(op, ref, [x, gamma, beta, v], dy, ['x', 'gamma', 'beta', 'v']);
    }));
  }

  for (const backend of BACKENDS) {
    it(`${backend}: keeps 1e-4 accuracy for large groups with offset 1e3 and spread 1 (float32 sums)`, () => onBackend(backend, () => {
      const shape = [2, 64, 64, 2];
      const x = f32(randn(shape, 60, 1, 1e3));
      const ones = Float64Array.of(1, 1), zeros = new Float64Array(2);
      // v = 1e-3 keeps sigmoid(v x) near sigmoid(1), where the numerator varies with x.
      const v = Float64Array.of(1e-3, 1e-3);
      const y = evoNormS0(tensor(x), { groups: 1, v: tensor({ data: v, shape: [2] }) });
      assertClose(values(y), evoReference(x.data, shape, 1, ones, zeros, v, 1e-5), 1e-4, 'offset 1e3');
      y.dispose();
    }));
  }

  it('defaults: v = 1, gamma = 1, beta = 0, eps = 1e-5, groups = defaultGroups(C)', () => {
    const shape = [2, 2, 2, 48];
    const x = randn(shape, 3);
    const ones = new Float64Array(48).fill(1);
    assertClose(values(evoNormS0(tensor(x))), evoReference(x.data, shape, 24, ones, new Float64Array(48), ones, 1e-5), 1e-4, 'defaults');
  });

  it('is batch independent', () => {
    const shape = [3, 3, 3, 4];
    const a = randn(shape, 4);
    const n = a.data.length / 3;
    const b = { data: a.data.map((v, i) => (i < n ? v : v * 9 - 4)), shape };
    const first = (d: Arr) => values(evoNormS0(tensor(d), { groups: 2 })).slice(0, n);
    assert.deepEqual(first(b), first(a));
  });

  it('rejects bad input with errors naming the argument', () => {
    const x = tf.zeros([2, 3, 3, 6]);
    assert.throws(() => evoNormS0(tf.zeros([2, 3, 4])), /evoNormS0: argument 'x'.*rank 3/);
    assert.throws(() => evoNormS0(x, { groups: 4 }), /evoNormS0: argument 'groups'.*got 4.*divisor of the channel count 6/);
    assert.throws(() => evoNormS0(x, { groups: 2, eps: 0 }), /argument 'eps'.*got 0/);
    assert.throws(() => evoNormS0(x, { groups: 2, v: tf.ones([2]) }), /argument 'v'.*shape \[2\].*shape \[6\]/);
    assert.throws(() => evoNormS0(tf.zeros([2, 6]), { groups: 6 }), /argument 'groups'.*at least 2 values per sample/);
  });

  it('leaks no tensor, forward or backward', () => {
    const x = tf.randomNormal([2, 3, 3, 4]), gamma = tf.ones([4]), beta = tf.zeros([4]), v = tf.ones([4]);
    assertNoLeak(() => evoNormS0(x, { groups: 2, gamma, beta, v }).dispose(), 'forward');
    assertNoLeak(() => tf.dispose(tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, w: tf.Tensor) =>
      tf.sum(evoNormS0(a, { groups: 2, gamma: g, beta: b, v: w })))([x, gamma, beta, v])), 'backward');
    tf.dispose([x, gamma, beta, v]);
  });
});
