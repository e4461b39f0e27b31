import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { NORM_NAMES } from '../../src/layers/factory.js';
import { classifierLayerName, modelDefaultGroups } from '../../src/models/common.js';
import { resnetV2 } from '../../src/models/resnet.js';
import { useCpu } from '../helpers.js';
import { assertRoundTrip, assertSaneStep, batch, layersOf, predict, sgdStep, zeroGradients } from './model_helpers.js';

const small = { depth: 8, widths: [4, 8, 8], inputShape: [6, 6, 3] as [number, number, number], numClasses: 5, seed: 3 };

/** Norms whose outputs depend on the other images of the batch in training calls. */
const BATCH_NORMS = new Set(['bn', 'brn']);

describe('resnetV2', () => {
  before(useCpu);

  for (const norm of NORM_NAMES) {
    it(`builds, trains one SGD step and saves/loads with norm '${norm}'`, async () => {
      const model = resnetV2({ ...small, norm });
      const { x, y } = batch(model, 2, 1);
      const out = predict(model, x);
      assert.equal(out.length, 2 * 5, 'logits [2, 5]');
      assert.deepEqual(model.outputs[0].shape, [null, 5]);
      const step = sgdStep(model, x, y);
      assertSaneStep(step, norm);
      // Every trainable weight is connected to the loss (a layer left out of the graph would have no gradient).
      assert.deepEqual(zeroGradients(step), [], `${norm}: weights with zero gradient`);
      await assertRoundTrip(model, x, norm);
      if (!BATCH_NORMS.has(norm)) {
        // Batch independence in training calls: image 0's logits do not depend on image 1.
        const x2 = tf.concat([tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]), tf.mul(tf.slice(x, [1, 0, 0, 0], [1, -1, -1, -1]), -3)]);
        assert.deepEqual(predict(model, x2, true).slice(0, 5), predict(model, x, true).slice(0, 5), `${norm}: batch independence`);
        x2.dispose();
      }
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  it('has the v2 layout: 6n+1 convolutions plus projection shortcuts, pre-activation, a named classifier', () => {
    const model = resnetV2({ ...small, depth: 14, widths: [4, 8, 16], norm: 'bn' });
    const convs = layersOf(model, 'Conv2D').map((l) => l.name);
    const main = convs.filter((n) => !n.endsWith('shortcut'));
    assert.equal(main.length, 1 + 6 * 2, 'stem + 2 convs per block');
    // Projections only where the stride or the width changes: first block of stages 2 and 3 (stem width = widths[0]).
    assert.deepEqual(convs.filter((n) => n.endsWith('shortcut')), ['s2b1_shortcut', 's3b1_shortcut']);
    const strides = (name: string) => (model.getLayer(name).getConfig().strides as number[])[0];
    assert.equal(strides('s2b1_conv1'), 2);
    assert.equal(strides('s2b1_shortcut'), 2);
    assert.equal(strides('s2b2_conv1'), 1);
    // The shortcut of a projection block reads the pre-activated input; an identity block adds its input.
    // (BN+ReLU is one layer: the BN layer's own fused ReLU.)
    assert.equal(model.getLayer('s2b1_shortcut').inboundNodes[0].inboundLayers[0].name, 's2b1_pre_norm');
    assert.equal(model.getLayer('s2b1_pre_norm').getConfig().activation, 'relu');
    assert.deepEqual(model.getLayer('s1b2_add').inboundNodes[0].inboundLayers.map((l) => l.name), ['s1b1_add', 's1b2_conv2']);
    const cls = model.getLayer(classifierLayerName);
    assert.equal(cls.getClassName(), 'Dense');
    assert.equal(cls.getConfig().units, 5);
    assert.equal(layersOf(model, 'BatchNormalization').length, 2 * 6 + 1, 'two per block plus the final one');
    assert.ok(layersOf(model, 'Conv2D').every((l) => l.getConfig().useBias === false), 'no conv bias before a norm');
    assert.equal(model.countParams() > 0, true);
  });

  it('disables the PN scaling only in the activation before the final pooling', () => {
    for (const norm of ['gn+pn', 'ln+pn', 'in+pn'] as const) {
      const model = resnetV2({ ...small, norm });
      const pns = layersOf(model, 'ProxyNormActivation');
      assert.equal(pns.length, 2 * 3 + 1);
      assert.deepEqual(pns.filter((l) => l.getConfig().scale === false).map((l) => l.name), ['final_pn'], norm);
    }
  });

  it('gives the grouped norms at least two channels per group by default, or the groups asked for', () => {
    assert.deepEqual([1, 2, 3, 4, 6, 8, 16, 48, 64, 96, 256].map(modelDefaultGroups), [1, 1, 1, 2, 3, 4, 8, 24, 32, 32, 32]);
    const model = resnetV2({ ...small, widths: [4, 8, 16], norm: 'gn' });
    const groups = layersOf(model, 'GroupNormalization').map((l) => `${l.name}:${l.getConfig().groups}`);
    assert.ok(groups.includes('s1b1_pre_norm:2') && groups.includes('s2b1_mid_norm:4') && groups.includes('final_norm:8'), groups.join(' '));
    const two = resnetV2({ ...small, norm: 'evos0', groups: 2 });
    assert.ok(layersOf(two, 'EvoNormS0').every((l) => l.getConfig().groups === 2));
  });

  it('uses the requested activation, and weight-standardized convolutions on request', () => {
    const model = resnetV2({ ...small, norm: 'ln', activation: 'swish', weightStandardization: true });
    assert.ok(layersOf(model, 'Activation').every((l) => l.getConfig().activation === 'swish'));
    assert.equal(layersOf(model, 'Conv2D').length, 0);
    assert.equal(layersOf(model, 'WSConv2D').length, 1 + 6 + 2);
    const none = resnetV2({ ...small, norm: 'none' });
    assert.ok(layersOf(none, 'Conv2D').every((l) => l.getConfig().useBias === true), 'biases without a norm');
  });

  it('gives the same initial weights for the same seed and different ones otherwise', () => {
    const w = (seed: number) => resnetV2({ ...small, norm: 'frn', seed }).getWeights().map((t) => Array.from(t.dataSync()));
    assert.deepEqual(w(5), w(5));
    assert.notDeepEqual(w(5), w(6));
  });

  it('rejects a depth that is not 6n+2, an unknown norm and bad shapes, naming the argument', () => {
    assert.throws(() => resnetV2({ ...small, depth: 10, norm: 'bn' }), /resnetV2: argument 'depth'.*got 10.*6n\+2/);
    assert.throws(() => resnetV2({ ...small, depth: 2, norm: 'bn' }), /argument 'depth'/);
    assert.throws(() => resnetV2({ ...small, depth: 12, widths: [4, 8], norm: 'bn' }), /argument 'depth'.*4n\+2/);
    assert.throws(() => resnetV2({ ...small, norm: 'batch' as 'bn' }), /resnetV2: argument 'norm'.*got 'batch'/);
    assert.throws(() => resnetV2({ ...small, norm: 'bn', inputShape: [8, 8] as unknown as [number, number, number] }), /argument 'inputShape'/);
    assert.throws(() => resnetV2({ ...small, norm: 'bn', numClasses: 0 }), /argument 'numClasses'/);
    assert.throws(() => resnetV2({ ...small, norm: 'bn', widths: [4, 0, 8] }), /argument 'widths'/);
    assert.throws(() => resnetV2({ ...small, norm: 'gn', groups: 3 }), /argument 'groups'/);
  });
});
