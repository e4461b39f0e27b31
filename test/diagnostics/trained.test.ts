import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { trainedPowerDecomposition } from '../../src/diagnostics/trained.js';
import { powerDecomposition } from '../../src/diagnostics/power_decomposition.js';
import { applyLayers, createNormActivation } from '../../src/layers/index.js';
import { useCpu, assertNoLeak } from '../helpers.js';

describe('trainedPowerDecomposition', () => {
  before(useCpu);

  it('decomposes the output of every normalization layer on feature maps, in model order', () => {
    const input = tfl.input({ shape: [6, 6, 2] });
    const c1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }).apply(input) as tfl.SymbolicTensor;
    const a1 = applyLayers(createNormActivation('ln', { name: 'first' }), c1) as tfl.SymbolicTensor;
    const c2 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c2' }).apply(a1) as tfl.SymbolicTensor;
    const a2 = applyLayers(createNormActivation('bn', { name: 'second' }), c2) as tfl.SymbolicTensor;
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(a2) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3 }).apply(pooled) as tfl.SymbolicTensor });
    const x = tf.randomNormal([5, 6, 6, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    const layers = trainedPowerDecomposition(model, x);
    assert.deepEqual(layers.map((l) => l.layer), ['first_norm', 'second_norm']);
    // the first layer's figures equal the decomposition of that layer's output computed directly
    const probe = tfl.model({ inputs: model.inputs, outputs: model.getLayer('first_norm').output as tfl.SymbolicTensor });
    const direct = powerDecomposition(probe.predict(x) as tf.Tensor).shares;
    layers[0].shares.forEach((v, i) => assert.ok(Math.abs(v - direct[i]) < 1e-12));
    for (const l of layers) assert.ok(Math.abs(l.shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assertNoLeak(() => trainedPowerDecomposition(model, x));
  });

  it('rejects a model without normalization layers', () => {
    const input = tfl.input({ shape: [4, 4, 1] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tfl.SymbolicTensor });
    assert.throws(() => trainedPowerDecomposition(model, tf.zeros([2, 4, 4, 1]) as tf.Tensor4D), /argument 'model'.*normalization layers/);
  });
});
