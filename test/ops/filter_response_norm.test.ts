import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { filterResponseNorm, tlu, prelu, affineTlu } from '../../src/ops/filter_response_norm.js';
import { VARIANTS, onBackend } from './backends.js';
import { Arr, assertClose, assertMatchesReference, assertNoLeak, autodiffGrads, finiteDifferenceGrads, randn, tensor, useCpu, values } from '../helpers.js';

/** Independent float64 reference of FRN: loops over (b, c), mean over the spatial positions. */
function frnReference(x: Float64Array, shape: number[], gamma: Float64Array, beta: Float64Array, eps: number, learnedEps = 0): Float64Array {
  const C = shape[shape.length - 1];
  const B = shape[0];
  const spatial = x.length / (B * C);
  const y = new Float64Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let nu2 = 0;
      for (let p = 0; p < spatial; p++) nu2 += x[(b * spatial + p) * C + c] ** 2;
      nu2 /= spatial;
      const inv = 1 / Math.sqrt(nu2 + eps + Math.abs(learnedEps));
      for (let p = 0; p < spatial; p++) {
        const i = (b * spatial + p) * C + c;
        y[i] = gamma[c] * x[i] * inv + beta[c];
      }
    }
  }
  return y;
}

function tluReference(x: Float64Array, tau: Float64Array): Float64Array {
  const C = tau.length;
  return x.map((v, i) => Math.max(v, tau[i % C]));
}

describe('filterResponseNorm', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; scale: number; learned?: number; eps?: number }> = [
    { name: 'conv map', shape: [2, 5, 4, 3], scale: 1 },
    { name: 'B = 1', shape: [1, 3, 3, 4], scale: 2 },
    { name: '1x1 map with learned eps', shape: [3, 1, 1, 5], scale: 1, learned: 1e-4 },
    { name: 'dense input with learned eps', shape: [4, 6], scale: 1, learned: 1e-4 },
    { name: 'tiny magnitudes 1e-4', shape: [2, 4, 4, 3], scale: 1e-4 },
    { name: 'large magnitudes 1e3', shape: [2, 4, 4, 3], scale: 1e3 },
    { name: 'eps 1e-3', shape: [2, 3, 2, 2], scale: 0.1, eps: 1e-3 },
  ];

  for (const [k, tc] of cases.entries()) {
    it(`matches the float64 reference and its finite-difference gradients: ${tc.name}`, () => {
      const C = tc.shape[tc.shape.length - 1];
      const x = randn(tc.shape, 10 + k, tc.scale);
      const gamma = randn([C], 20 + k, 0.5, 1);
      const beta = randn([C], 30 + k, 0.5);
      const dy = randn(tc.shape, 40 + k);
      const eps = tc.eps ?? 1e-6;
      const learned = tc.learned;
      const ref = (xs: Float64Array[]) => frnReference(xs[0], tc.shape, xs[1], xs[2], eps, learned === undefined ? 0 : xs[3][0]);

      const inputs: Arr[] = [x, gamma, beta];
      if (learned !== undefined) inputs.push({ data: Float64Array.of(learned), shape: [] });
      const op = (...t: tf.Tensor[]) => filterResponseNorm(t[0], { gamma: t[1] as tf.Tensor1D, beta: t[2] as tf.Tensor1D, eps, learnedEps: t[3] });
      assertMatchesReference(op, ref, inputs, dy, ['x', 'gamma', 'beta', 'learnedEps']);
    });
  }

  it('is independent of the other samples of the batch', () => {
    const a = randn([3, 4, 4, 2], 1);
    const b = { data: a.data.slice(), shape: a.shape };
    for (let i = a.data.length / 3; i < a.data.length; i++) b.data[i] = b.data[i] * 7 - 3; // change samples 1 and 2
    const [ya, yb] = [tensor(a), tensor(b)].map((t) => filterResponseNorm(t));
    const first = (t: tf.Tensor) => values(t).slice(0, a.data.length / 3);
    assert.deepEqual(first(ya), first(yb));
  });

  it('is invariant to a positive scaling of each sample (eps small against the scale)', () => {
    const x = randn([2, 4, 4, 3], 2);
    const y1 = values(filterResponseNorm(tensor(x), { eps: 1e-10 }));
    const y2 = values(filterResponseNorm(tensor({ data: x.data.map((v) => v * 37), shape: x.shape }), { eps: 1e-10 }));
    assertClose(y2, y1, 1e-5, 'scaled');
  });

  it('stays finite for an all-zero input and for a 1x1 map without learned eps', () => {
    const z = values(filterResponseNorm(tf.zeros([2, 3, 3, 2])));
    assert.ok(z.every((v) => v === 0));
    const g = tf.grad((x: tf.Tensor) => tf.sum(filterResponseNorm(x)))(tf.zeros([2, 1, 1, 4]));
    assert.ok(values(g).every(Number.isFinite));
  });

  it('rejects bad input with errors naming the argument', () => {
    assert.throws(() => filterResponseNorm(tf.zeros([2, 3, 4])), /filterResponseNorm: argument 'x'.*rank 3.*expected rank 2 or 4/);
    assert.throws(() => filterResponseNorm(tf.zeros([2, 3, 3, 4]), { eps: 0 }), /argument 'eps'.*got 0.*> 0/);
    assert.throws(() => filterResponseNorm(tf.zeros([2, 3, 3, 4]), { eps: -1 }), /argument 'eps'/);
    assert.throws(() => filterResponseNorm(tf.zeros([2, 3, 3, 4]), { gamma: tf.ones([3]) as tf.Tensor1D }), /argument 'gamma'.*shape \[3\].*shape \[4\]/);
    assert.throws(() => filterResponseNorm(tf.zeros([2, 4]), { learnedEps: tf.ones([2]) }), /argument 'learnedEps'/);
  });

  it('leaks no tensor, forward or backward', () => {
    const x = tf.randomNormal([2, 3, 3, 4]);
    const gamma = tf.ones([4]) as tf.Tensor1D, beta = tf.zeros([4]) as tf.Tensor1D, le = tf.scalar(1e-4);
    assertNoLeak(() => filterResponseNorm(x, { gamma, beta, learnedEps: le }).dispose(), 'forward');
    assertNoLeak(() => tf.dispose(tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, e: tf.Tensor) =>
      tf.sum(filterResponseNorm(a, { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, learnedEps: e })))([x, gamma, beta, le])), 'backward');
    tf.dispose([x, gamma, beta, le]);
  });
});

describe('tlu and its ablation variants', () => {
  before(useCpu);

  for (const shape of [[2, 3, 3, 4], [5, 4], [2, 5, 7, 12], [3, 5, 5, 7]]) {
    for (const v of VARIANTS) {
      it(`tlu = max(x, tau) per channel with the right gradients, shape [${shape}], ${v.name}`, async () => {
        const C = shape[shape.length - 1];
        const x = randn(shape, 3), tau = randn([C], 4, 0.5), dy = randn(shape, 5);
        // Some inputs exactly at their threshold: the gradient goes to tau there.
        tau.data.forEach((t, c) => { tau.data[c] = Math.fround(t); });
        for (let i = 0; i < x.data.length; i += 11) x.data[i] = tau.data[i % C];
        await onBackend(v.backend, () => {
          const xs = [x, tau].map(tensor);
          assertNoLeak(() => {
            const y = tlu(xs[0], xs[1]);
            assertClose(values(y), tluReference(x.data, tau.data), 1e-6, 'forward');
            y.dispose();
          });
          const got = autodiffGrads((a, t) => tlu(a, t), xs, tensor(dy));
          const want = finiteDifferenceGrads((vv) => tluReference(vv[0], vv[1]), [x.data, tau.data], dy.data);
          // At x = tau exactly, the one-sided difference is the gradient the op documents (to tau).
          const atTau = (i: number) => i % 11 === 0;
          const wantX = want[0].map((g, i) => (atTau(i) ? 0 : g)), wantTau = Float64Array.from(want[1]);
          for (let i = 0; i < x.data.length; i += 11) wantTau[i % C] += dy.data[i] - want[0][i];
          assertClose(got[0], wantX, 1e-4, 'd/dx');
          assertClose(got[1], wantTau, 1e-4, 'd/dtau');
          tf.dispose(xs);
        }, v.fused);
      });
    }
  }

  it('prelu = max(x, kx) and affineTlu = max(x, kx + tau), with gradients', () => {
    const shape = [2, 3, 2, 3];
    const x = randn(shape, 6), k = { data: Float64Array.of(0.25, 0.1, -0.3), shape: [3] }, tau = randn([3], 7, 0.5), dy = randn(shape, 8);
    const preluRef = (v: Float64Array[]) => v[0].map((e, i) => Math.max(e, v[1][i % 3] * e));
    const affRef = (v: Float64Array[]) => v[0].map((e, i) => Math.max(e, v[1][i % 3] * e + v[2][i % 3]));
    assertClose(values(prelu(tensor(x), tensor(k))), preluRef([x.data, k.data]), 1e-6, 'prelu');
    assertClose(values(affineTlu(tensor(x), tensor(k), tensor(tau))), affRef([x.data, k.data, tau.data]), 1e-6, 'affineTlu');
    const got = autodiffGrads((a, kk, t) => affineTlu(a, kk, t), [x, k, tau].map(tensor), tensor(dy));
    const want = finiteDifferenceGrads(affRef, [x.data, k.data, tau.data], dy.data);
    got.forEach((g, i) => assertClose(g, want[i], 1e-4, `affineTlu grad ${i}`));
  });

  it('rejects a tau that is not per channel', () => {
    assert.throws(() => tlu(tf.zeros([2, 3, 3, 4]), tf.zeros([2, 3, 3, 4])), /tlu: argument 'tau'.*shape \[4\]/);
  });
});
