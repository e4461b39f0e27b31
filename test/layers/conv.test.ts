import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { Conv2D, type Conv2DArgs } from '../../src/layers/conv.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { assertRoundTrip, modelOf, perturbWeights, weight } from './layer_helpers.js';

const configs: Array<Omit<Conv2DArgs, 'filters'>> = [
  { kernelSize: 3 },
  { kernelSize: [3, 2], strides: 2, padding: 'valid' },
  { kernelSize: 1, useBias: false },
  { kernelSize: [5, 3], strides: [1, 3] },
];

/** The same convolution as a `tf.layers.conv2d` holding `layer`'s weights. */
function tfLayersTwin(layer: Conv2D, inputShape: number[]): tfl.layers.Layer {
  const twin = tfl.layers.conv2d({ filters: layer.filters, kernelSize: layer.kernelSize, strides: layer.strides, padding: layer.padding, useBias: layer.useBias });
  modelOf(inputShape, [twin]);
  twin.setWeights(layer.getWeights());
  return twin;
}

/** Names of the kernels `f` runs. */
async function kernelsOf(f: () => void): Promise<string[]> {
  const info = await tf.profile(f);
  return info.kernels.map((k) => k.name);
}

describe('Conv2D layer', () => {
  before(useCpu);

  for (const [i, cfg] of configs.entries()) {
    it(`equals tf.layers.conv2d with the same weights, forward and gradients: ${JSON.stringify(cfg)}`, () => {
      const layer = new Conv2D({ filters: 4, ...cfg });
      const shape = [7, 8, 3];
      modelOf(shape, [layer]);
      perturbWeights(layer, 10 + i);
      const twin = tfLayersTwin(layer, shape);
      const x = tensor(randn([2, ...shape], i));
      const y = layer.apply(x) as tf.Tensor, want = twin.apply(x) as tf.Tensor;
      assert.deepEqual(y.shape, want.shape);
      assert.deepEqual(layer.computeOutputShape([null, ...shape]), [null, ...y.shape.slice(1)]);
      assertClose(values(y), values(want), 1e-5, 'forward');
      const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 20 + i);
      const loss = (l: tfl.layers.Layer) => (xv: tf.Tensor) => tf.sum(tf.mul(l.apply(xv) as tf.Tensor, dy)) as tf.Scalar;
      const g = tf.variableGrads(() => loss(layer)(x), layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
      const gt = tf.variableGrads(() => loss(twin)(x), twin.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
      const names = (l: tfl.layers.Layer) => l.trainableWeights.map((w) => w.originalName);
      names(layer).forEach((n, k) => assertClose(values(g.grads[n]), values(gt.grads[names(twin)[k]]), 1e-4, `d${n}`));
      const gx = tf.grad(loss(layer))(x), gxt = tf.grad(loss(twin))(x);
      assertClose(values(gx), values(gxt), 1e-4, 'dx');
    });
  }

  it('computes no input gradient for data, only for inputs that depend on trained weights', async () => {
    const layer = new Conv2D({ filters: 4, kernelSize: 3, useBias: false, seed: 1 });
    const scale = tf.variable(tf.scalar(1.5));
    modelOf([6, 6, 1], [layer]);
    const x = tensor(randn([2, 6, 6, 1], 3));
    const kernel = (layer.trainableWeights[0] as unknown as { val: tf.Variable }).val;
    const onData = await kernelsOf(() => tf.dispose(tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor) as tf.Scalar, [kernel]).grads));
    assert.ok(onData.includes('Conv2DBackpropFilter'), onData.join(','));
    assert.ok(!onData.includes('Conv2DBackpropInput'), onData.join(','));
    const onScaled = await kernelsOf(() => tf.dispose(tf.variableGrads(() => tf.sum(layer.apply(tf.mul(x, scale)) as tf.Tensor) as tf.Scalar, [kernel, scale]).grads));
    assert.ok(onScaled.includes('Conv2DBackpropInput'), onScaled.join(','));
    // tf.layers.conv2d's fused convolution computes it even for data.
    const twin = tfLayersTwin(layer, [6, 6, 1]);
    const twinKernel = (twin.trainableWeights[0] as unknown as { val: tf.Variable }).val;
    const twinOnData = await kernelsOf(() => tf.dispose(tf.variableGrads(() => tf.sum(twin.apply(x) as tf.Tensor) as tf.Scalar, [twinKernel]).grads));
    assert.ok(twinOnData.includes('Conv2DBackpropInput'), twinOnData.join(','));
  });

  it('initialises the bias to 0 and the kernel from a seeded He-normal (as the models used tf.layers.conv2d)', () => {
    const a = new Conv2D({ filters: 2, kernelSize: 3, seed: 7 });
    modelOf([4, 4, 3], [a]);
    const b = tfl.layers.conv2d({ filters: 2, kernelSize: 3, kernelInitializer: tfl.initializers.heNormal({ seed: 7 }) });
    modelOf([4, 4, 3], [b]);
    assert.deepEqual(values(weight(a, 'kernel')), values(weight(b, 'kernel')));
    assert.deepEqual([...values(weight(a, 'bias'))], [0, 0]);
  });

  it('saves and loads, and frees what it creates', async () => {
    const layer = new Conv2D({ filters: 3, kernelSize: [3, 2], strides: 2, dilationRate: 1, kernelInitializer: 'glorotUniform', seed: 2 });
    const model = modelOf([5, 6, 2], [layer]);
    perturbWeights(layer, 4);
    const x = tensor(randn([2, 5, 6, 2], 5));
    const loaded = await assertRoundTrip(model, x, 'Conv2D');
    assert.equal(loaded.layers[1].getClassName(), 'batchfree>Conv2D');
    assertNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      tf.dispose([value, ...Object.values(grads)]);
    });
  });

  it('names the argument of bad options', () => {
    assert.throws(() => new Conv2D({ filters: 0.5, kernelSize: 3 }), /filters/);
    assert.throws(() => new Conv2D({ filters: 2, kernelSize: [3] as unknown as number }), /kernelSize/);
    assert.throws(() => new Conv2D({ filters: 2, kernelSize: 3, padding: 'causal' as 'same' }), /padding.*'same'/);
  });
});
