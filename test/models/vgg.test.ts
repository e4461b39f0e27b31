import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { NORM_NAMES } from '../../src/layers/factory.js';
import { classifierLayerName } from '../../src/models/common.js';
import { VGG_NORMS, vggA } from '../../src/models/vgg.js';
import { useCpu } from '../helpers.js';
import { assertRoundTrip, assertSaneStep, batch, layersOf, predict, sgdStep, zeroGradients } from './model_helpers.js';

const small = { inputShape: [4, 4, 3] as [number, number, number], numClasses: 4, widthMultiplier: 1 / 16, denseUnits: 8, seed: 2 };

describe('vggA', () => {
  before(useCpu);

  it('accepts every norm but instance normalization', () => {
    assert.deepEqual([...VGG_NORMS].sort(), NORM_NAMES.filter((n) => n !== 'in' && n !== 'in+pn').sort());
  });

  for (const norm of VGG_NORMS) {
    it(`builds, trains one SGD step and saves/loads with norm '${norm}'`, async () => {
      const model = vggA({ ...small, norm });
      // Batch 4: with 2 images, BN at the 1x1 maps reduces each unit to ±1 and exactly cancels some gradients.
      const { x, y } = batch(model, 4, 4);
      assert.equal(predict(model, x).length, 4 * 4);
      const step = sgdStep(model, x, y);
      assertSaneStep(step, norm);
      assert.deepEqual(zeroGradients(step), [], `${norm}: weights with zero gradient`);
      await assertRoundTrip(model, x, norm);
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  it('has VGG-A\'s 8 convolutions in 5 pooled stages and normalised fully connected layers', () => {
    const model = vggA({ ...small, norm: 'bn', widthMultiplier: 1 / 8, denseUnits: 16, inputShape: [28, 28, 1] });
    const convs = layersOf(model, 'Conv2D');
    assert.deepEqual(convs.map((l) => l.getConfig().filters), [8, 16, 32, 32, 64, 64, 64, 64]);
    assert.equal(layersOf(model, 'MaxPooling2D').length, 5);
    assert.deepEqual(model.getLayer('pool5').outputShape, [null, 1, 1, 64], '28 → 14 → 7 → 4 → 2 → 1');
    const dense = layersOf(model, 'Dense').map((l) => l.name);
    assert.deepEqual(dense, ['fc1', 'fc2', classifierLayerName]);
    // The FC layers are followed by a norm: fc1 → fc1_norm → fc1_act.
    assert.deepEqual(model.getLayer('fc1_norm').inboundNodes[0].inboundLayers.map((l) => l.name), ['fc1']);
    assert.equal(model.getLayer('fc2_norm').getClassName(), 'batchfree>BatchNormalization');
    assert.ok([...convs, model.getLayer('fc1'), model.getLayer('fc2')].every((l) => l.getConfig().useBias === false));
    assert.equal(model.getLayer(classifierLayerName).getConfig().units, 4);
  });

  it('learns the FRN epsilon on the dense layers and 1x1 maps, not on larger maps', () => {
    const model = vggA({ ...small, norm: 'frn', inputShape: [8, 8, 3] });
    const learns = (name: string) => model.getLayer(name).weights.some((w) => w.originalName.endsWith('learned_epsilon'));
    assert.ok(learns('fc1_norm') && learns('fc2_norm'), 'dense layers');
    assert.ok(learns('conv4_1_norm'), '1x1 map (8 → 4 → 2 → 1)');
    assert.ok(!learns('conv1_1_norm') && !learns('conv3_1_norm'), '8x8 and 2x2 maps');
  });

  it('adds dropout after the hidden dense layers on request and scales the widths', () => {
    const model = vggA({ ...small, norm: 'ln+pn', dropout: 0.5, denseLayers: 1, widthMultiplier: 0.25 });
    assert.deepEqual(layersOf(model, 'Dropout').map((l) => l.name), ['dropout1']);
    assert.deepEqual(layersOf(model, 'Dense').map((l) => l.name), ['fc1', classifierLayerName]);
    assert.equal(model.getLayer('conv1_1').getConfig().filters, 16);
  });

  it('rejects instance normalization and bad options, naming the argument', () => {
    assert.throws(() => vggA({ ...small, norm: 'in' }), /vggA: argument 'norm' is invalid: got 'in'.*instance normalization/);
    assert.throws(() => vggA({ ...small, norm: 'in+pn' }), /vggA: argument 'norm'.*'in\+pn'/);
    assert.throws(() => vggA({ ...small, norm: 'bn', widthMultiplier: 0 }), /argument 'widthMultiplier'/);
    assert.throws(() => vggA({ ...small, norm: 'bn', denseUnits: 2.5 }), /argument 'denseUnits'/);
    assert.throws(() => vggA({ ...small, norm: 'bn', dropout: 1 }), /argument 'dropout'/);
    assert.throws(() => vggA({ ...small, norm: 'bn', numClasses: -1 }), /argument 'numClasses'/);
  });
});
