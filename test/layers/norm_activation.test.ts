import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { BatchNormalization, BatchRenormalization, FilterResponseNormalization, GroupNormalization, InstanceNormalization, LayerNormalizationHWC, TLU } from '../../src/layers/index.js';
import type { ActivatedNormLayer } from '../../src/layers/affine_norm.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { modelOf, perturbWeights } from './layer_helpers.js';

type Make = (activation: 'linear' | 'relu') => ActivatedNormLayer;
const CASES: Array<[string, Make]> = [
  ['BatchNormalization', (activation) => new BatchNormalization({ activation, groupSize: 2 })],
  ['BatchRenormalization', (activation) => new BatchRenormalization({ activation })],
  ['GroupNormalization', (activation) => new GroupNormalization({ activation, groups: 2 })],
  ['LayerNormalizationHWC', (activation) => new LayerNormalizationHWC({ activation })],
  ['InstanceNormalization', (activation) => new InstanceNormalization({ activation })],
];

describe("normalization layers with activation: 'relu'", () => {
  before(useCpu);

  for (const [k, [name, make]] of CASES.entries()) {
    it(`${name}: equals the linear layer followed by tf.relu, in training and inference, values and gradients; preActivation is the linear output`, () => {
      const fused = make('relu'), linear = make('linear');
      const shape = [5, 4, 6];
      modelOf(shape, [fused]);
      modelOf(shape, [linear]);
      perturbWeights(fused, 30 + k, 0.5);
      linear.setWeights(fused.getWeights());
      const x = tensor(randn([4, ...shape], 40 + k, 1, 0.2));
      for (const training of [true, false]) {
        const y = fused.apply(x, { training }) as tf.Tensor;
        const want = tf.relu(linear.apply(x, { training }) as tf.Tensor);
        assertClose(values(y), values(want), 1e-5, `${training ? 'training' : 'inference'} output`);
      }
      const dy = tensor(randn([4, ...shape], 50 + k));
      const loss = (f: (v: tf.Tensor) => tf.Tensor) => (v: tf.Tensor) => tf.sum(tf.mul(f(v), dy)) as tf.Scalar;
      const gFused = tf.grad(loss((v) => fused.apply(v, { training: true }) as tf.Tensor))(x);
      const gLinear = tf.grad(loss((v) => tf.relu(linear.apply(v, { training: true }) as tf.Tensor)))(x);
      assertClose(values(gFused), values(gLinear), 1e-4, 'dx');
      assertClose(values(fused.preActivation(x)), values(linear.apply(x) as tf.Tensor), 1e-5, 'preActivation');
      assert.equal(fused.getConfig().activation, 'relu');
      assert.equal(linear.getConfig().activation, 'linear');
      assertNoLeak(() => tf.dispose(tf.grad(loss((v) => fused.apply(v, { training: true }) as tf.Tensor))(x)), name);
    });
  }

  it('rejects another activation, naming the argument', () => {
    assert.throws(() => new BatchNormalization({ activation: 'gelu' as 'relu' }), /argument 'activation'.*'gelu'.*'linear', 'relu'/);
    assert.throws(() => new GroupNormalization({ activation: 'relu6' as 'relu' }), /argument 'activation'/);
  });

  it('a saved model without the option (linear) loads as before', async () => {
    const layer = new LayerNormalizationHWC({});
    const model = modelOf([3, 3, 2], [layer]);
    const config = model.layers[1].getConfig();
    delete config.activation;
    const rebuilt = LayerNormalizationHWC.fromConfig(LayerNormalizationHWC, config) as LayerNormalizationHWC;
    assert.equal(rebuilt.activation, 'linear');
  });
});

describe("FilterResponseNormalization with activation: 'tlu'", () => {
  before(useCpu);

  for (const [label, shape, learnedEpsilon] of [['maps', [5, 4, 6], 'auto'], ['dense, learned epsilon', [6], 'auto'], ['maps, learned epsilon forced', [3, 3, 4], true]] as const) {
    it(`${label}: equals FRN then a TLU layer with the same weights, values and gradients of x and every weight`, () => {
      const fused = new FilterResponseNormalization({ activation: 'tlu', learnedEpsilon });
      const frn = new FilterResponseNormalization({ learnedEpsilon }), tluLayer = new TLU();
      modelOf([...shape], [fused]);
      modelOf([...shape], [frn, tluLayer]);
      perturbWeights(fused, 60, 0.5);
      const w = fused.getWeights();
      assert.deepEqual(fused.weights.map((v) => v.originalName.split('/').pop()), [...(frn.weights.map((v) => v.originalName.split('/').pop())), 'tau']);
      frn.setWeights(w.slice(0, -1));
      tluLayer.setWeights(w.slice(-1));
      const x = tensor(randn([4, ...shape], 61, 1, 0.1));
      const y = fused.apply(x) as tf.Tensor, want = tluLayer.apply(frn.apply(x)) as tf.Tensor;
      assertClose(values(y), values(want), 1e-5, 'output');
      assertClose(values(fused.preActivation(x)), values(frn.apply(x) as tf.Tensor), 1e-5, 'preActivation');
      const dy = tensor(randn([4, ...shape], 62));
      const vars = (l: { trainableWeights: unknown[] }) => l.trainableWeights.map((v) => (v as { val: tf.Variable }).val);
      const loss = (f: () => tf.Tensor) => () => tf.sum(tf.mul(f(), dy)) as tf.Scalar;
      const g1 = tf.variableGrads(loss(() => fused.apply(x, { training: true }) as tf.Tensor), vars(fused));
      const g2 = tf.variableGrads(loss(() => tluLayer.apply(frn.apply(x, { training: true })) as tf.Tensor), [...vars(frn), ...vars(tluLayer)]);
      const n1 = fused.trainableWeights.map((v) => v.originalName), n2 = [...frn.trainableWeights, ...tluLayer.trainableWeights].map((v) => v.originalName);
      n1.forEach((n, i) => assertClose(values(g1.grads[n]), values(g2.grads[n2[i]]), 1e-4, `d${n}`));
      const gx1 = tf.grad((v: tf.Tensor) => loss(() => fused.apply(v) as tf.Tensor)())(x);
      const gx2 = tf.grad((v: tf.Tensor) => loss(() => tluLayer.apply(frn.apply(v)) as tf.Tensor)())(x);
      assertClose(values(gx1), values(gx2), 1e-4, 'dx');
    });
  }

  it('rejects another activation, naming the argument', () => {
    assert.throws(() => new FilterResponseNormalization({ activation: 'relu' as 'tlu' }), /argument 'activation'.*'relu'.*'linear', 'tlu'/);
  });
});
