import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTrainConfig, DEFAULT_TRAIN_CONFIG } from '../../src/train/config.js';
import { modelOptions } from '../../src/train/run.js';
import { buildModel } from '../../src/models/index.js';
import { BatchNormalization } from '../../src/layers/index.js';

describe('bnMomentum setting', () => {
  it('reaches every BatchNormalization layer of the model', () => {
    const config = resolveTrainConfig({ norm: 'bn', depth: 8, widths: [4, 4, 4], bnMomentum: 0.9, dataset: 'synthetic' });
    const options = modelOptions(config, { inputShape: [8, 8, 1], numClasses: 3 });
    const model = buildModel('resnet', options as never);
    const bns = model.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization);
    assert.ok(bns.length > 0);
    for (const l of bns) assert.equal(l.momentum, 0.9);
    assert.equal(DEFAULT_TRAIN_CONFIG.bnMomentum, undefined, "default: the layer's own (0.99)");
  });

  it('is rejected out of [0, 1) and for norms without moving statistics', () => {
    assert.throws(() => resolveTrainConfig({ norm: 'bn', bnMomentum: 1 }), /argument 'bnMomentum'.*got 1/);
    assert.throws(() => resolveTrainConfig({ norm: 'frn', bnMomentum: 0.9 }), /argument 'bnMomentum'.*only 'bn' and 'brn'/);
  });
});
