import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { BatchNormalization, BatchRenormalization, GroupNormalization, InstanceNormalization, LayerNormalizationHWC } from '../../src/layers/index.js';
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
