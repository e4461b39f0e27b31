import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { trainedPowerDecomposition } from '../../src/diagnostics/trained.js';
import { powerDecomposition } from '../../src/diagnostics/power_decomposition.js';
import { applyLayers, createNormActivation } from '../../src/layers/index.js';
import { layerNorm } from '../../src/ops/group_norm.js';
import { filterResponseNorm } from '../../src/ops/filter_response_norm.js';
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
    // The first layer ends with its own ReLU (the factory fuses it): its figures are those of its normalized
    // output before the ReLU, computed here directly from its input, and not those of its (rectified) output.
    const first = model.getLayer('first_norm');
    assert.equal(first.getConfig().activation, 'relu');
    const [gamma, beta] = first.getWeights().map((w) => tf.add(w, tf.randomNormal(w.shape, 0, 0.3, 'float32', 4)));
    first.setWeights([gamma, beta]);
    const probe = tfl.model({ inputs: model.inputs, outputs: [first.input as tfl.SymbolicTensor, first.output as tfl.SymbolicTensor] });
    const [into, out] = probe.predict(x) as tf.Tensor[];
    const direct = powerDecomposition(layerNorm(into, { gamma, beta })).shares;
    const rectified = powerDecomposition(out).shares;
    const measured = trainedPowerDecomposition(model, x)[0].shares;
    measured.forEach((v, i) => assert.ok(Math.abs(v - direct[i]) < 1e-9, `term ${i + 1}: ${v} vs ${direct[i]}`));
    assert.ok(measured.some((v, i) => Math.abs(v - rectified[i]) > 1e-3), 'measured after the ReLU');
    for (const l of layers) assert.ok(Math.abs(l.shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assertNoLeak(() => trainedPowerDecomposition(model, x));
  });

  it("measures FRN with its own TLU before the TLU", () => {
    const input = tfl.input({ shape: [5, 5, 2] });
    const c = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
    const a = applyLayers(createNormActivation('frn', { name: 'f' }), c) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: a });
    const frn = model.getLayer('f_norm');
    const [gamma, beta, tau] = frn.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, i === 2 ? 0.5 : 0, 0.3, 'float32', 10 + i)));
    frn.setWeights([gamma, beta, tau]);
    const x = tf.randomNormal([4, 5, 5, 2], 0, 1, 'float32', 5) as tf.Tensor4D;
    const into = tfl.model({ inputs: model.inputs, outputs: frn.input as tfl.SymbolicTensor }).predict(x) as tf.Tensor;
    const direct = powerDecomposition(filterResponseNorm(into, { gamma: gamma as tf.Tensor1D, beta: beta as tf.Tensor1D })).shares;
    const measured = trainedPowerDecomposition(model, x)[0].shares;
    measured.forEach((v, i) => assert.ok(Math.abs(v - direct[i]) < 1e-9, `term ${i + 1}: ${v} vs ${direct[i]}`));
    const after = powerDecomposition(model.predict(x) as tf.Tensor).shares;
    assert.ok(measured.some((v, i) => Math.abs(v - after[i]) > 1e-3), 'measured after the TLU');
  });

  it('rejects a model without normalization layers', () => {
    const input = tfl.input({ shape: [4, 4, 1] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tfl.SymbolicTensor });
    assert.throws(() => trainedPowerDecomposition(model, tf.zeros([2, 4, 4, 1]) as tf.Tensor4D), /argument 'model'.*normalization layers/);
  });
});
