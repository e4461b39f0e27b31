import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { batchNorm, batchNormInference, batchNormTraining, batchRenormClipSchedule, batchRenormTraining, movingAverage, stopGradient } from '../../src/ops/batch_norm.js';
import { Arr, assertClose, assertNoLeak, autodiffGrads, finiteDifferenceGrads, randn, tensor, useCpu, values } from '../helpers.js';
import { BACKENDS, VARIANTS, onBackend } from './backends.js';
import { averageOverGroups, batchGroupStats, f32 } from './references.js';

/** Applies `y = g(n,c) * x + h(n,c)` element-wise, with n the normalization group of the element's image. */
function perGroupAffine(x: Float64Array, shape: number[], groupSize: number, f: (v: number, n: number, c: number) => number): Float64Array {
  const B = shape[0], C = shape[shape.length - 1];
  const spatial = x.length / (B * C);
  const y = new Float64Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < spatial; p++) {
      for (let c = 0; c < C; c++) {
        const i = (b * spatial + p) * C + c;
        y[i] = f(x[i], Math.floor(b / groupSize), c);
      }
    }
  }
  return y;
}

function bnReference(x: Float64Array, shape: number[], gamma: Float64Array, beta: Float64Array, eps: number, groupSize: number): Float64Array {
  const C = shape[shape.length - 1];
  const { mean, variance } = batchGroupStats(x, shape, groupSize);
  return perGroupAffine(x, shape, groupSize, (v, n, c) => gamma[c] * (v - mean[n * C + c]) / Math.sqrt(variance[n * C + c] + eps) + beta[c]);
}

interface RenormRef { y: Float64Array; r: Float64Array; d: Float64Array }

/** Batch Renormalization in float64; with `frozen`, r and d are those constants (what "no gradient" means). */
function renormReference(x: Float64Array, shape: number[], gamma: Float64Array, beta: Float64Array, eps: number, groupSize: number,
  mm: Float64Array, mv: Float64Array, rMax: number, dMax: number, frozen?: { r: Float64Array; d: Float64Array }): RenormRef {
  const C = shape[shape.length - 1];
  const { mean, variance } = batchGroupStats(x, shape, groupSize);
  const groups = shape[0] / groupSize;
  const r = new Float64Array(groups * C), d = new Float64Array(groups * C);
  for (let n = 0; n < groups; n++) {
    for (let c = 0; c < C; c++) {
      const k = n * C + c;
      const sigmaMov = Math.sqrt(mv[c] + eps);
      r[k] = frozen ? frozen.r[k] : Math.min(Math.max(Math.sqrt(variance[k] + eps) / sigmaMov, 1 / rMax), rMax);
      d[k] = frozen ? frozen.d[k] : Math.min(Math.max((mean[k] - mm[c]) / sigmaMov, -dMax), dMax);
    }
  }
  const y = perGroupAffine(x, shape, groupSize, (v, n, c) => {
    const k = n * C + c;
    return gamma[c] * ((v - mean[k]) / Math.sqrt(variance[k] + eps) * r[k] + d[k]) + beta[c];
  });
  return { y, r, d };
}

const GRAD_NAMES = ['x', 'gamma', 'beta', 'movingMean', 'movingVariance'];

describe('batchNorm / batchNormTraining', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; groupSize?: number; scale?: number; shift?: number; eps?: number }> = [
    { name: 'groupSize 1', shape: [3, 3, 3, 2], groupSize: 1 },
    { name: 'groupSize 2', shape: [4, 3, 2, 3], groupSize: 2 },
    { name: 'whole batch (default)', shape: [4, 2, 2, 3] },
    { name: 'B = 1', shape: [1, 3, 3, 2] },
    { name: 'dense, groupSize 3', shape: [6, 4], groupSize: 3 },
    { name: 'dense, whole batch', shape: [5, 3] },
    { name: '1x1 maps, groupSize 2', shape: [4, 1, 1, 3], groupSize: 2 },
    { name: 'tiny magnitudes 1e-4', shape: [4, 2, 2, 3], groupSize: 2, scale: 1e-4 },
    { name: 'large magnitudes 1e3', shape: [4, 2, 2, 3], groupSize: 2, scale: 1e3 },
    { name: 'offset 1e3 with spread 1', shape: [2, 4, 4, 2], shift: 1e3, eps: 1e-5 },
  ];

  for (const v of VARIANTS) for (const [k, tc] of cases.entries()) {
    it(`${v.name}: matches the float64 reference and its finite-difference gradients: ${tc.name}`, () => onBackend(v.backend, () => {
      const C = tc.shape[tc.shape.length - 1];
      const groupSize = tc.groupSize ?? tc.shape[0];
      const eps = tc.eps ?? 1e-3;
      const x = f32(randn(tc.shape, 100 + k, tc.scale ?? 1, tc.shift ?? 0));
      const gamma = f32(randn([C], 200 + k, 0.5, 1)), beta = f32(randn([C], 300 + k, 0.5)), dy = f32(randn(tc.shape, 400 + k));
      const ref = (v: Float64Array[]) => bnReference(v[0], tc.shape, v[1], v[2], eps, groupSize);
      const ts = [x, gamma, beta].map(tensor);
      const opts = (t: tf.Tensor[]) => ({ gamma: t[1], beta: t[2], eps, groupSize: tc.groupSize });

      const out = batchNormTraining(ts[0], opts(ts));
      assertClose(values(out.y), ref([x.data, gamma.data, beta.data]), 1e-4, 'forward');
      const stats = batchGroupStats(x.data, tc.shape, groupSize);
      assert.deepEqual(out.mean.shape, [C]);
      assertClose(values(out.mean), averageOverGroups(stats.mean, C), 1e-5, 'mean');
      assertClose(values(out.variance), averageOverGroups(stats.variance, C), 1e-4, 'variance');
      tf.dispose([out.y, out.mean, out.variance]);

      const dyT = tensor(dy);
      const got = autodiffGrads((...t) => batchNorm(t[0], opts(t)), ts, dyT);
      const want = finiteDifferenceGrads(ref, [x.data, gamma.data, beta.data], dy.data);
      got.forEach((g, i) => assertClose(g, want[i], 1e-4, `d/d${GRAD_NAMES[i]}`));
      tf.dispose([...ts, dyT]);
    }, v.fused));
  }

  for (const v of VARIANTS) {
    it(`${v.name}: keeps 1e-4 accuracy for a large population with offset 1e3 and spread 1 (float32 sums)`, () => onBackend(v.backend, () => {
      const shape = [8, 32, 32, 2];
      for (const [groupSize, seed] of [[8, 1], [2, 2]]) {
        const x = f32(randn(shape, 90 + seed, 1, 1e3));
        const ones = Float64Array.of(1, 1), zeros = new Float64Array(2);
        const y = batchNorm(tensor(x), { eps: 1e-5, groupSize });
        assertClose(values(y), bnReference(x.data, shape, ones, zeros, 1e-5, groupSize), 1e-4, `groupSize ${groupSize}`);
        y.dispose();
      }
    }, v.fused));
  }

  it('depends on the other images of its normalization group, and only on those', () => {
    const a = randn([4, 3, 3, 2], 7);
    const quarter = a.data.length / 4;
    const changeImage = (b: number): tf.Tensor => {
      const data = a.data.slice();
      for (let i = b * quarter; i < (b + 1) * quarter; i++) data[i] = data[i] * 3 + 1;
      return tensor({ data, shape: a.shape });
    };
    const image = (t: tf.Tensor, b: number) => values(t).slice(b * quarter, (b + 1) * quarter);
    const base = batchNorm(tensor(a), { groupSize: 2 });
    const changed1 = batchNorm(changeImage(1), { groupSize: 2 });
    assert.notDeepEqual(image(changed1, 0), image(base, 0), 'image 0 must depend on image 1 (same group)');
    assert.deepEqual(image(changed1, 2), image(base, 2), 'image 2 must not depend on image 1 (other group)');
    assert.deepEqual(image(changed1, 3), image(base, 3), 'image 3 must not depend on image 1 (other group)');
    const whole = batchNorm(tensor(a)), changed3 = batchNorm(changeImage(3));
    assert.notDeepEqual(image(changed3, 0), image(whole, 0), 'with one group, image 0 depends on image 3');
    const single = batchNorm(tensor(a), { groupSize: 1 }), single3 = batchNorm(changeImage(3), { groupSize: 1 });
    assert.deepEqual(image(single3, 0), image(single, 0), 'groupSize 1: images are independent');
  });

  it('rejects bad input with errors naming the argument', () => {
    const x = tf.zeros([4, 3, 3, 2]);
    assert.throws(() => batchNorm(tf.zeros([2, 3, 4])), /batchNormTraining: argument 'x'.*rank 3.*expected rank 2 or 4/);
    assert.throws(() => batchNorm(x, { eps: 0 }), /argument 'eps'.*got 0/);
    assert.throws(() => batchNorm(x, { eps: -1e-3 }), /argument 'eps'/);
    assert.throws(() => batchNorm(x, { groupSize: 3 }), /argument 'groupSize'.*got 3.*divisor of the batch size 4 \(e\.g\. 1, 2, 4\)/);
    assert.throws(() => batchNorm(x, { groupSize: 0 }), /argument 'groupSize'.*got 0/);
    assert.throws(() => batchNorm(x, { groupSize: 1.5 }), /argument 'groupSize'/);
    assert.throws(() => batchNorm(tf.zeros([1, 4])), /argument 'groupSize'.*got 1.*at least 2 values per channel/);
    assert.throws(() => batchNorm(tf.zeros([2, 1, 1, 4]), { groupSize: 1 }), /argument 'groupSize'.*got 1.*1x1/);
    assert.throws(() => batchNorm(x, { gamma: tf.ones([3]) }), /argument 'gamma'.*shape \[3\].*shape \[2\]/);
    assert.throws(() => batchNorm(x, { beta: tf.ones([2, 1]) }), /argument 'beta'/);
  });

  it('leaks no tensor, forward or backward', () => {
    const x = tf.randomNormal([4, 3, 3, 2]), gamma = tf.ones([2]), beta = tf.zeros([2]);
    assertNoLeak(() => batchNorm(x, { gamma, beta, groupSize: 2 }).dispose(), 'batchNorm forward');
    assertNoLeak(() => {
      const o = batchNormTraining(x, { gamma, beta });
      tf.dispose([o.y, o.mean, o.variance]);
    }, 'batchNormTraining forward');
    assertNoLeak(() => tf.dispose(tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(batchNorm(a, { gamma: g, beta: b, groupSize: 2 })))([x, gamma, beta])), 'backward');
    const badGamma = tf.ones([5]);
    assertNoLeak(() => assert.throws(() => batchNorm(x, { groupSize: 2, gamma: badGamma })), 'failed call');
    tf.dispose([x, gamma, beta, badGamma]);
  });
});

describe('batchNormInference', () => {
  before(useCpu);

  for (const backend of BACKENDS) for (const shape of [[2, 3, 3, 4], [3, 5]]) {
    it(`${backend}: = gamma (x - movingMean) / sqrt(movingVariance + eps) + beta, with gradients, shape [${shape}]`, () => onBackend(backend, () => {
      const C = shape[shape.length - 1];
      const x = f32(randn(shape, 11, 2, 0.5)), gamma = f32(randn([C], 12, 0.5, 1)), beta = f32(randn([C], 13));
      const mm = f32(randn([C], 14)), mv = f32({ data: randn([C], 15).data.map((v) => Math.exp(v)), shape: [C] });
      const dy = f32(randn(shape, 16));
      const eps = 1e-3;
      const ref = (v: Float64Array[]) => v[0].map((e, i) => {
        const c = i % C;
        return v[1][c] * (e - v[3][c]) / Math.sqrt(v[4][c] + eps) + v[2][c];
      });
      const inputs = [x, gamma, beta, mm, mv];
      const ts = inputs.map(tensor);
      const op = (...t: tf.Tensor[]) => batchNormInference(t[0], { gamma: t[1], beta: t[2], movingMean: t[3], movingVariance: t[4], eps });
      assertClose(values(op(...ts)), ref(inputs.map((a) => a.data)), 1e-5, 'forward');
      const got = autodiffGrads(op, ts, tensor(dy));
      const want = finiteDifferenceGrads(ref, inputs.map((a) => a.data), dy.data);
      got.forEach((g, i) => assertClose(g, want[i], 1e-4, `d/d${GRAD_NAMES[i]}`));
    }));
  }

  it('is independent of the other samples and leaks nothing', () => {
    const x = randn([3, 2, 2, 2], 17);
    const other = { data: x.data.map((v, i) => (i < x.data.length / 3 ? v : v * 5 - 2)), shape: x.shape };
    const mm = tf.tensor1d([0.5, -1]), mv = tf.tensor1d([2, 0.25]);
    const first = (a: Arr) => values(batchNormInference(tensor(a), { movingMean: mm, movingVariance: mv })).slice(0, x.data.length / 3);
    assert.deepEqual(first(other), first(x));
    const xt = tensor(x);
    assertNoLeak(() => batchNormInference(xt, { movingMean: mm, movingVariance: mv }).dispose(), 'forward');
    assertNoLeak(() => tf.grad((a: tf.Tensor) => tf.sum(batchNormInference(a, { movingMean: mm, movingVariance: mv })))(xt).dispose(), 'backward');
    tf.dispose([xt, mm, mv]);
  });

  it('rejects missing or misshapen moving statistics', () => {
    const x = tf.zeros([2, 3]);
    assert.throws(() => batchNormInference(x, { movingMean: tf.zeros([3]) } as never), /batchNormInference: argument 'movingVariance'.*required/);
    assert.throws(() => batchNormInference(x, { movingMean: tf.zeros([2]), movingVariance: tf.ones([3]) }), /argument 'movingMean'.*shape \[2\].*shape \[3\]/);
    assert.throws(() => batchNormInference(x, undefined as never), /argument 'options'/);
    assert.throws(() => batchNormInference(x, { movingMean: tf.zeros([3]), movingVariance: tf.ones([3]), eps: 0 }), /argument 'eps'/);
  });
});

describe('batchRenormTraining', () => {
  before(useCpu);

  const renormCase = (shape: number[], seed: number) => {
    const C = shape[shape.length - 1];
    return {
      x: f32(randn(shape, seed, 1.5, 0.3)),
      gamma: f32(randn([C], seed + 1, 0.5, 1)),
      beta: f32(randn([C], seed + 2, 0.5)),
      mm: f32(randn([C], seed + 3, 1)),
      mv: f32({ data: randn([C], seed + 4, 1.5).data.map((v) => Math.exp(v)), shape: [C] }),
      dy: f32(randn(shape, seed + 5)),
    };
  };

  for (const backend of BACKENDS) for (const tc of [
    { name: 'conv map, groupSize 2, clips active', shape: [4, 3, 3, 3], groupSize: 2, rMax: 1.5, dMax: 0.5 },
    { name: 'dense, whole batch, clips active', shape: [6, 4], groupSize: undefined, rMax: 1.2, dMax: 0.25 },
    { name: 'conv map, wide clips', shape: [2, 3, 3, 2], groupSize: 1, rMax: 100, dMax: 100 },
  ]) {
    it(`${backend}: matches the float64 reference; gradients treat r and d as constants: ${tc.name}`, () => onBackend(backend, () => {
      const { x, gamma, beta, mm, mv, dy } = renormCase(tc.shape, 50);
      const eps = 1e-3;
      const groupSize = tc.groupSize ?? tc.shape[0];
      const base = renormReference(x.data, tc.shape, gamma.data, beta.data, eps, groupSize, mm.data, mv.data, tc.rMax, tc.dMax);
      if (tc.rMax < 10) {
        // Make sure the test exercises the clipping it claims to.
        assert.ok(base.r.some((v) => Math.abs(v - tc.rMax) < 1e-12 || Math.abs(v - 1 / tc.rMax) < 1e-12), 'some r is clipped');
        assert.ok(base.d.some((v) => Math.abs(Math.abs(v) - tc.dMax) < 1e-12), 'some d is clipped');
      }
      const ts = [x, gamma, beta, mm, mv].map(tensor);
      const opts = (t: tf.Tensor[]) => ({ gamma: t[1], beta: t[2], movingMean: t[3], movingVariance: t[4], eps, groupSize: tc.groupSize, rMax: tc.rMax, dMax: tc.dMax });
      const out = batchRenormTraining(ts[0], opts(ts));
      assertClose(values(out.y), base.y, 1e-4, 'forward');
      assert.deepEqual(out.r.shape, [tc.shape[0] / groupSize, tc.shape[tc.shape.length - 1]]);
      assertClose(values(out.r), base.r, 1e-5, 'r');
      assertClose(values(out.d), base.d, 1e-5, 'd');
      const stats = batchGroupStats(x.data, tc.shape, groupSize);
      assertClose(values(out.mean), averageOverGroups(stats.mean, tc.shape[tc.shape.length - 1]), 1e-5, 'mean');
      tf.dispose([out.y, out.mean, out.variance, out.r, out.d]);

      const dyT = tensor(dy);
      const got = autodiffGrads((...t) => batchRenormTraining(t[0], opts(t)).y, ts, dyT);
      const frozen = (v: Float64Array[]) => renormReference(v[0], tc.shape, v[1], v[2], eps, groupSize, mm.data, mv.data, tc.rMax, tc.dMax, base).y;
      const want = finiteDifferenceGrads(frozen, [x.data, gamma.data, beta.data], dy.data);
      want.forEach((w, i) => assertClose(got[i], w, 1e-4, `d/d${GRAD_NAMES[i]}`));
      // The moving statistics enter only through r and d: no gradient reaches them.
      assert.ok(got[3].every((v) => v === 0) && got[4].every((v) => v === 0), 'no gradient through r and d');
      tf.dispose([...ts, dyT]);
    }));
  }

  it('with rMax = 1, dMax = 0 is batchNorm, forward and backward', () => {
    const { x, gamma, beta, mm, mv, dy } = renormCase([4, 2, 2, 3], 60);
    const ts = [x, gamma, beta].map(tensor);
    const [mmT, mvT] = [mm, mv].map(tensor);
    const renorm = (...t: tf.Tensor[]) => batchRenormTraining(t[0], { gamma: t[1], beta: t[2], movingMean: mmT, movingVariance: mvT, rMax: 1, dMax: 0, groupSize: 2 }).y;
    const bn = (...t: tf.Tensor[]) => batchNorm(t[0], { gamma: t[1], beta: t[2], groupSize: 2 });
    assertClose(values(renorm(...ts)), values(bn(...ts)), 1e-6, 'forward');
    const a = autodiffGrads(renorm, ts, tensor(dy)), b = autodiffGrads(bn, ts, tensor(dy));
    a.forEach((g, i) => assertClose(g, b[i], 1e-5, `d/d${GRAD_NAMES[i]}`));
  });

  it('with inactive clips and one group, its forward pass equals inference with the moving statistics', () => {
    const { x, gamma, beta, mm, mv } = renormCase([3, 3, 3, 2], 70);
    const [xt, g, b, m, v] = [x, gamma, beta, mm, mv].map(tensor);
    const y = batchRenormTraining(xt, { gamma: g, beta: b, movingMean: m, movingVariance: v, rMax: 1e6, dMax: 1e6 }).y;
    assertClose(values(y), values(batchNormInference(xt, { gamma: g, beta: b, movingMean: m, movingVariance: v })), 1e-4, 'forward');
  });

  it('rejects bad clips and missing moving statistics, and leaks nothing', () => {
    const x = tf.randomNormal([4, 2, 2, 2]), mm = tf.zeros([2]), mv = tf.ones([2]);
    assert.throws(() => batchRenormTraining(x, { movingMean: mm, movingVariance: mv, rMax: 0.5, dMax: 1 }), /batchRenormTraining: argument 'rMax'.*got 0\.5.*>= 1/);
    assert.throws(() => batchRenormTraining(x, { movingMean: mm, movingVariance: mv, rMax: 2, dMax: -1 }), /argument 'dMax'.*got -1/);
    assert.throws(() => batchRenormTraining(x, { movingVariance: mv, rMax: 2, dMax: 1 } as never), /argument 'movingMean'.*required/);
    assert.throws(() => batchRenormTraining(x, { movingMean: mm, movingVariance: mv, rMax: 2, dMax: 1, groupSize: 3 }), /argument 'groupSize'/);
    const opts = { movingMean: mm, movingVariance: mv, rMax: 2, dMax: 1, groupSize: 2 };
    assertNoLeak(() => {
      const o = batchRenormTraining(x, opts);
      tf.dispose([o.y, o.mean, o.variance, o.r, o.d]);
    }, 'forward');
    assertNoLeak(() => tf.grad((a: tf.Tensor) => tf.sum(batchRenormTraining(a, opts).y))(x).dispose(), 'backward');
    tf.dispose([x, mm, mv]);
  });
});

describe('batchRenormClipSchedule', () => {
  it('ramps rMax 1 → 3 and dMax 0 → 5 linearly over the warm-up', () => {
    assert.deepEqual(batchRenormClipSchedule(0, { warmupSteps: 100 }), { rMax: 1, dMax: 0 });
    assert.deepEqual(batchRenormClipSchedule(50, { warmupSteps: 100 }), { rMax: 2, dMax: 2.5 });
    assert.deepEqual(batchRenormClipSchedule(100, { warmupSteps: 100 }), { rMax: 3, dMax: 5 });
    assert.deepEqual(batchRenormClipSchedule(1e6, { warmupSteps: 100 }), { rMax: 3, dMax: 5 });
    assert.deepEqual(batchRenormClipSchedule(25, { warmupSteps: 100, rMaxFinal: 5, dMaxFinal: 8 }), { rMax: 2, dMax: 2 });
    assert.deepEqual(batchRenormClipSchedule(0, { warmupSteps: 0 }), { rMax: 3, dMax: 5 });
  });

  it('holds plain BN for holdSteps, then ramps', () => {
    assert.deepEqual(batchRenormClipSchedule(10, { warmupSteps: 20, holdSteps: 10 }), { rMax: 1, dMax: 0 });
    assert.deepEqual(batchRenormClipSchedule(20, { warmupSteps: 20, holdSteps: 10 }), { rMax: 2, dMax: 2.5 });
    assert.deepEqual(batchRenormClipSchedule(9, { warmupSteps: 0, holdSteps: 10 }), { rMax: 1, dMax: 0 });
  });

  it('rejects bad arguments', () => {
    assert.throws(() => batchRenormClipSchedule(-1, { warmupSteps: 10 }), /batchRenormClipSchedule: argument 'step'/);
    assert.throws(() => batchRenormClipSchedule(1, { warmupSteps: -10 }), /argument 'warmupSteps'/);
    assert.throws(() => batchRenormClipSchedule(1, { warmupSteps: 10, rMaxFinal: 0.5 }), /argument 'rMaxFinal'/);
    assert.throws(() => batchRenormClipSchedule(1, { warmupSteps: 10, dMaxFinal: -1 }), /argument 'dMaxFinal'/);
  });
});

describe('stopGradient', () => {
  before(useCpu);

  it('is the identity forward and blocks the gradient', () => {
    const x = tf.tensor1d([1, -2, 3]);
    assert.deepEqual(Array.from(stopGradient(x).dataSync()), [1, -2, 3]);
    // d/dx [x * stop(x)] = stop(x) only.
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(a, stopGradient(a))))(x);
    assert.deepEqual(Array.from(g.dataSync()), [1, -2, 3]);
    assertNoLeak(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(a, stopGradient(a))))(x).dispose(), 'backward');
    x.dispose();
  });
});

describe('movingAverage', () => {
  before(useCpu);

  for (const v of VARIANTS) {
    it(`${v.name}: moving · m + value · (1 - m) in float32, with a zero gradient, leaking nothing`, async () => {
      await onBackend(v.backend, () => {
        const a = randn([37], 1, 2, 0.5), b = randn([37], 2, 3, -1);
        for (const m of [0.99, 0.9, 0, 1]) {
          const moving = tensor(a), value = tensor(b);
          const got = values(movingAverage(moving, value, m));
          const want = a.data.map((x, i) => Math.fround(x) * m + Math.fround(b.data[i]) * (1 - m));
          assertClose(got, want, 1e-6, `momentum ${m}`);
          const g = tf.grad((t: tf.Tensor) => tf.sum(movingAverage(moving, t, m)))(value);
          assert.ok(values(g).every((x) => x === 0), 'no gradient');
          tf.dispose([moving, value, g]);
        }
        const moving = tensor(a), value = tensor(b);
        assertNoLeak(() => tf.dispose(movingAverage(moving, value, 0.5)), v.name);
        tf.dispose([moving, value]);
      }, v.fused);
    });
  }
});
