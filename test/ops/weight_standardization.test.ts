import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { scaledStandardize, weightStandardize } from '../../src/ops/weight_standardization.js';
import { assertClose, assertMatchesReference, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { wsReference } from './references.js';

describe('scaledStandardize', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; scale: number; eps?: number; gain?: boolean }> = [
    { name: 'conv kernel [3,3,2,4] with gain', shape: [3, 3, 2, 4], scale: 1, gain: true },
    { name: 'dense kernel [5,3] with gain', shape: [5, 3], scale: 0.5, gain: true },
    { name: '1x1 conv kernel without gain', shape: [1, 1, 6, 2], scale: 1 },
    { name: 'magnitudes 1e3', shape: [2, 2, 3, 3], scale: 1e3, gain: true },
    { name: 'magnitudes 1e-4 (below the eps floor: var * fanIn = 1.2e-7 < 1e-4)', shape: [2, 2, 3, 3], scale: 1e-4, gain: true },
    { name: 'eps 1e-2', shape: [4, 5], scale: 0.1, eps: 1e-2, gain: true },
  ];

  for (const [k, tc] of cases.entries()) {
    it(`matches the float64 reference and its finite-difference gradients: ${tc.name}`, () => {
      const out = tc.shape[tc.shape.length - 1];
      const w = randn(tc.shape, 10 + k, tc.scale, 0.3 * tc.scale);
      const gain = randn([out], 20 + k, 0.3, 1);
      const dy = randn(tc.shape, 30 + k);
      const eps = tc.eps ?? 1e-4;
      const ref = (xs: Float64Array[]) => wsReference(xs[0], tc.shape, 'scaled', eps, tc.gain ? xs[1] : undefined);
      const op = (...t: tf.Tensor[]) => scaledStandardize(t[0], { gain: t[1] as tf.Tensor1D | undefined, eps: tc.eps });
      assertMatchesReference(op, ref, tc.gain ? [w, gain] : [w], dy, ['w', 'gain'], { forward: 1e-5 });
    });
  }

  it('gives each output unit zero mean and squared norm 1 (variance 1/fanIn) when gain = 1', () => {
    const w = tensor(randn([3, 3, 4, 5], 3, 2, 1));
    const y = values(scaledStandardize(w));
    const fanIn = 36;
    for (let o = 0; o < 5; o++) {
      let s = 0, s2 = 0;
      for (let k = 0; k < fanIn; k++) { s += y[k * 5 + o]; s2 += y[k * 5 + o] ** 2; }
      assert.ok(Math.abs(s / fanIn) < 1e-6, `mean ${s / fanIn}`);
      assert.ok(Math.abs(s2 - 1) < 1e-5, `squared norm ${s2}`);
    }
    w.dispose();
  });

  it('is invariant to scaling the kernel (w -> 5w)', () => {
    const w = randn([3, 3, 2, 4], 4, 0.05);
    const y1 = values(scaledStandardize(tensor(w)));
    const y5 = values(scaledStandardize(tensor({ data: w.data.map((v) => 5 * v), shape: w.shape })));
    assertClose(y5, y1, 1e-6, 'w -> 5w');
  });

  it('stays finite for a zero-variance (constant) kernel, forward and backward', () => {
    const w = tf.fill([3, 3, 2, 4], 0.7);
    const gain = tf.ones([4]);
    const y = values(scaledStandardize(w, { gain: gain as tf.Tensor1D }));
    assert.ok(y.every((v) => v === 0 || Math.abs(v) < 1e-5), 'a constant kernel maps to ~0');
    const [gw, gg] = tf.grads((a: tf.Tensor, g: tf.Tensor) => tf.sum(tf.mul(scaledStandardize(a, { gain: g as tf.Tensor1D }), tf.randomNormal([3, 3, 2, 4]))))([w, gain]);
    assert.ok(values(gw).every(Number.isFinite) && values(gg).every(Number.isFinite));
    tf.dispose([w, gain, gw, gg]);
  });

  it('rejects bad input with errors naming the argument', () => {
    assert.throws(() => scaledStandardize(tf.zeros([5])), /scaledStandardize: argument 'w'.*rank 1.*\[kh,kw,in,out\]/);
    assert.throws(() => scaledStandardize(tf.ones([3, 4]), { eps: 0 }), /argument 'eps'.*got 0/);
    assert.throws(() => scaledStandardize(tf.ones([3, 4]), { gain: tf.ones([3]) as tf.Tensor1D }), /argument 'gain'.*shape \[3\].*\[4\]/);
  });

  it('leaks no tensor, forward or backward', () => {
    const w = tf.randomNormal([3, 3, 2, 4]), gain = tf.ones([4]) as tf.Tensor1D;
    assertNoLeak(() => scaledStandardize(w, { gain }).dispose(), 'forward');
    assertNoLeak(() => tf.dispose(tf.grads((a: tf.Tensor, g: tf.Tensor) => tf.sum(scaledStandardize(a, { gain: g as tf.Tensor1D })))([w, gain])), 'backward');
    tf.dispose([w, gain]);
  });
});

describe('weightStandardize', () => {
  before(useCpu);

  for (const [k, tc] of [
    { shape: [3, 3, 2, 4], scale: 1, eps: undefined },
    { shape: [6, 3], scale: 1e3, eps: undefined },
    { shape: [2, 2, 3, 2], scale: 1e-2, eps: 1e-3 },
  ].entries()) {
    it(`matches the float64 reference and its finite-difference gradient: shape [${tc.shape}], magnitude ${tc.scale}`, () => {
      const w = randn(tc.shape, 40 + k, tc.scale, tc.scale), dy = randn(tc.shape, 50 + k);
      const eps = tc.eps ?? 1e-5;
      const ref = (xs: Float64Array[]) => wsReference(xs[0], tc.shape, 'plain', eps);
      assertMatchesReference((a) => weightStandardize(a, { eps: tc.eps }), ref, [w], dy, ['w'], { forward: 1e-5 });
    });
  }

  it('stays finite for a constant kernel; rejects bad input; leaks nothing', () => {
    assert.ok(values(weightStandardize(tf.fill([4, 3], 2))).every((v) => Math.abs(v) < 1e-3));
    assert.throws(() => weightStandardize(tf.scalar(1)), /weightStandardize: argument 'w'.*rank 0/);
    assert.throws(() => weightStandardize(tf.ones([2, 2]), { eps: -1 }), /weightStandardize: argument 'eps'/);
    const w = tf.randomNormal([3, 3, 2, 4]);
    assertNoLeak(() => weightStandardize(w).dispose(), 'forward');
    assertNoLeak(() => tf.grad((a: tf.Tensor) => tf.sum(tf.square(weightStandardize(a))))(w).dispose(), 'backward');
    w.dispose();
  });
});
