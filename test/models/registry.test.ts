import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { NORM_NAMES } from '../../src/layers/factory.js';
import { classifierLayerName } from '../../src/models/common.js';
import { MODEL_NAMES, MODEL_NORMS, ModelName, assertBatchCompatible, buildModel, supportsNorm } from '../../src/models/registry.js';
import { useCpu } from '../helpers.js';

const base = { inputShape: [8, 8, 3] as [number, number, number], numClasses: 3, seed: 1 };
const tiny: Record<ModelName, object> = {
  resnet: { ...base, depth: 8, widths: [4, 4, 8] },
  vgg: { ...base, widthMultiplier: 1 / 16, denseUnits: 4 },
  'nf-resnet': { ...base, depth: 8, widths: [4, 4, 8] },
  nfnet: { ...base, depths: [1], widths: [8], groupWidth: 2, stemWidth: 4 },
};

describe('buildModel', () => {
  before(useCpu);

  it('builds every model by name, each with a classifier layer named for AGC to skip', () => {
    assert.deepEqual([...MODEL_NAMES], ['resnet', 'vgg', 'nf-resnet', 'nfnet']);
    for (const name of MODEL_NAMES) {
      const norm = MODEL_NORMS[name][0];
      const model = buildModel(name, { ...tiny[name], norm } as never);
      assert.deepEqual(model.outputs[0].shape, [null, 3], name);
      const cls = model.getLayer(classifierLayerName);
      assert.equal(cls, model.layers[model.layers.length - 1], `${name}: the classifier is the last layer`);
      assert.ok(model.trainableWeights.filter((w) => w.originalName.startsWith(`${classifierLayerName}/`)).length === 2);
      model.dispose();
    }
    // NF models default to norm 'none'.
    assert.doesNotThrow(() => buildModel('nf-resnet', tiny['nf-resnet'] as never).dispose());
  });

  it('rejects every norm a model does not support, naming norm, the model and the choices', () => {
    for (const name of MODEL_NAMES) {
      for (const norm of NORM_NAMES) {
        const supported = supportsNorm(name, norm);
        assert.equal(supported, MODEL_NORMS[name].includes(norm));
        if (supported) continue;
        assert.throws(() => buildModel(name, { ...tiny[name], norm } as never), new RegExp(`buildModel: argument 'norm' is invalid: got '${norm.replace('+', '\\+')}'.*for model '${name}'`), `${name} + ${norm}`);
      }
    }
    assert.deepEqual(MODEL_NORMS['nf-resnet'], ['none']);
    assert.deepEqual(MODEL_NORMS.nfnet, ['none']);
    assert.ok(!supportsNorm('vgg', 'in') && !supportsNorm('vgg', 'in+pn') && supportsNorm('vgg', 'frn') && supportsNorm('resnet', 'in'));
    assert.throws(() => buildModel('nfnet', { ...tiny.nfnet, norm: 'bn' } as never), /normalizer-free/);
    assert.throws(() => buildModel('vgg', { ...tiny.vgg, norm: 'in' } as never), /instance normalization/);
    assert.throws(() => buildModel('resnet', { ...tiny.resnet } as never), /argument 'norm'.*got undefined/);
    assert.throws(() => buildModel('resnet', { ...tiny.resnet, norm: 'batchnorm' } as never), /argument 'norm'.*'batchnorm'/);
  });

  it('rejects an unknown model name and a missing options object', () => {
    assert.throws(() => buildModel('densenet' as ModelName, { ...base, norm: 'bn' } as never), /buildModel: argument 'name' is invalid: got 'densenet'.*'resnet', 'vgg', 'nf-resnet', 'nfnet'/);
    assert.throws(() => buildModel('resnet', undefined as never), /argument 'options'/);
  });
});

describe('assertBatchCompatible', () => {
  it('requires a batch that is a multiple of the BN/BRN group size, and two images per group on VGG', () => {
    assert.doesNotThrow(() => assertBatchCompatible('resnet', { norm: 'bn', groupSize: 4 }, 32));
    assert.doesNotThrow(() => assertBatchCompatible('resnet', { norm: 'bn', groupSize: 1 }, 3));
    assert.doesNotThrow(() => assertBatchCompatible('vgg', { norm: 'gn', groupSize: 3 }, 4), 'ignored without batch statistics');
    assert.throws(() => assertBatchCompatible('resnet', { norm: 'brn', groupSize: 4 }, 30), /assertBatchCompatible: argument 'batchSize' is invalid: got 30, expected a multiple of groupSize 4/);
    assert.throws(() => assertBatchCompatible('vgg', { norm: 'bn', groupSize: 1 }, 8), /argument 'groupSize'.*got 1.*at least 2/);
    assert.throws(() => assertBatchCompatible('vgg', { norm: 'bn' }, 1), /argument 'batchSize'.*got 1/);
    assert.throws(() => assertBatchCompatible('resnet', { norm: 'bn' }, 0), /argument 'batchSize'/);
  });
});
