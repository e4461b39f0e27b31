import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { defaultGroups, groupNorm, groupResponseNorm, instanceNorm, layerNorm, layerResponseNorm } from '../../src/ops/group_norm.js';
import { Arr, assertClose, assertMatchesReference, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { VARIANTS, onBackend } from './backends.js';
import { f32, meanAt, meanSquareAbout, sampleGroups } from './references.js';

/**
 * Naive float64 per-sample group normalisation: for each sample b and group g (channels g*C/G .. (g+1)*C/G - 1),
 * collect the group's values over all spatial positions, then `y = gamma * (x - m) / sqrt(s + eps) + beta` where
 * `centered` chooses GN (m = mean, s = biased variance) or GFRN (m = 0, s = mean of squares).
 */
function groupReference(x: Float64Array, shape: number[], groups: number, gamma: Float64Array, beta: Float64Array, eps: number, centered: boolean): Float64Array {
  const C = shape[shape.length - 1];
  const y = new Float64Array(x.length);
  for (const idx of sampleGroups(shape, groups)) {
    const m = centered ? meanAt(x, idx) : 0;
    const s = meanSquareAbout(x, idx, m);
    for (const i of idx) {
      const c = i % C;
      y[i] = gamma[c] * (x[i] - m) / Math.sqrt(s + eps) + beta[c];
    }
  }
  return y;
}

const NAMES = ['x', 'gamma', 'beta', 'learnedEps'];

type Op = (x: tf.Tensor, p: { gamma: tf.Tensor; beta: tf.Tensor; eps: number; learnedEps?: tf.Tensor }) => tf.Tensor;

/** Checks `op` against the reference (forward, and finite-difference gradients of every input). */
function checkAgainstReference(op: Op, shape: number[], groups: number, centered: boolean, seed: number, opts: { scale?: number; shift?: number; eps: number; learned?: number }): void {
  const C = shape[shape.length - 1];
  const x = f32(randn(shape, seed, opts.scale ?? 1, opts.shift ?? 0));
  const gamma = f32(randn([C], seed + 1, 0.5, 1)), beta = f32(randn([C], seed + 2, 0.5)), dy = f32(randn(shape, seed + 3));
  const inputs: Arr[] = [x, gamma, beta];
  if (opts.learned !== undefined) inputs.push({ data: Float64Array.of(opts.learned), shape: [] });
  const ref = (v: Float64Array[]) => groupReference(v[0], shape, groups, v[1], v[2], opts.eps + (v[3] ? Math.abs(v[3][0]) : 0), centered);
  const call = (...t: tf.Tensor[]) => op(t[0], { gamma: t[1], beta: t[2], eps: opts.eps, learnedEps: t[3] });
  assertMatchesReference(call, ref, inputs, dy, NAMES);
}

/** Asserts that sample 0's output does not change when the other samples do. */
function assertBatchIndependent(op: (x: tf.Tensor) => tf.Tensor, shape: number[]): void {
  const a = randn(shape, 5);
  const n = a.data.length / shape[0];
  const b = { data: a.data.map((v, i) => (i < n ? v : v * 9 - 4)), shape };
  const first = (t: tf.Tensor) => values(t).slice(0, n);
  assert.deepEqual(first(op(tensor(b))), first(op(tensor(a))));
}

/** Asserts `op(k x) = op(x)` for a positive k (eps tiny against the scale). */
function assertScaleInvariant(op: (x: tf.Tensor) => tf.Tensor, shape: number[]): void {
  const x = randn(shape, 6);
  const y1 = values(op(tensor(x)));
  const y2 = values(op(tensor({ data: x.data.map((v) => v * 37), shape })));
  assertClose(y2, y1, 1e-5, 'scaled by 37');
}

describe('defaultGroups', () => {
  it('is the largest divisor of C not above the preferred count (32)', () => {
    assert.equal(defaultGroups(64), 32);
    assert.equal(defaultGroups(256), 32);
    assert.equal(defaultGroups(48), 24);
    assert.equal(defaultGroups(100), 25);
    assert.equal(defaultGroups(16), 16);
    assert.equal(defaultGroups(3), 3);
    assert.equal(defaultGroups(1), 1);
    assert.equal(defaultGroups(37), 1);
    assert.equal(defaultGroups(64, 8), 8);
    assert.equal(defaultGroups(12, 5), 4);
    assert.throws(() => defaultGroups(0), /defaultGroups: argument 'channels'/);
    assert.throws(() => defaultGroups(8, 0), /argument 'preferred'/);
  });
});

describe('groupNorm / layerNorm / instanceNorm', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; groups: number; scale?: number; shift?: number }> = [
    { name: 'GN, 2 groups', shape: [2, 3, 3, 4], groups: 2 },
    { name: 'GN, 3 groups of 2', shape: [2, 2, 3, 6], groups: 3 },
    { name: 'GN, B = 1', shape: [1, 3, 3, 4], groups: 2 },
    { name: 'GN, 1x1 map', shape: [3, 1, 1, 6], groups: 2 },
    { name: 'GN, dense input', shape: [3, 8], groups: 2 },
    { name: 'GN, tiny magnitudes 1e-4', shape: [2, 3, 3, 4], groups: 2, scale: 1e-4 },
    { name: 'GN, large magnitudes 1e3', shape: [2, 3, 3, 4], groups: 2, scale: 1e3 },
    { name: 'GN, offset 1e3 with spread 1', shape: [2, 4, 4, 4], groups: 4, shift: 1e3 },
  ];
  for (const { backend, fused, name } of VARIANTS) {
    for (const [k, tc] of cases.entries()) {
      it(`${name}: groupNorm matches the float64 reference and its finite-difference gradients: ${tc.name}`, () => onBackend(backend, () => {
        checkAgainstReference((x, p) => groupNorm(x, { ...p, groups: tc.groups }), tc.shape, tc.groups, true, 100 + 10 * k, { scale: tc.scale, shift: tc.shift, eps: 1e-5 });
      }, fused));
    }

    it(`${name}: layerNorm = one group over (H, W, C), with gradients; also dense and B = 1`, () => onBackend(backend, () => {
      checkAgainstReference(layerNorm, [2, 3, 2, 3], 1, true, 200, { eps: 1e-5 });
      checkAgainstReference(layerNorm, [3, 5], 1, true, 210, { eps: 1e-5 });
      checkAgainstReference(layerNorm, [1, 2, 2, 3], 1, true, 220, { eps: 1e-3, scale: 1e3 });
    }, fused));

    it(`${name}: instanceNorm = one channel per group over (H, W), with gradients; also B = 1 and 1e-4 magnitudes`, () => onBackend(backend, () => {
      checkAgainstReference(instanceNorm, [2, 3, 3, 3], 3, true, 300, { eps: 1e-5 });
      checkAgainstReference(instanceNorm, [1, 2, 3, 2], 2, true, 310, { eps: 1e-5, scale: 1e-4 });
    }, fused));

    it(`${name}: keeps 1e-4 accuracy for large groups with offset 1e3 and spread 1 (float32 sums)`, () => onBackend(backend, () => {
      const shape = [2, 64, 64, 4];
      const x = f32(randn(shape, 230, 1, 1e3));
      const ones = new Float64Array(4).fill(1), zeros = new Float64Array(4);
      for (const groups of [1, 2]) {
        const y = groupNorm(tensor(x), { groups });
        assertClose(values(y), groupReference(x.data, shape, groups, ones, zeros, 1e-5, true), 1e-4, `groups ${groups}`);
        y.dispose();
      }
    }, fused));
  }

  it('uses defaultGroups(C) when groups is omitted', () => {
    const shape = [2, 2, 2, 48];
    const x = randn(shape, 7);
    const ones = new Float64Array(48).fill(1), zeros = new Float64Array(48);
    assertClose(values(groupNorm(tensor(x))), groupReference(x.data, shape, 24, ones, zeros, 1e-5, true), 1e-4, 'G = 24');
  });

  it('is batch independent', () => {
    assertBatchIndependent((x) => groupNorm(x, { groups: 2 }), [3, 3, 3, 4]);
    assertBatchIndependent((x) => layerNorm(x), [3, 3, 3, 4]);
    assertBatchIndependent((x) => instanceNorm(x), [3, 3, 3, 4]);
    assertBatchIndependent((x) => groupNorm(x, { groups: 2 }), [3, 8]);
  });

  it('is invariant to a positive scaling of the input (eps small against the scale)', () => {
    assertScaleInvariant((x) => groupNorm(x, { groups: 2, eps: 1e-10 }), [2, 3, 3, 4]);
    assertScaleInvariant((x) => layerNorm(x, { eps: 1e-10 }), [2, 3, 3, 4]);
    assertScaleInvariant((x) => instanceNorm(x, { eps: 1e-10 }), [2, 3, 3, 4]);
  });

  it('rejects bad input with errors naming the argument', () => {
    const x = tf.zeros([2, 3, 3, 6]);
    assert.throws(() => groupNorm(tf.zeros([2, 3, 4]), { groups: 2 }), /groupNorm: argument 'x'.*rank 3.*expected rank 2 or 4/);
    assert.throws(() => groupNorm(x, { groups: 4 }), /groupNorm: argument 'groups'.*got 4.*divisor of the channel count 6 \(e\.g\. 1, 2, 3, 6\)/);
    assert.throws(() => groupNorm(x, { groups: 0 }), /argument 'groups'.*got 0/);
    assert.throws(() => groupNorm(x, { groups: 2, eps: 0 }), /argument 'eps'.*got 0/);
    assert.throws(() => layerNorm(x, { eps: -1 }), /layerNorm: argument 'eps'/);
    assert.throws(() => groupNorm(x, { groups: 2, gamma: tf.ones([4]) }), /argument 'gamma'.*shape \[4\].*shape \[6\]/);
    assert.throws(() => instanceNorm(x, { beta: tf.ones([6, 1]) }), /instanceNorm: argument 'beta'/);
    // A group holding a single value per sample has variance 0: an error, not a constant output.
    assert.throws(() => groupNorm(tf.zeros([2, 1, 1, 6]), { groups: 6 }), /groupNorm: argument 'groups'.*got 6.*at least 2 values per sample/);
    assert.throws(() => groupNorm(tf.zeros([2, 6]), { groups: 6 }), /argument 'groups'.*at least 2 values/);
    assert.throws(() => instanceNorm(tf.zeros([2, 4])), /instanceNorm: argument 'x'.*shape \[2,4\].*at least 2 values/);
    assert.throws(() => layerNorm(tf.zeros([2, 1])), /layerNorm: argument 'x'/);
  });

  it('leaks no tensor, forward or backward', () => {
    const x = tf.randomNormal([2, 3, 3, 4]), gamma = tf.ones([4]), beta = tf.zeros([4]);
    for (const [name, op] of [['groupNorm', groupNorm], ['layerNorm', layerNorm], ['instanceNorm', instanceNorm]] as const) {
      assertNoLeak(() => op(x, { gamma, beta, groups: 2 } as never).dispose(), `${name} forward`);
      assertNoLeak(() => tf.dispose(tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(op(a, { gamma: g, beta: b, groups: 2 } as never)))([x, gamma, beta])), `${name} backward`);
    }
    const bad = tf.ones([3]);
    assertNoLeak(() => assert.throws(() => groupNorm(x, { groups: 2, gamma: bad })), 'failed call');
    tf.dispose([x, gamma, beta, bad]);
  });
});

describe('groupResponseNorm / layerResponseNorm (GFRN / LFRN)', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; groups: number; scale?: number; eps?: number; learned?: number }> = [
    { name: 'GFRN, 2 groups', shape: [2, 3, 3, 4], groups: 2 },
    { name: 'GFRN, B = 1, 3 groups', shape: [1, 2, 3, 6], groups: 3 },
    { name: 'GFRN, dense input with learned eps', shape: [3, 6], groups: 3, learned: 1e-4 },
    { name: 'GFRN, one value per group (1x1, G = C) with learned eps', shape: [2, 1, 1, 4], groups: 4, learned: 1e-4 },
    { name: 'GFRN, tiny magnitudes 1e-4', shape: [2, 3, 3, 4], groups: 2, scale: 1e-4, eps: 1e-10 },
    { name: 'GFRN, large magnitudes 1e3', shape: [2, 3, 3, 4], groups: 2, scale: 1e3 },
  ];
  for (const { backend, fused, name } of VARIANTS) {
    for (const [k, tc] of cases.entries()) {
      it(`${name}: groupResponseNorm matches the float64 reference and its finite-difference gradients: ${tc.name}`, () => onBackend(backend, () => {
        checkAgainstReference((x, p) => groupResponseNorm(x, { ...p, groups: tc.groups }), tc.shape, tc.groups, false, 400 + 10 * k,
          { scale: tc.scale, eps: tc.eps ?? 1e-6, learned: tc.learned });
      }, fused));
    }

    it(`${name}: layerResponseNorm = GFRN with one group, with gradients (incl. learned eps)`, () => onBackend(backend, () => {
      checkAgainstReference(layerResponseNorm, [2, 3, 2, 3], 1, false, 500, { eps: 1e-6 });
      checkAgainstReference(layerResponseNorm, [3, 4], 1, false, 510, { eps: 1e-6, learned: 1e-4 });
    }, fused));
  }

  it('is batch independent and scale invariant; uses defaultGroups(C) when groups is omitted', () => {
    assertBatchIndependent((x) => groupResponseNorm(x, { groups: 2 }), [3, 3, 3, 4]);
    assertBatchIndependent((x) => layerResponseNorm(x), [3, 3, 3, 4]);
    assertScaleInvariant((x) => groupResponseNorm(x, { groups: 2, eps: 1e-12 }), [2, 3, 3, 4]);
    assertScaleInvariant((x) => layerResponseNorm(x, { eps: 1e-12 }), [2, 3, 3, 4]);
    const shape = [2, 2, 2, 12];
    const x = randn(shape, 8);
    const ones = new Float64Array(12).fill(1), zeros = new Float64Array(12);
    assertClose(values(groupResponseNorm(tensor(x))), groupReference(x.data, shape, 12, ones, zeros, 1e-6, false), 1e-4, 'G = 12');
  });

  it('rejects bad input and leaks nothing', () => {
    const x = tf.randomNormal([2, 3, 3, 6]), le = tf.scalar(1e-4), gamma = tf.ones([6]);
    assert.throws(() => groupResponseNorm(x, { groups: 4 }), /groupResponseNorm: argument 'groups'.*got 4.*divisor of the channel count 6/);
    assert.throws(() => groupResponseNorm(x, { groups: 2, eps: 0 }), /argument 'eps'/);
    assert.throws(() => layerResponseNorm(tf.zeros([6])), /layerResponseNorm: argument 'x'.*rank 1/);
    assert.throws(() => layerResponseNorm(x, { learnedEps: tf.ones([2]) }), /argument 'learnedEps'/);
    assertNoLeak(() => groupResponseNorm(x, { groups: 3, gamma, learnedEps: le }).dispose(), 'forward');
    assertNoLeak(() => tf.dispose(tf.grads((a: tf.Tensor, e: tf.Tensor) => tf.sum(groupResponseNorm(a, { groups: 3, learnedEps: e })))([x, le])), 'backward');
    tf.dispose([x, le, gamma]);
  });
});
