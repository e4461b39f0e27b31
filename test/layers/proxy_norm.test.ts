import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { ProxyNormActivation } from '../../src/layers/proxy_norm.js';
import { EvoNormS0 } from '../../src/layers/evo_norm.js';
import { proxyNormActivation } from '../../src/ops/proxy_norm.js';
import { evoNormS0 } from '../../src/ops/evo_norm.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { modelOf, perturbWeights, weight } from './layer_helpers.js';

describe('ProxyNormActivation layer', () => {
  before(useCpu);

  const cases = [
    { activation: 'relu', scale: true, proxyTilde: true, shape: [2, 3, 3, 4] },
    { activation: 'swish', scale: true, proxyTilde: true, shape: [3, 5] },
    { activation: 'gelu', scale: false, proxyTilde: true, shape: [2, 2, 2, 3] },
    { activation: 'relu', scale: true, proxyTilde: false, shape: [2, 2, 2, 3] },
  ] as const;
  for (const tc of cases) {
    it(`forward equals proxyNormActivation with the layer's weights: ${JSON.stringify(tc)}`, () => {
      const layer = new ProxyNormActivation({ activation: tc.activation, scale: tc.scale, proxyTilde: tc.proxyTilde, samples: 50, epsilon: 0.05 });
      const x = tensor(randn([...tc.shape], 1));
      layer.apply(x);
      assert.deepEqual(layer.weights.map((w) => w.originalName.split('/').pop()),
        tc.proxyTilde ? ['gamma', 'beta', 'beta_tilde', 'gamma_tilde'] : ['gamma', 'beta']);
      perturbWeights(layer, 2);
      const want = proxyNormActivation(x, {
        gamma: weight(layer, 'gamma') as tf.Tensor1D, beta: weight(layer, 'beta') as tf.Tensor1D,
        betaTilde: tc.proxyTilde ? weight(layer, 'beta_tilde') as tf.Tensor1D : undefined,
        gammaTilde: tc.proxyTilde ? weight(layer, 'gamma_tilde') as tf.Tensor1D : undefined,
        activation: tc.activation, eps: 0.05, samples: 50, scale: tc.scale,
      });
      assertClose(values(layer.apply(x) as tf.Tensor), values(want), 1e-6, 'forward');
    });
  }

  it("at initialisation maps 0 to -mu / sqrt(var + 0.03) with the paper's ReLU proxy moments (S = 200)", () => {
    const layer = new ProxyNormActivation();
    const y = values(layer.apply(tf.zeros([1, 2, 2, 3])) as tf.Tensor);
    const expected = -0.398451 / Math.sqrt(0.338035 + 0.03);
    assertClose(y, new Array(12).fill(expected), 1e-5, 'relu proxy at 0');
    const unscaled = values(new ProxyNormActivation({ scale: false }).apply(tf.zeros([1, 3])) as tf.Tensor);
    assertClose(unscaled, [-0.398451, -0.398451, -0.398451], 1e-5, 'no scaling');
  });

  it('proxyWeightDecay adds an L2 loss on the proxy weights (and nothing when 0)', () => {
    const layer = new ProxyNormActivation({ proxyWeightDecay: 0.1 });
    modelOf([3], [layer]);
    perturbWeights(layer, 3);
    assert.equal(layer.losses.length, 2);
    const bt = values(weight(layer, 'beta_tilde')), gt = values(weight(layer, 'gamma_tilde'));
    const got = layer.losses.map((l) => (l as unknown as () => tf.Scalar)().dataSync()[0]);
    assertClose(got, [bt, gt].map((t) => 0.1 * t.reduce((s, v) => s + v * v, 0)), 1e-5, 'l2');
    const plain = new ProxyNormActivation();
    modelOf([3], [plain]);
    assert.equal(plain.losses.length, 0);
  });

  it('is batch independent and the same in training and inference calls', () => {
    const layer = new ProxyNormActivation();
    const x = tensor(randn([3, 4], 4));
    const y = values(layer.apply(x) as tf.Tensor);
    assert.deepEqual(values(layer.apply(x, { training: true }) as tf.Tensor), y);
    assert.deepEqual(values(layer.apply(tf.slice(x, [2, 0], [1, 4])) as tf.Tensor), y.slice(8));
  });

  it('rejects bad options, naming them', () => {
    assert.throws(() => new ProxyNormActivation({ activation: 'softplus' as never }), /ProxyNormActivation: argument 'activation'.*'softplus'/);
    assert.throws(() => new ProxyNormActivation({ samples: 1 }), /argument 'samples'.*got 1/);
    assert.throws(() => new ProxyNormActivation({ epsilon: 0 }), /argument 'epsilon'/);
    assert.throws(() => new ProxyNormActivation({ scale: 'no' as never }), /argument 'scale'/);
    assert.throws(() => new ProxyNormActivation({ proxyWeightDecay: -1 }), /argument 'proxyWeightDecay'/);
  });

  it('leaks no tensor in a call', () => {
    const layer = new ProxyNormActivation();
    const x = tf.randomNormal([2, 3, 3, 4]);
    layer.apply(x);
    assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), 'call');
    x.dispose();
  });
});

describe('EvoNormS0 layer', () => {
  before(useCpu);

  for (const [shape, groups] of [[[2, 3, 3, 8], 4], [[4, 6], 2], [[2, 2, 2, 6], undefined]] as const) {
    it(`forward equals evoNormS0 with the layer's weights, input [${shape}], groups ${groups}`, () => {
      const layer = new EvoNormS0({ groups, epsilon: 1e-3 });
      const x = tensor(randn([...shape], 5, 2));
      layer.apply(x);
      assert.deepEqual(layer.weights.map((w) => [w.originalName.split('/').pop(), w.read().dataSync()[0]]), [['gamma', 1], ['beta', 0], ['v', 1]]);
      perturbWeights(layer, 6);
      const want = evoNormS0(x, { gamma: weight(layer, 'gamma'), beta: weight(layer, 'beta'), v: weight(layer, 'v'), groups, eps: 1e-3 });
      assertClose(values(layer.apply(x) as tf.Tensor), values(want), 1e-6, 'forward');
    });
  }

  it('rejects groups that do not divide C at build time', () => {
    assert.throws(() => modelOf([2, 2, 6], [new EvoNormS0({ groups: 4 })]), /EvoNormS0: argument 'groups'.*got 4.*channel count 6/);
  });

  it('leaks no tensor in a call', () => {
    const layer = new EvoNormS0({ groups: 2 });
    const x = tf.randomNormal([2, 3, 3, 4]);
    layer.apply(x);
    assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), 'call');
    x.dispose();
  });
});
