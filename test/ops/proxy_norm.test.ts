import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { ActivationName } from '../../src/ops/activations.js';
import { inverseNormalCdf, proxyNormActivation, proxySamples, proxyStatistics } from '../../src/ops/proxy_norm.js';
import { Arr, assertClose, assertMatchesReference, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { ACTIVATION_REFERENCE, Phi } from './references.js';

/** Phi^-1(p) by bisection of the CDF (lower half; the upper half by symmetry, using the exact 1 - p). */
function quantileByBisection(p: number): number {
  if (p > 0.5) return -quantileByBisection(1 - p);
  let lo = -40, hi = 0;
  for (let i = 0; i < 200 && hi - lo > 0; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (Phi(mid) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

const referenceQuantiles = new Map<number, Float64Array>();
function quantiles(S: number): Float64Array {
  let q = referenceQuantiles.get(S);
  if (!q) {
    q = new Float64Array(S);
    for (let i = 0; i < S; i++) q[i] = quantileByBisection((i + 0.5) / S);
    referenceQuantiles.set(S, q);
  }
  return q;
}

/** float64 proxy moments of one channel: mean and biased variance of phi(gamma * ((1+gt) q + bt) + beta). */
function proxyMoments(q: Float64Array, phi: (v: number) => number, gamma: number, beta: number, bt: number, gt: number): { mu: number; variance: number } {
  let mu = 0;
  const z = Array.from(q, (qi) => phi(gamma * ((1 + gt) * qi + bt) + beta));
  for (const v of z) mu += v;
  mu /= z.length;
  let variance = 0;
  for (const v of z) variance += (v - mu) ** 2;
  return { mu, variance: variance / z.length };
}

/** Independent float64 reference of the proxy-normalized activation. */
function pnReference(x: Float64Array, C: number, p: { gamma: Float64Array; beta: Float64Array; bt: Float64Array; gt: Float64Array },
  act: ActivationName, eps: number, S: number, scale: boolean): Float64Array {
  const phi = ACTIVATION_REFERENCE[act];
  const q = quantiles(S);
  const mus: number[] = [], ss: number[] = [];
  for (let c = 0; c < C; c++) {
    const { mu, variance } = proxyMoments(q, phi, p.gamma[c], p.beta[c], p.bt[c], p.gt[c]);
    mus.push(mu);
    ss.push(scale ? 1 / Math.sqrt(variance + eps) : 1);
  }
  return x.map((v, i) => {
    const c = i % C;
    return (phi(p.gamma[c] * v + p.beta[c]) - mus[c]) * ss[c];
  });
}

describe('inverseNormalCdf and proxySamples', () => {
  before(useCpu);

  it('matches a float64 bisection of the CDF over all regions of the approximation', () => {
    const ps = [1e-300, 1e-20, 1e-12, 1.3e-11, 1.5e-11, 1e-8, 1e-3, 0.0749, 0.0751, 0.2, 0.5, 0.6, 0.9249, 0.9251, 0.999, 1 - 1e-8, 1 - 1e-15];
    for (let i = 0; i < 200; i++) ps.push((i + 0.5) / 200);
    for (const p of ps) {
      const want = quantileByBisection(p), got = inverseNormalCdf(p);
      assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)), `p = ${p}: ${got} vs ${want}`);
    }
    assert.equal(inverseNormalCdf(0.5), 0);
  });

  it('proxySamples are the fixed quantiles Phi^-1((i + 0.5)/S), symmetric, the same on every call', () => {
    for (const S of [2, 7, 200]) {
      const q = proxySamples(S);
      assert.ok(q instanceof Float32Array);
      assert.equal(q.length, S);
      assertClose(q, quantiles(S), 1e-7, `S = ${S}`);
      for (let i = 0; i < S; i++) assert.ok(q[i] === -q[S - 1 - i], `symmetry at ${i}`);
      assert.deepEqual(proxySamples(S), q);
    }
    assert.equal(proxySamples().length, 200);
    const q = proxySamples(5);
    q[0] = 99; // a caller's copy: mutating it does not change the next call
    assert.notEqual(proxySamples(5)[0], 99);
  });

  it('rejects bad arguments, naming them', () => {
    assert.throws(() => proxySamples(1), /proxySamples: argument 'count'.*got 1/);
    assert.throws(() => proxySamples(2.5), /argument 'count'/);
    for (const p of [0, 1, -0.1, NaN]) assert.throws(() => inverseNormalCdf(p), /inverseNormalCdf: argument 'p'/);
  });
});

describe('proxyStatistics', () => {
  before(useCpu);

  const initial: Array<{ act: ActivationName; mu: number; variance: number }> = [
    { act: 'relu', mu: 0.398451, variance: 0.338035 },
    { act: 'swish', mu: 0.206048, variance: 0.310004 },
  ];
  for (const tc of initial) {
    it(`${tc.act} at initialisation (S 200, eps .03): mu ${tc.mu}, var ${tc.variance} (METHODS.md, and our float64 computation)`, () => {
      const own = proxyMoments(quantiles(200), ACTIVATION_REFERENCE[tc.act], 1, 0, 0, 0);
      assert.ok(Math.abs(own.mu - tc.mu) < 6e-7, `float64 mu ${own.mu}`);
      assert.ok(Math.abs(own.variance - tc.variance) < 6e-7, `float64 var ${own.variance}`);
      const gamma = tf.ones([3]) as tf.Tensor1D, beta = tf.zeros([3]) as tf.Tensor1D;
      const zero = tf.zeros([3]) as tf.Tensor1D;
      const { mean, invStd } = proxyStatistics({ gamma, beta, betaTilde: zero, gammaTilde: zero, activation: tc.act, eps: 0.03, samples: 200 });
      assert.deepEqual(mean.shape, [3]);
      assertClose(values(mean), [own.mu, own.mu, own.mu], 2e-6, 'mean');
      const inv = 1 / Math.sqrt(own.variance + 0.03);
      assertClose(values(invStd), [inv, inv, inv], 2e-6, 'invStd');
      // Defaults: relu, eps 0.03, S 200, no proxy parameters.
      if (tc.act === 'relu') assertClose(values(proxyStatistics({ gamma, beta }).mean), [own.mu, own.mu, own.mu], 2e-6, 'defaults');
      tf.dispose([gamma, beta, zero, mean, invStd]);
    });
  }

  it('follows every parameter per channel, and is what proxyNormActivation subtracts and multiplies by', () => {
    const C = 3;
    const p = { gamma: randn([C], 1, 0.3, 1).data, beta: randn([C], 2, 0.3).data, bt: randn([C], 3, 0.3).data, gt: randn([C], 4, 0.3).data };
    const [gamma, beta, bt, gt] = [p.gamma, p.beta, p.bt, p.gt].map((d) => tf.tensor1d(Float32Array.from(d)));
    const stats = proxyStatistics({ gamma, beta, betaTilde: bt, gammaTilde: gt, activation: 'gelu', eps: 0.1, samples: 50 });
    const want = Array.from({ length: C }, (_, c) => proxyMoments(quantiles(50), ACTIVATION_REFERENCE.gelu, p.gamma[c], p.beta[c], p.bt[c], p.gt[c]));
    assertClose(values(stats.mean), want.map((w) => w.mu), 1e-5, 'mean');
    assertClose(values(stats.invStd), want.map((w) => 1 / Math.sqrt(w.variance + 0.1)), 1e-5, 'invStd');
    // Folding at inference: the op equals (phi(gamma x + beta) - mean) * invStd with the statistics as constants.
    const x = randn([4, C], 5);
    const xt = tensor(x);
    const y = proxyNormActivation(xt, { gamma, beta, betaTilde: bt, gammaTilde: gt, activation: 'gelu', eps: 0.1, samples: 50 });
    const [m, s] = [values(stats.mean), values(stats.invStd)];
    assertClose(values(y), x.data.map((v, i) => (ACTIVATION_REFERENCE.gelu(p.gamma[i % C] * v + p.beta[i % C]) - m[i % C]) * s[i % C]), 1e-5, 'folded');
    tf.dispose([xt, y, gamma, beta, bt, gt, stats.mean, stats.invStd]);
  });

  it('rejects missing or mis-shaped parameters', () => {
    const g = tf.ones([3]) as tf.Tensor1D;
    assert.throws(() => proxyStatistics({ gamma: g } as never), /proxyStatistics: argument 'beta'/);
    assert.throws(() => proxyStatistics({ gamma: g, beta: tf.zeros([2]) as tf.Tensor1D }), /argument 'beta'.*shape \[2\].*\[3\]/);
    assert.throws(() => proxyStatistics({ gamma: tf.ones([3, 1]) as never, beta: g }), /argument 'gamma'/);
    assert.throws(() => proxyStatistics({ gamma: g, beta: g, gammaTilde: tf.zeros([4]) as tf.Tensor1D }), /argument 'gammaTilde'/);
  });
});

describe('proxyNormActivation', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; act: ActivationName; scale?: number; samples?: number; eps?: number; noScale?: boolean; bare?: boolean }> = [
    { name: 'dense input, relu', shape: [3, 5], act: 'relu' },
    { name: 'conv map, swish', shape: [2, 3, 3, 4], act: 'swish' },
    { name: 'B = 1, gelu', shape: [1, 2, 3, 3], act: 'gelu' },
    { name: '1x1 map, silu, S = 16, eps 0.1', shape: [2, 1, 1, 4], act: 'silu', samples: 16, eps: 0.1 },
    { name: 'scale: false (before the final pooling), relu', shape: [2, 2, 2, 3], act: 'relu', noScale: true },
    { name: 'magnitudes 1e-4, swish', shape: [2, 6], act: 'swish', scale: 1e-4 },
    { name: 'magnitudes 1e3, relu', shape: [2, 2, 2, 3], act: 'relu', scale: 1e3 },
    { name: 'magnitudes 1e3, gelu', shape: [3, 4], act: 'gelu', scale: 1e3 },
    { name: 'no parameters at all, relu', shape: [2, 2, 2, 3], act: 'relu', bare: true },
  ];

  for (const [k, tc] of cases.entries()) {
    it(`matches the float64 reference and its finite-difference gradients: ${tc.name}`, () => {
      const C = tc.shape[tc.shape.length - 1];
      const S = tc.samples ?? 200, eps = tc.eps ?? 0.03, scale = !tc.noScale;
      const x = randn(tc.shape, 10 + k, tc.scale ?? 1);
      const params: Arr[] = tc.bare ? [] : [randn([C], 20 + k, 0.3, 1), randn([C], 30 + k, 0.3), randn([C], 40 + k, 0.3), randn([C], 50 + k, 0.3)];
      const dy = randn(tc.shape, 60 + k);
      const ones = new Float64Array(C).fill(1), zeros = new Float64Array(C);
      const ref = (xs: Float64Array[]) => pnReference(xs[0], C,
        tc.bare ? { gamma: ones, beta: zeros, bt: zeros, gt: zeros } : { gamma: xs[1], beta: xs[2], bt: xs[3], gt: xs[4] }, tc.act, eps, S, scale);
      const op = (...t: tf.Tensor[]) => proxyNormActivation(t[0], {
        gamma: t[1] as tf.Tensor1D, beta: t[2] as tf.Tensor1D, betaTilde: t[3] as tf.Tensor1D, gammaTilde: t[4] as tf.Tensor1D,
        activation: tc.act, eps, samples: tc.samples, scale,
      });
      assertMatchesReference(op, ref, [x, ...params], dy, ['x', 'gamma', 'beta', 'betaTilde', 'gammaTilde'], { forward: 1e-5 });
    });
  }

  it('has zero proxy mean and unit proxy variance (up to eps) when fed the proxy itself', () => {
    // Feeding Y (the proxy) as x: the outputs over the S samples have mean 0 and variance var/(var + eps).
    const S = 200, C = 2;
    const gamma = tf.tensor1d([1.3, 0.7]), beta = tf.tensor1d([0.2, -0.4]), bt = tf.tensor1d([0.1, -0.2]), gt = tf.tensor1d([0.25, -0.1]);
    const q = tf.tensor2d(proxySamples(S), [S, 1]);
    const x = tf.add(tf.mul(q, tf.add(gt, 1)), bt);
    const y = values(proxyNormActivation(x, { gamma, beta, betaTilde: bt, gammaTilde: gt, activation: 'swish', eps: 1e-9 }));
    for (let c = 0; c < C; c++) {
      let m = 0, v = 0;
      for (let i = 0; i < S; i++) m += y[i * C + c] / S;
      for (let i = 0; i < S; i++) v += (y[i * C + c] - m) ** 2 / S;
      assert.ok(Math.abs(m) < 1e-5, `mean ${m}`);
      assert.ok(Math.abs(v - 1) < 1e-4, `variance ${v}`);
    }
    tf.dispose([gamma, beta, bt, gt, q, x]);
  });

  it('is independent of the other samples of the batch', () => {
    const a = randn([3, 3, 3, 2], 1);
    const b = { data: a.data.slice(), shape: a.shape };
    for (let i = a.data.length / 3; i < a.data.length; i++) b.data[i] = b.data[i] * 7 - 3;
    const gamma = tf.tensor1d([1.2, 0.8]);
    const [ya, yb] = [tensor(a), tensor(b)].map((t) => proxyNormActivation(t, { gamma, activation: 'gelu' }));
    const first = (t: tf.Tensor) => values(t).slice(0, a.data.length / 3);
    assert.deepEqual(first(ya), first(yb));
  });

  it('rejects bad input with errors naming the argument', () => {
    const x = tf.zeros([2, 3, 3, 4]);
    assert.throws(() => proxyNormActivation(x, { activation: 'mish' as ActivationName }), /proxyNormActivation: argument 'activation'.*'mish'.*'relu'/);
    assert.throws(() => proxyNormActivation(x, { eps: 0 }), /argument 'eps'.*got 0/);
    assert.throws(() => proxyNormActivation(x, { eps: -0.03 }), /argument 'eps'/);
    assert.throws(() => proxyNormActivation(x, { samples: 1 }), /argument 'samples'.*got 1.*>= 2/);
    assert.throws(() => proxyNormActivation(x, { samples: 10.5 }), /argument 'samples'/);
    assert.throws(() => proxyNormActivation(x, { gamma: tf.ones([3]) as tf.Tensor1D }), /argument 'gamma'.*shape \[3\].*\[4\]/);
    assert.throws(() => proxyNormActivation(x, { betaTilde: tf.ones([2, 2]) as never }), /argument 'betaTilde'/);
    assert.throws(() => proxyNormActivation(tf.zeros([2, 3, 4]), {}), /proxyNormActivation: argument 'x'.*rank 3/);
    x.dispose();
  });

  it('leaks no tensor, forward or backward', () => {
    const x = tf.randomNormal([2, 3, 3, 4]);
    const p = [tf.ones([4]), tf.zeros([4]), tf.zeros([4]), tf.zeros([4])] as tf.Tensor1D[];
    const op = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, bt: tf.Tensor, gt: tf.Tensor) => proxyNormActivation(a, {
      gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, betaTilde: bt as tf.Tensor1D, gammaTilde: gt as tf.Tensor1D, activation: 'swish',
    });
    assertNoLeak(() => op(x, ...(p as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])).dispose(), 'forward');
    assertNoLeak(() => proxyNormActivation(x).dispose(), 'forward without parameters');
    assertNoLeak(() => { const s = proxyStatistics({ gamma: p[0], beta: p[1] }); tf.dispose([s.mean, s.invStd]); }, 'proxyStatistics');
    assertNoLeak(() => tf.dispose(tf.grads((...t: tf.Tensor[]) => tf.sum(op(t[0], t[1], t[2], t[3], t[4])))([x, ...p])), 'backward');
    tf.dispose([x, ...p]);
  });
});
