import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import {
  ConstantScale, GroupedConv2D, SkipGain, SqueezeExcite, StochasticDepth, groupedConv2d, nfExpectedVariances,
} from '../../src/models/nf_layers.js';
import { assertClose, assertNoLeak, autodiffGrads, finiteDifferenceGrads, randn, tensor, useCpu, values } from '../helpers.js';
import { wsReference } from '../ops/references.js';

/** TF/Keras 'same' padding: total padding and the part before. */
function samePad(n: number, k: number, s: number): number {
  const out = Math.ceil(n / s);
  return Math.floor(Math.max((out - 1) * s + k - n, 0) / 2);
}

/**
 * Naive float64 grouped convolution, NHWC, kernel [k,k,cin/groups,cout]: output channel o belongs to group
 * g = floor(o / (cout/groups)) and sums over the input channels g*cin/groups .. (g+1)*cin/groups - 1.
 */
function groupedConvReference(x: Float64Array, xs: number[], w: Float64Array, ws: number[], groups: number, stride: number, padding: 'same' | 'valid'): { y: Float64Array; shape: number[] } {
  const [B, H, W, C] = xs;
  const [k, , cinG, O] = ws;
  const outG = O / groups;
  const OH = padding === 'same' ? Math.ceil(H / stride) : Math.ceil((H - k + 1) / stride);
  const OW = padding === 'same' ? Math.ceil(W / stride) : Math.ceil((W - k + 1) / stride);
  const ph = padding === 'same' ? samePad(H, k, stride) : 0, pw = padding === 'same' ? samePad(W, k, stride) : 0;
  const y = new Float64Array(B * OH * OW * O);
  for (let b = 0; b < B; b++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let o = 0; o < O; o++) {
    const g = Math.floor(o / outG);
    let acc = 0;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      const h = oh * stride + i - ph, ww = ow * stride + j - pw;
      if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
      for (let c = 0; c < cinG; c++) {
        acc += x[((b * H + h) * W + ww) * C + g * cinG + c] * w[((i * k + j) * cinG + c) * O + o];
      }
    }
    y[((b * OH + oh) * OW + ow) * O + o] = acc;
  }
  void C;
  return { y, shape: [B, OH, OW, O] };
}

async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  return tfl.loadLayersModel(tf.io.fromMemory(saved!));
}

describe('groupedConv2d', () => {
  before(useCpu);

  const cases = [
    { groups: 1, stride: 1, padding: 'same' as const, cin: 4, cout: 6 },
    { groups: 2, stride: 1, padding: 'same' as const, cin: 4, cout: 6 },
    { groups: 2, stride: 2, padding: 'same' as const, cin: 4, cout: 4 },
    { groups: 4, stride: 2, padding: 'valid' as const, cin: 8, cout: 4 },
    { groups: 3, stride: 1, padding: 'valid' as const, cin: 3, cout: 3 }, // depthwise
  ];
  for (const [n, tc] of cases.entries()) {
    it(`matches a naive float64 grouped convolution and its gradients: groups ${tc.groups}, stride ${tc.stride}, ${tc.padding}`, () => {
      const xs = [2, 5, 5, tc.cin], ws = [3, 3, tc.cin / tc.groups, tc.cout];
      const x = randn(xs, 100 + n), w = randn(ws, 200 + n, 0.5);
      const ref = groupedConvReference(x.data, xs, w.data, ws, tc.groups, tc.stride, tc.padding);
      const op = (a: tf.Tensor, k: tf.Tensor) => groupedConv2d(a as tf.Tensor4D, k as tf.Tensor4D, tc.groups, tc.stride, tc.padding);
      const [xt, wt] = [tensor(x), tensor(w)];
      const y = op(xt, wt);
      assert.deepEqual(y.shape, ref.shape);
      assertClose(values(y), ref.y, 1e-5, 'forward');
      const dy = randn(ref.shape, 300 + n);
      const got = autodiffGrads(op, [xt, wt], tensor(dy));
      const want = finiteDifferenceGrads((v) => groupedConvReference(v[0], xs, v[1], ws, tc.groups, tc.stride, tc.padding).y, [x.data, w.data], dy.data);
      assertClose(got[0], want[0], 1e-4, 'd/dx');
      assertClose(got[1], want[1], 1e-4, 'd/dkernel');
      tf.dispose([xt, wt, y]);
    });
  }

  it('rejects groups that do not divide the channels, and a kernel of the wrong depth', () => {
    const x = tf.zeros([1, 4, 4, 6]) as tf.Tensor4D;
    assert.throws(() => groupedConv2d(x, tf.zeros([3, 3, 1, 8]) as tf.Tensor4D, 4), /groupedConv2d: argument 'groups'.*got 4.*6/);
    assert.throws(() => groupedConv2d(x, tf.zeros([3, 3, 2, 6]) as tf.Tensor4D, 2), /argument 'kernel'.*input depth 3/);
    assert.throws(() => groupedConv2d(x, tf.zeros([3, 3, 3, 6]) as tf.Tensor4D, 0), /argument 'groups'/);
  });
});

describe('GroupedConv2D layer', () => {
  before(useCpu);

  it('applies scaled weight standardization with gain, per group, plus bias', () => {
    const layer = new GroupedConv2D({ filters: 6, groupWidth: 2, strides: 2, seed: 1 });
    const x = randn([2, 6, 6, 4], 7);
    const y = layer.apply(tensor(x)) as tf.Tensor;
    assert.equal(layer.groups, 2);
    const [kernel, gain, bias] = layer.getWeights();
    assert.deepEqual(kernel.shape, [3, 3, 2, 6]);
    const g = randn([6], 8, 0.3, 1), bb = randn([6], 9, 0.1);
    layer.setWeights([kernel, tensor(g), tensor(bb)]);
    void gain; void bias; // the layer's own variables: not ours to dispose
    const y2 = layer.apply(tensor(x)) as tf.Tensor;
    const w = wsReference(values(kernel), kernel.shape, 'scaled', 1e-4, g.data);
    const ref = groupedConvReference(x.data, x.shape, w, kernel.shape, 2, 2, 'same');
    const expected = ref.y.map((v, i) => v + bb.data[i % 6]);
    assert.deepEqual(y2.shape, [2, 3, 3, 6]);
    assert.deepEqual(y.shape, [2, 3, 3, 6]);
    assertClose(values(y2), expected, 1e-5, 'layer');
  });

  it('is invariant to a rescaling of its kernel (scaled WS)', () => {
    const layer = new GroupedConv2D({ filters: 4, groups: 2, useBias: false });
    const x = tensor(randn([1, 4, 4, 4], 3));
    const y1 = values(layer.apply(x) as tf.Tensor);
    const [k, gain] = layer.getWeights();
    layer.setWeights([tf.mul(k, 17), gain]);
    assertClose(values(layer.apply(x) as tf.Tensor), y1, 1e-5, 'rescaled kernel');
  });

  it('rejects a group width that does not divide the input channels', () => {
    const layer = new GroupedConv2D({ filters: 6, groupWidth: 4 });
    assert.throws(() => layer.apply(tf.zeros([1, 4, 4, 6])), /GroupedConv2D: argument 'groupWidth'.*got 4/);
    assert.throws(() => new GroupedConv2D({ filters: 6, standardization: 'ws' as 'none' }), /argument 'standardization'/);
  });
});

describe('SkipGain, ConstantScale, StochasticDepth, SqueezeExcite', () => {
  before(useCpu);

  it('SkipGain starts at 0 (branch contributes nothing) and computes alpha * g * x with gradients', () => {
    const layer = new SkipGain({ alpha: 0.2 });
    const x = tensor(randn([2, 3, 3, 2], 1));
    assert.ok(values(layer.apply(x) as tf.Tensor).every((v) => v === 0));
    layer.setWeights([tf.scalar(1.5)]);
    assertClose(values(layer.apply(x) as tf.Tensor), values(x).map((v) => 0.3 * v), 1e-6, 'alpha*g*x');
    const g = tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t) as tf.Tensor))(x);
    assertClose(values(g), values(x).map(() => 0.3), 1e-6, 'dx');
    const { grads } = tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor) as tf.Scalar, layer.trainableWeights.map((w) => w.read() as tf.Variable));
    const sumX = values(x).reduce((a, b) => a + b, 0);
    assertClose(values(Object.values(grads)[0]), [0.2 * sumX], 1e-5, 'dgain');
  });

  it('ConstantScale multiplies by a fixed number and rejects a non-finite one', () => {
    const x = tensor(randn([2, 3], 2));
    assertClose(values(new ConstantScale({ scale: 1 / 1.02 }).apply(x) as tf.Tensor), values(x).map((v) => v / 1.02), 1e-6, 'scale');
    assert.throws(() => new ConstantScale({ scale: Number.NaN }), /ConstantScale: argument 'scale'/);
  });

  it('StochasticDepth is the identity at inference and drops whole samples in training', () => {
    const layer = new StochasticDepth({ rate: 0.5, seed: 3 });
    const x = tf.add(tensor(randn([64, 2, 2, 3], 4)), 10); // no zero entries
    assert.deepEqual(values(layer.apply(x) as tf.Tensor), values(x));
    assert.deepEqual(values(layer.apply(x, { training: false }) as tf.Tensor), values(x));
    const y = values(layer.apply(x, { training: true }) as tf.Tensor), xv = values(x);
    const per = 12;
    let dropped = 0;
    for (let b = 0; b < 64; b++) {
      const ys = y.slice(b * per, (b + 1) * per), xs = xv.slice(b * per, (b + 1) * per);
      if (ys.every((v) => v === 0)) dropped++;
      else assertClose(ys, xs.map((v) => v * 2), 1e-6, `kept sample ${b}`);
    }
    assert.ok(dropped > 10 && dropped < 54, `dropped ${dropped} of 64 at rate 0.5`);
    // A seeded layer draws a new mask at every call, repeatably.
    const masks = (l: StochasticDepth) => [0, 1, 2].map(() => Array.from((l.apply(x, { training: true }) as tf.Tensor).dataSync()).map((v) => (v === 0 ? 0 : 1)).join(''));
    const [m1, m2] = [masks(new StochasticDepth({ rate: 0.5, seed: 9 })), masks(new StochasticDepth({ rate: 0.5, seed: 9 }))];
    assert.deepEqual(m1, m2);
    assert.ok(m1[0] !== m1[1] && m1[1] !== m1[2], 'a fresh mask at every call');
    assert.throws(() => new StochasticDepth({ rate: 1 }), /StochasticDepth: argument 'rate'.*got 1/);
    assert.throws(() => new StochasticDepth({ rate: -0.1 }), /argument 'rate'/);
  });

  it('SqueezeExcite gates each channel by 2 * sigmoid of a two-layer MLP of the channel means', () => {
    const layer = new SqueezeExcite({ hiddenUnits: 3, seed: 5 });
    const x = randn([2, 3, 3, 4], 6);
    layer.apply(tensor(x));
    const ws = [randn([4, 3], 7, 0.5), randn([3], 8, 0.5), randn([3, 4], 9, 0.5), randn([4], 10, 0.5)];
    layer.setWeights(ws.map(tensor));
    const [w1, b1, w2, b2] = ws.map((a) => a.data);
    const expected = new Float64Array(x.data.length);
    for (let b = 0; b < 2; b++) {
      const s = [0, 1, 2, 3].map((c) => { let m = 0; for (let p = 0; p < 9; p++) m += x.data[(b * 9 + p) * 4 + c]; return m / 9; });
      const u = [0, 1, 2].map((j) => Math.max(0, b1[j] + s.reduce((a, v, c) => a + v * w1[c * 3 + j], 0)));
      const gate = [0, 1, 2, 3].map((c) => 2 / (1 + Math.exp(-(b2[c] + u.reduce((a, v, j) => a + v * w2[j * 4 + c], 0)))));
      for (let p = 0; p < 9; p++) for (let c = 0; c < 4; c++) expected[(b * 9 + p) * 4 + c] = x.data[(b * 9 + p) * 4 + c] * gate[c];
    }
    assertClose(values(layer.apply(tensor(x)) as tf.Tensor), expected, 1e-5, 'squeeze-excite');
  });

  it('all save and load inside a model with identical predictions', async () => {
    const input = tfl.input({ shape: [6, 6, 4] });
    let h = new GroupedConv2D({ filters: 4, groupWidth: 2 }).apply(input) as tfl.SymbolicTensor;
    h = new SqueezeExcite().apply(h) as tfl.SymbolicTensor;
    h = new StochasticDepth({ rate: 0.3 }).apply(h) as tfl.SymbolicTensor;
    h = new ConstantScale({ scale: 0.5 }).apply(h) as tfl.SymbolicTensor;
    h = new SkipGain({ alpha: 0.2, initValue: 0.7 }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: h });
    const loaded = await roundTrip(model);
    const x = tensor(randn([2, 6, 6, 4], 11));
    assert.deepEqual(values(loaded.predict(x) as tf.Tensor), values(model.predict(x) as tf.Tensor));
    assert.deepEqual(loaded.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()));
    assert.ok(model.layers.slice(1).every((l) => l.getClassName().startsWith('batchfree>') && !l.name.includes('>')));
  });

  it('leak no tensor, forward or backward', () => {
    const layers = [new GroupedConv2D({ filters: 4, groups: 2 }), new SqueezeExcite(), new StochasticDepth({ rate: 0.5 }), new ConstantScale({ scale: 2 }), new SkipGain({ initValue: 1 })];
    const x = tf.randomNormal([2, 4, 4, 4]);
    const run = (training: boolean) => layers.reduce((h, l) => l.apply(h, { training }) as tf.Tensor, x);
    tf.dispose(run(true)); // build the weights first
    for (const training of [false, true]) {
      assertNoLeak(() => tf.tidy(() => { run(training); }), `forward training=${training}`); // intermediates go with the tidy
      assertNoLeak(() => {
        const y = layers.reduce((h, l) => { const o = l.apply(h, { training }) as tf.Tensor; if (h !== x) h.dispose(); return o; }, x);
        y.dispose();
      }, `forward, no tidy, training=${training}`);
      const vars = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
      assertNoLeak(() => { const { value, grads } = tf.variableGrads(() => tf.sum(run(training)) as tf.Scalar, vars); tf.dispose([value, ...Object.values(grads)]); }, `backward training=${training}`);
    }
    x.dispose();
  });
});

describe('nfExpectedVariances', () => {
  it('grows by alpha^2 per block and resets to 1 + alpha^2 after each transition block', () => {
    const a = 0.2, a2 = a * a;
    // stage 1: identity-shortcut blocks; stages 2 and 3 start with a transition block.
    const { variances, betas } = nfExpectedVariances([false, false, true, false, false, true, false], a);
    const expected = [1, 1 + a2, 1 + 2 * a2, 1 + a2, 1 + 2 * a2, 1 + 3 * a2, 1 + a2, 1 + 2 * a2];
    assertClose(variances, expected, 1e-12, 'variances');
    assertClose(betas, expected.slice(0, 7).map(Math.sqrt), 1e-12, 'betas');
    assert.deepEqual(nfExpectedVariances([], a), { variances: [1], betas: [] });
    assertClose(nfExpectedVariances([true, false], 0.5).variances, [1, 1.25, 1.5], 1e-12, 'alpha 0.5');
    assert.throws(() => nfExpectedVariances([true], -1), /nfExpectedVariances: argument 'alpha'/);
  });
});
