import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { dilateKernel } from '../../src/layers/conv.js';
import { ScaledWSConv2D, WSConv2D, WSConv2DArgs } from '../../src/layers/ws_conv.js';
import { scaledStandardize, weightStandardize } from '../../src/ops/weight_standardization.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { modelOf, perturbWeights, weight } from './layer_helpers.js';

const configs: Array<Omit<WSConv2DArgs, 'filters'>> = [
  { kernelSize: 3 },
  { kernelSize: [3, 2], strides: 2, padding: 'valid' },
  { kernelSize: 1, useBias: false },
  { kernelSize: 3, dilationRate: 2 },
  { kernelSize: [2, 3], dilationRate: [1, 3], padding: 'valid' },
];

/** `conv2d(x, W, strides, padding, dilation)` with TF.js' own dilated conv (forward only) plus the bias. */
function reference(x: tf.Tensor, w: tf.Tensor, layer: WSConv2D | ScaledWSConv2D): tf.Tensor {
  const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, layer.strides, layer.padding, 'NHWC', layer.dilationRate);
  return layer.useBias ? tf.add(y, weight(layer, 'bias')) : y;
}

describe('WSConv2D and ScaledWSConv2D layers', () => {
  before(useCpu);

  for (const [i, cfg] of configs.entries()) {
    it(`WSConv2D = conv2d with the weight-standardized kernel: ${JSON.stringify(cfg)}`, () => {
      const layer = new WSConv2D({ filters: 4, ...cfg, epsilon: 1e-4 });
      const x = tensor(randn([2, 7, 6, 3], i));
      const y0 = layer.apply(x) as tf.Tensor;
      perturbWeights(layer, 10 + i);
      const y = layer.apply(x) as tf.Tensor;
      const want = reference(x, weightStandardize(weight(layer, 'kernel'), { eps: 1e-4 }), layer);
      assert.deepEqual(y.shape, want.shape);
      assert.deepEqual(y.shape, y0.shape);
      assert.deepEqual(layer.computeOutputShape([null, 7, 6, 3]), [null, ...y.shape.slice(1)]);
      assertClose(values(y), values(want), 1e-5, 'forward');
    });

    it(`ScaledWSConv2D = conv2d with the scaled-standardized kernel times gain and outputGain: ${JSON.stringify(cfg)}`, () => {
      const layer = new ScaledWSConv2D({ filters: 5, ...cfg, outputGain: 1.7 });
      const x = tensor(randn([2, 6, 7, 2], 20 + i));
      layer.apply(x);
      perturbWeights(layer, 30 + i);
      const gain = tf.mul(weight(layer, 'gain'), 1.7) as tf.Tensor1D;
      const want = reference(x, scaledStandardize(weight(layer, 'kernel'), { gain }), layer);
      assertClose(values(layer.apply(x) as tf.Tensor), values(want), 1e-5, 'forward');
    });
  }

  it('outputs do not change when the raw kernel is scaled (the point of standardization)', () => {
    for (const layer of [new WSConv2D({ filters: 3, kernelSize: 3, epsilon: 1e-12 }), new ScaledWSConv2D({ filters: 3, kernelSize: 3 })]) {
      const x = tensor(randn([1, 5, 5, 2], 40));
      const y1 = values(layer.apply(x) as tf.Tensor);
      const [kernel, ...rest] = layer.getWeights();
      layer.setWeights([tf.mul(kernel, 9), ...rest]);
      assertClose(values(layer.apply(x) as tf.Tensor), y1, 1e-5, layer.name);
    }
  });

  it('initialises gain to 1 and bias to 0; the kernel from a seeded He-normal by default', () => {
    const a = new ScaledWSConv2D({ filters: 2, kernelSize: 3, seed: 7 }), b = new ScaledWSConv2D({ filters: 2, kernelSize: 3, seed: 7 });
    modelOf([4, 4, 3], [a]);
    modelOf([4, 4, 3], [b]);
    assert.deepEqual(values(weight(a, 'kernel')), values(weight(b, 'kernel')));
    assert.deepEqual([...values(weight(a, 'gain')), ...values(weight(a, 'bias'))], [1, 1, 0, 0]);
    const std = Math.sqrt(values(weight(a, 'kernel')).reduce((s, v) => s + v * v, 0) / 54);
    assert.ok(std > 0.15 && std < 0.7, `He-normal std ~ sqrt(2/27) = 0.27, got ${std}`);
  });

  it('trains with dilation: the gradient through the zero-inserted kernel is the dense kernel gradient at the taps', () => {
    const w = tensor(randn([2, 3, 2, 2], 50)) as tf.Tensor4D;
    const x = tensor(randn([1, 6, 8, 2], 51)) as tf.Tensor4D;
    const dilation: [number, number] = [2, 3];
    const wide = dilateKernel(w, dilation);
    assert.deepEqual(wide.shape, [3, 7, 2, 2]);
    const dy = tf.randomNormal(tf.conv2d(x, wide, 1, 'same').shape);
    const gw = tf.grad((k: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, dilateKernel(k as tf.Tensor4D, dilation), 1, 'same'), dy)))(w);
    const gWide = tf.grad((k: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, k as tf.Tensor4D, 1, 'same'), dy)))(wide);
    const taps = tf.stridedSlice(gWide, [0, 0, 0, 0], [3, 7, 2, 2], [2, 3, 1, 1]);
    assertClose(values(gw), values(taps), 1e-5, 'kernel gradient');
    // Zero-insertion is exactly TF.js' dilated convolution.
    assertClose(values(tf.conv2d(x, wide, 1, 'same')), values(tf.conv2d(x, w, 1, 'same', 'NHWC', dilation)), 1e-6, 'forward');
    // And a dilated layer trains end to end.
    const layer = new WSConv2D({ filters: 2, kernelSize: 2, dilationRate: 2 });
    layer.apply(x);
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar);
    assert.ok(Object.values(grads).every((g) => values(g).every(Number.isFinite)) && Object.keys(grads).length >= 2);
  });

  it('rejects bad options, naming them', () => {
    assert.throws(() => new WSConv2D({ filters: 0, kernelSize: 3 }), /WSConv2D: argument 'filters'.*got 0/);
    assert.throws(() => new WSConv2D({ filters: 2, kernelSize: [3] as never }), /argument 'kernelSize'/);
    assert.throws(() => new WSConv2D({ filters: 2, kernelSize: 3, padding: 'full' as never }), /argument 'padding'.*'full'/);
    assert.throws(() => new ScaledWSConv2D({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 }), /ScaledWSConv2D: argument 'dilationRate'.*strides > 1/);
    assert.throws(() => new WSConv2D({ filters: 2, kernelSize: 3, kernelInitializer: 'ones' as never }), /argument 'kernelInitializer'/);
    assert.throws(() => new ScaledWSConv2D({ filters: 2, kernelSize: 3, outputGain: Number.NaN }), /argument 'outputGain'/);
    assert.throws(() => modelOf([5], [new WSConv2D({ filters: 2, kernelSize: 1 })]), /argument 'inputShape'.*rank 2/);
  });

  it('leaks no tensor in a call', () => {
    const x = tf.randomNormal([1, 5, 5, 2]);
    for (const layer of [new WSConv2D({ filters: 2, kernelSize: 3, dilationRate: 2 }), new ScaledWSConv2D({ filters: 2, kernelSize: 3, outputGain: 2 })]) {
      layer.apply(x);
      assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), layer.name);
    }
    x.dispose();
  });

  it('works inside tf.layers models next to TF.js layers', () => {
    const model = modelOf([8, 8, 1], [new ScaledWSConv2D({ filters: 4, kernelSize: 3, strides: 2 }), tfl.layers.globalAveragePooling2d({})]);
    assert.deepEqual(model.outputs[0].shape, [null, 4]);
  });
});
