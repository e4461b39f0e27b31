import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../../src/engine.js';
import { fusedConfig, fusedKernelsActive, fusedNorm, FusedNormKernel } from '../../../src/kernels/fused/index.js';
import { simdFor } from '../../../src/kernels/fused/simd_module.js';
import { wasmMemoryOf } from '../../../src/kernels/fused/kernels.js';
import { filterResponseNorm, filterResponseNormTlu, tlu } from '../../../src/ops/filter_response_norm.js';
import { groupNorm, groupResponseNorm, instanceNorm, layerNorm, layerResponseNorm } from '../../../src/ops/group_norm.js';
import { batchNormTraining } from '../../../src/ops/batch_norm.js';
import { Arr, assertClose, autodiffGrads, finiteDifferenceGrads, randn, tensor, values } from '../../helpers.js';

/** Independent float64 reference: per unit of `unitRows` rows and group of C/G channels, two-pass moments. */
interface RefOptions { groups: number; unitRows: number; center: boolean; eps: number }
function normReference(x: Float64Array, shape: number[], o: RefOptions, gamma: Float64Array, beta: Float64Array, tau: Float64Array | null, learnedEps: number) {
  const C = shape[shape.length - 1], G = o.groups, perGroup = C / G, L = o.unitRows * C, U = x.length / L;
  const y = new Float64Array(x.length), mean = new Float64Array(U * G), variance = new Float64Array(U * G), rstd = new Float64Array(U * G);
  for (let u = 0; u < U; u++) {
    for (let g = 0; g < G; g++) {
      const idx: number[] = [];
      for (let r = 0; r < o.unitRows; r++) for (let c = g * perGroup; c < (g + 1) * perGroup; c++) idx.push(u * L + r * C + c);
      let mu = 0;
      if (o.center) mu = idx.reduce((s, i) => s + x[i], 0) / idx.length;
      const v = idx.reduce((s, i) => s + (x[i] - mu) ** 2, 0) / idx.length;
      const inv = 1 / Math.sqrt(v + o.eps + Math.abs(learnedEps));
      mean[u * G + g] = mu;
      variance[u * G + g] = v;
      rstd[u * G + g] = inv;
      for (const i of idx) {
        const c = i % C;
        const val = gamma[c] * (x[i] - mu) * inv + beta[c];
        y[i] = tau === null ? val : Math.max(val, tau[c]);
      }
    }
  }
  return { y, mean, variance, rstd };
}

interface NormCase {
  name: string; kernel: FusedNormKernel; shape: number[]; groups: number; unitRows: number; center: boolean; eps: number;
  tau?: boolean; learnedEps?: number; scale?: number; offset?: number; relStep?: number;
}

const CASES: NormCase[] = [
  { name: 'FRN+TLU, learned eps', kernel: 'BatchfreeFrnTlu', shape: [2, 5, 3, 8], groups: 8, unitRows: 15, center: false, eps: 1e-6, tau: true, learnedEps: 1e-4 },
  { name: 'FRN+TLU, B = 1, 1x1 map', kernel: 'BatchfreeFrnTlu', shape: [1, 1, 1, 12], groups: 12, unitRows: 1, center: false, eps: 1e-6, tau: true, learnedEps: 1e-4 },
  { name: 'FRN, dense [B,C], odd C', kernel: 'BatchfreeFrnTlu', shape: [4, 7], groups: 7, unitRows: 1, center: false, eps: 1e-6, learnedEps: 2e-4 },
  { name: 'FRN+TLU, magnitudes 1e-4', kernel: 'BatchfreeFrnTlu', shape: [2, 3, 3, 4], groups: 4, unitRows: 9, center: false, eps: 1e-10, tau: true, scale: 1e-4 },
  { name: 'FRN+TLU, magnitudes 1e3', kernel: 'BatchfreeFrnTlu', shape: [2, 3, 3, 4], groups: 4, unitRows: 9, center: false, eps: 1e-6, tau: true, scale: 1e3 },
  { name: 'GFRN, 2 groups, odd map', kernel: 'BatchfreeFrnTlu', shape: [2, 3, 5, 6], groups: 2, unitRows: 15, center: false, eps: 1e-6, learnedEps: 1e-4 },
  { name: 'GroupNorm, 3 groups', kernel: 'BatchfreeGroupNorm', shape: [2, 4, 3, 12], groups: 3, unitRows: 12, center: true, eps: 1e-5 },
  { name: 'LayerNorm, odd C (tail of a period)', kernel: 'BatchfreeGroupNorm', shape: [3, 3, 3, 5], groups: 1, unitRows: 9, center: true, eps: 1e-5 },
  { name: 'InstanceNorm, B = 1', kernel: 'BatchfreeGroupNorm', shape: [1, 3, 5, 4], groups: 4, unitRows: 15, center: true, eps: 1e-5 },
  { name: 'GroupNorm, dense [B,C]', kernel: 'BatchfreeGroupNorm', shape: [3, 10], groups: 2, unitRows: 1, center: true, eps: 1e-5 },
  { name: 'BatchNorm, groups of 2 images', kernel: 'BatchfreeBatchNorm', shape: [4, 3, 2, 8], groups: 8, unitRows: 12, center: true, eps: 1e-3 },
  { name: 'BatchNorm, dense, C = 6', kernel: 'BatchfreeBatchNorm', shape: [6, 6], groups: 6, unitRows: 3, center: true, eps: 1e-3 },
  { name: 'GroupNorm + TLU (centred variant with threshold)', kernel: 'BatchfreeGroupNorm', shape: [2, 3, 4, 8], groups: 2, unitRows: 12, center: true, eps: 1e-5, tau: true },
  // Three or more units run the paired loops (a unit's output with the next unit's sums) more than once.
  { name: 'FRN+TLU, 4 samples, tail of a period', kernel: 'BatchfreeFrnTlu', shape: [4, 3, 5, 6], groups: 6, unitRows: 15, center: false, eps: 1e-6, tau: true },
  // C a multiple of 4 and a statistic per channel: FRN's one-pass per-unit path (norm_core.ts), with and without TLU.
  { name: 'FRN+TLU, 3 samples, C = 8', kernel: 'BatchfreeFrnTlu', shape: [3, 4, 5, 8], groups: 8, unitRows: 20, center: false, eps: 1e-6, tau: true, learnedEps: 1e-4 },
  { name: 'FRN, 3 samples, C = 8', kernel: 'BatchfreeFrnTlu', shape: [3, 3, 5, 8], groups: 8, unitRows: 15, center: false, eps: 1e-6 },
  { name: 'GroupNorm + TLU, 3 samples', kernel: 'BatchfreeGroupNorm', shape: [3, 3, 4, 8], groups: 2, unitRows: 12, center: true, eps: 1e-5, tau: true },
  { name: 'GroupNorm, offset 1e3 and spread 1e-2', kernel: 'BatchfreeGroupNorm', shape: [2, 3, 3, 8], groups: 4, unitRows: 9, center: true, eps: 1e-8, scale: 1e-2, offset: 1e3, relStep: 1e-9 },
];

const CONFIGS = [
  { backend: 'cpu', simd: true }, { backend: 'wasm', simd: true }, { backend: 'cpu', simd: false }, { backend: 'wasm', simd: false },
] as const;

async function useBackend(name: string): Promise<void> {
  await tf.setBackend(name);
  await tf.ready();
}

describe('fused normalization kernels against a float64 reference and its finite-difference gradients', () => {
  after(() => { fusedConfig.simd = true; fusedConfig.enabled = true; });

  it('the SIMD loops compile and instantiate on the wasm heap and on a private memory', async () => {
    await useBackend('wasm');
    const memory = wasmMemoryOf(tf.backend());
    assert.ok(memory !== null, 'wasm heap not found');
    assert.ok(simdFor(memory) !== null, 'SIMD module failed on the wasm heap');
    assert.ok(simdFor(new WebAssembly.Memory({ initial: 1 })) !== null, 'SIMD module failed on a private memory');
    assert.equal(fusedKernelsActive(), true);
  });

  for (const cfg of CONFIGS) {
    for (const [k, tc] of CASES.entries()) {
      it(`${cfg.backend}${cfg.simd ? '' : ' (JavaScript loops)'}: ${tc.name}`, async () => {
        await useBackend(cfg.backend);
        fusedConfig.simd = cfg.simd;
        const C = tc.shape[tc.shape.length - 1];
        const units = tc.shape.reduce((a, b) => a * b, 1) / (tc.unitRows * C);
        const x = randn(tc.shape, 100 + k, tc.scale ?? 1, tc.offset ?? 0);
        x.data = Float64Array.from(Float32Array.from(x.data)); // the reference sees the float32 input the kernel sees
        const gamma = randn([C], 200 + k, 0.5, 1), beta = randn([C], 300 + k, 0.5), tau = randn([C], 400 + k, 0.5);
        const dy = randn(tc.shape, 500 + k);
        // Weights of the statistics outputs scaled to the size of each (mean ~ x, variance ~ x^2, rstd ~ 1/x), so
        // that no term of the objective swamps the finite differences of the others.
        const sx = tc.scale ?? 1, sm = Math.abs(tc.offset ?? 0) + sx;
        const dStats = [1 / sm, 1 / (sx * sx), sx].map((w, s) => randn([units, tc.groups], 600 + 10 * k + s, w));
        const inputs: Arr[] = [x, gamma, beta];
        if (tc.tau) inputs.push(tau);
        if (tc.learnedEps !== undefined) inputs.push({ data: Float64Array.of(tc.learnedEps), shape: [] });
        const ref = (xs: Float64Array[]) => normReference(xs[0], tc.shape, tc, xs[1], xs[2], tc.tau ? xs[3] : null,
          tc.learnedEps === undefined ? 0 : xs[inputs.length - 1][0]);
        // Objective: y·dy + mean·dm + variance·dv + rstd·dr, so that gradients through every output are checked.
        const flat = (xs: Float64Array[]) => {
          const r = ref(xs);
          const out = new Float64Array(r.y.length + 3 * r.mean.length);
          out.set(r.y);
          out.set(r.mean, r.y.length);
          out.set(r.variance, r.y.length + r.mean.length);
          out.set(r.rstd, r.y.length + 2 * r.mean.length);
          return out;
        };
        const weights = new Float64Array(dy.data.length + 3 * units * tc.groups);
        weights.set(dy.data);
        dStats.forEach((d, s) => weights.set(d.data, dy.data.length + s * d.data.length));

        const ts = inputs.map(tensor);
        const run = (...t: tf.Tensor[]) => fusedNorm(tc.kernel, t[0], {
          groups: tc.groups, unitRows: tc.unitRows, center: tc.center, eps: tc.eps, gamma: t[1], beta: t[2],
          tau: tc.tau ? t[3] : undefined, learnedEps: tc.learnedEps === undefined ? undefined : t[inputs.length - 1],
        });
        const got = run(...ts);
        const want = ref(inputs.map((a) => a.data));
        assertClose(values(got.y), want.y, 1e-4, 'y');
        assertClose(values(got.mean), want.mean, 1e-5, 'mean');
        assertClose(values(got.variance), want.variance, 1e-4, 'variance');
        assertClose(values(got.rstd), want.rstd, 1e-4, 'rstd');
        assert.deepEqual(got.mean.shape, [units, tc.groups]);
        tf.dispose([got.y, got.mean, got.variance, got.rstd]);

        const [dyT, ...dsT] = [dy, ...dStats].map(tensor);
        const objective = (...t: tf.Tensor[]) => {
          const r = run(...t);
          return tf.addN([tf.sum(tf.mul(r.y, dyT)), tf.sum(tf.mul(r.mean, dsT[0])), tf.sum(tf.mul(r.variance, dsT[1])), tf.sum(tf.mul(r.rstd, dsT[2]))]);
        };
        const one = tf.scalar(1);
        const grads = autodiffGrads(objective, ts, one);
        one.dispose();
        const fd = finiteDifferenceGrads(flat, inputs.map((a) => a.data), weights, tc.relStep);
        const names = ['x', 'gamma', 'beta', ...(tc.tau ? ['tau'] : []), ...(tc.learnedEps === undefined ? [] : ['learnedEps'])];
        names.forEach((name, i) => assertClose(grads[i], fd[i], 1e-4, `d/d${name}`));
        tf.dispose([...ts, dyT, ...dsT]);
      });
    }
  }
});

/** The ops with fused kernels, each as `(x, params) => outputs`, with their parameter shapes. */
interface OpCase {
  name: string; shape: number[]; params: Array<{ name: string; scalar?: boolean; scale?: number; shift?: number }>;
  op: (x: tf.Tensor, p: tf.Tensor[]) => tf.Tensor[];
}
const gb = [{ name: 'gamma', scale: 0.5, shift: 1 }, { name: 'beta', scale: 0.5 }];
const OPS: OpCase[] = [
  { name: 'filterResponseNormTlu = tlu(filterResponseNorm)', shape: [2, 16, 16, 16], params: [...gb, { name: 'tau', scale: 0.3 }, { name: 'learnedEps', scalar: true }],
    op: (x, [g, b, t, e]) => [fusedConfig.enabled
      ? filterResponseNormTlu(x, { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, tau: t as tf.Tensor1D, learnedEps: e })
      : tlu(filterResponseNorm(x, { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, learnedEps: e }), t)] },
  { name: 'filterResponseNorm, 1x1 map, odd C', shape: [3, 1, 1, 9], params: [...gb, { name: 'learnedEps', scalar: true }],
    op: (x, [g, b, e]) => [filterResponseNorm(x, { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, learnedEps: e })] },
  { name: 'groupNorm(8)', shape: [2, 12, 12, 32], params: gb, op: (x, [g, b]) => [groupNorm(x, { groups: 8, gamma: g, beta: b })] },
  { name: 'layerNorm, odd sizes', shape: [3, 5, 7, 6], params: gb, op: (x, [g, b]) => [layerNorm(x, { gamma: g, beta: b })] },
  { name: 'instanceNorm', shape: [2, 9, 9, 12], params: gb, op: (x, [g, b]) => [instanceNorm(x, { gamma: g, beta: b })] },
  { name: 'groupResponseNorm / layerResponseNorm', shape: [2, 6, 6, 8], params: [...gb, { name: 'learnedEps', scalar: true }],
    op: (x, [g, b, e]) => [groupResponseNorm(x, { groups: 4, gamma: g, beta: b, learnedEps: e }), layerResponseNorm(x, { gamma: g, beta: b, learnedEps: e })] },
  { name: 'batchNormTraining, groups of 2 images (y, mean, variance)', shape: [4, 8, 8, 20], params: gb,
    op: (x, [g, b]) => { const r = batchNormTraining(x, { groupSize: 2, gamma: g, beta: b }); return [r.y, r.mean, r.variance]; } },
  { name: 'batchNormTraining, dense', shape: [16, 12], params: gb,
    op: (x, [g, b]) => { const r = batchNormTraining(x, { gamma: g, beta: b }); return [r.y, r.mean, r.variance]; } },
  // relu: the fused kernels' TLU slot with tau = 0 against tf.relu of the composite output
  { name: 'batchNormTraining with relu, groups of 2 images', shape: [4, 8, 8, 20], params: gb,
    op: (x, [g, b]) => { const r = batchNormTraining(x, { groupSize: 2, gamma: g, beta: b, relu: true }); return [r.y, r.mean, r.variance]; } },
  { name: 'groupNorm(4) / layerNorm / instanceNorm with relu', shape: [2, 7, 9, 12], params: gb,
    op: (x, [g, b]) => [groupNorm(x, { groups: 4, gamma: g, beta: b, relu: true }), layerNorm(x, { gamma: g, beta: b, relu: true }), instanceNorm(x, { gamma: g, beta: b, relu: true })] },
];

describe('ops: fused path against the composite path', () => {
  after(() => { fusedConfig.enabled = true; });

  for (const backend of ['cpu', 'wasm']) {
    for (const [k, tc] of OPS.entries()) {
      it(`${backend}: ${tc.name}: outputs and gradients of x and every parameter`, async () => {
        await useBackend(backend);
        const C = tc.shape[tc.shape.length - 1];
        const x = tensor(randn(tc.shape, 700 + k, 2, 0.5));
        const params = tc.params.map((p, i) => (p.scalar ? tf.scalar(1e-4) : tensor(randn([C], 800 + 10 * k + i, p.scale ?? 1, p.shift ?? 0))));
        const outs = (on: boolean) => {
          fusedConfig.enabled = on;
          const ys = tc.op(x, params);
          const dys = ys.map((y, i) => tensor(randn(y.shape, 900 + i)));
          const loss = (...t: tf.Tensor[]) => tf.addN(tc.op(t[0], t.slice(1)).map((y, i) => tf.sum(tf.mul(y, dys[i]))));
          const one = tf.scalar(1);
          const grads = autodiffGrads(loss, [x, ...params], one);
          const r = { ys: ys.map(values), grads };
          tf.dispose([...ys, ...dys, one]);
          fusedConfig.enabled = true;
          return r;
        };
        const fused = outs(true), composite = outs(false);
        fused.ys.forEach((y, i) => assertClose(y, composite.ys[i], 1e-4, `output ${i}`));
        ['x', ...tc.params.map((p) => p.name)].forEach((name, i) => assertClose(fused.grads[i], composite.grads[i], 1e-4, `d/d${name}`));
        tf.dispose([x, ...params]);
      });
    }
  }

  it('the ops run the fused kernels on cpu and wasm (one kernel forward)', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await useBackend(backend);
      const x = tf.randomNormal([2, 4, 4, 8]);
      const tau = tf.zeros([8]) as tf.Tensor1D;
      const cases: Array<[string, () => tf.Tensor]> = [
        ['BatchfreeFrnTlu', () => filterResponseNormTlu(x, { tau })],
        ['BatchfreeGroupNorm', () => groupNorm(x, { groups: 2 })],
        ['BatchfreeBatchNorm', () => batchNormTraining(x).y],
        ['BatchfreeBatchNorm', () => batchNormTraining(x, { relu: true }).y],
        ['BatchfreeGroupNorm', () => layerNorm(x, { relu: true })],
      ];
      for (const [kernel, f] of cases) {
        const profile = await tf.profile(() => f());
        assert.ok(profile.kernelNames.includes(kernel), `${backend}: ${kernel} not run (${profile.kernelNames.join(', ')})`);
        assert.ok(!profile.kernelNames.includes('Rsqrt'), `${backend}: composite ops ran too`);
        assert.ok(!profile.kernelNames.includes('Relu'), `${backend}: a separate ReLU ran`);
      }
      tf.dispose([x, tau]);
    }
  });
});

describe('fused kernels: properties', () => {
  it('FRN+TLU and GroupNorm are independent of the other samples of the batch', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await useBackend(backend);
      const a = randn([3, 5, 5, 8], 1);
      const b = { data: a.data.slice(), shape: a.shape };
      for (let i = a.data.length / 3; i < a.data.length; i++) b.data[i] = b.data[i] * 7 - 3;
      for (const f of [(t: tf.Tensor) => filterResponseNormTlu(t), (t: tf.Tensor) => groupNorm(t, { groups: 4 })]) {
        const [ya, yb] = [tensor(a), tensor(b)].map(f);
        assert.deepEqual(values(ya).slice(0, a.data.length / 3), values(yb).slice(0, a.data.length / 3));
        tf.dispose([ya, yb]);
      }
    }
  });

  it('FRN+TLU is invariant to a positive scaling of each sample', async () => {
    await useBackend('wasm');
    const x = randn([2, 4, 4, 8], 2);
    const y1 = values(filterResponseNormTlu(tensor(x), { eps: 1e-12 }));
    const y2 = values(filterResponseNormTlu(tensor({ data: x.data.map((v) => v * 37), shape: x.shape }), { eps: 1e-12 }));
    assertClose(y2, y1, 1e-5, 'scaled');
  });

  it('SIMD and JavaScript loops agree on a tensor with several reduction chunks per unit', async () => {
    await useBackend('wasm');
    const x = tensor(randn([2, 24, 24, 12], 3));
    const dy = tensor(randn([2, 24, 24, 12], 4));
    const norm = (t: tf.Tensor) => fusedNorm('BatchfreeGroupNorm', t, { groups: 3, unitRows: 576, center: true, eps: 1e-5 });
    const run = (): Float64Array[] => {
      const r = norm(x);
      const y = values(r.y);
      tf.dispose([r.y, r.mean, r.variance, r.rstd]);
      return [y, autodiffGrads((t) => norm(t).y, [x], dy)[0]];
    };
    const [ySimd, gSimd] = run();
    fusedConfig.simd = false;
    const [yJs, gJs] = run();
    fusedConfig.simd = true;
    assertClose(ySimd, yJs, 1e-6, 'y');
    assertClose(gSimd, gJs, 1e-5, 'dx');
    tf.dispose([x, dy]);
  });

  it('leaks no tensor and no backend buffer, forward or backward', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await useBackend(backend);
      const x = tf.randomNormal([2, 3, 3, 8]);
      const g = tf.ones([8]), b = tf.zeros([8]), t = tf.zeros([8]), e = tf.scalar(1e-4);
      const forward = () => filterResponseNormTlu(x, { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, tau: t as tf.Tensor1D, learnedEps: e }).dispose();
      const backward = () => tf.dispose(tf.grads((...a: tf.Tensor[]) => tf.sum(filterResponseNormTlu(a[0],
        { gamma: a[1] as tf.Tensor1D, beta: a[2] as tf.Tensor1D, tau: a[3] as tf.Tensor1D, learnedEps: a[4] })))([x, g, b, t, e]));
      const bn = () => tf.dispose(tf.grads((a: tf.Tensor) => tf.sum(batchNormTraining(a).variance))([x]));
      for (const [label, f] of [['forward', forward], ['backward', backward], ['statistics gradient', bn]] as const) {
        f(); // warm-up: lazily created backend state
        const tensors = tf.memory().numTensors, buffers = tf.backend().numDataIds();
        f();
        assert.equal(tf.memory().numTensors, tensors, `${backend} ${label}: leaked tensors`);
        assert.equal(tf.backend().numDataIds(), buffers, `${backend} ${label}: leaked backend buffers`);
      }
      tf.dispose([x, g, b, t, e]);
    }
  });

  it('rejects bad input with errors naming the argument', async () => {
    await useBackend('wasm');
    assert.throws(() => filterResponseNormTlu(tf.zeros([2, 3, 4])), /filterResponseNormTlu: argument 'x'.*rank 3/);
    assert.throws(() => filterResponseNormTlu(tf.zeros([2, 3, 3, 4]), { tau: tf.zeros([3]) as tf.Tensor1D }), /filterResponseNormTlu: argument 'tau'.*shape \[3\].*shape \[4\]/);
    assert.throws(() => filterResponseNormTlu(tf.zeros([2, 3, 3, 4]), { eps: 0 }), /argument 'eps'.*got 0/);
    assert.throws(() => filterResponseNormTlu(tf.zeros([2, 4]), { learnedEps: tf.ones([2]) }), /argument 'learnedEps'/);
  });
});
