import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, tfl } from '../../src/engine.js';
import * as layers from '../../src/layers/index.js';
import { fileSystem } from '../../src/node.js';
import { randn, tensor, useCpu } from '../helpers.js';
import { assertRoundTrip, assertSameModel, modelOf, perturbWeights } from './layer_helpers.js';

type AnyLayerClass = new (args: any) => tfl.layers.Layer;

/** Every layer class with non-default values for all its own options, and an input shape it accepts. */
const CASES: Array<{ cls: AnyLayerClass; options: Record<string, unknown>; inputShape: number[] }> = [
  { cls: layers.FilterResponseNormalization, options: { epsilon: 1e-5, learnedEpsilon: true, activation: 'tlu' }, inputShape: [3, 3, 4] },
  { cls: layers.TLU, options: { variant: 'affine', slopeInit: 0.2 }, inputShape: [3, 3, 4] },
  { cls: layers.GroupNormalization, options: { groups: 2, epsilon: 1e-4, center: false, scale: true, activation: 'relu' }, inputShape: [3, 3, 4] },
  { cls: layers.LayerNormalizationHWC, options: { epsilon: 1e-4, center: true, scale: false }, inputShape: [3, 3, 4] },
  { cls: layers.InstanceNormalization, options: { epsilon: 1e-3, center: true, scale: true }, inputShape: [3, 3, 4] },
  { cls: layers.GroupResponseNormalization, options: { groups: 4, learnedEpsilon: false, epsilon: 1e-5 }, inputShape: [4] },
  { cls: layers.LayerResponseNormalization, options: { learnedEpsilon: true, epsilon: 1e-5 }, inputShape: [3, 3, 4] },
  { cls: layers.BatchNormalization, options: { groupSize: 2, momentum: 0.9, epsilon: 1e-2, center: true, scale: true, activation: 'relu' }, inputShape: [3, 3, 4] },
  { cls: layers.BatchRenormalization, options: { groupSize: 1, momentum: 0.8, rMax: 2, dMax: 1, warmupSteps: 7, holdSteps: 2 }, inputShape: [3, 3, 4] },
  { cls: layers.ProxyNormActivation, options: { activation: 'silu', epsilon: 0.01, samples: 64, proxyTilde: true, scale: false, proxyWeightDecay: 1e-4 }, inputShape: [3, 3, 4] },
  { cls: layers.EvoNormS0, options: { groups: 2, epsilon: 1e-4 }, inputShape: [3, 3, 4] },
  { cls: layers.ActivationLayer, options: { activation: 'elu' }, inputShape: [3, 3, 4] },
  { cls: layers.ScaledActivation, options: { activation: 'gelu' }, inputShape: [3, 3, 4] },
  {
    cls: layers.Conv2D, inputShape: [6, 6, 2],
    options: { filters: 3, kernelSize: [3, 2], strides: [1, 1], padding: 'same', dilationRate: [1, 2], useBias: true, kernelInitializer: 'heUniform', seed: 5 },
  },
  {
    cls: layers.WSConv2D, inputShape: [6, 6, 2],
    options: { filters: 3, kernelSize: [3, 2], strides: [1, 1], padding: 'valid', dilationRate: [2, 1], useBias: false, epsilon: 1e-4, kernelInitializer: 'glorotUniform', seed: 3 },
  },
  {
    cls: layers.ScaledWSConv2D, inputShape: [6, 6, 2],
    options: { filters: 3, kernelSize: [2, 2], strides: [2, 2], padding: 'same', dilationRate: [1, 1], useBias: true, epsilon: 1e-3, kernelInitializer: 'leCunNormal', seed: 4, outputGain: 1.5 },
  },
];

describe('serialization of every layer', () => {
  before(useCpu);

  it('covers every layer class exported by src/layers', () => {
    const exported = (Object.values(layers) as unknown[]).filter((v): v is AnyLayerClass => typeof v === 'function'
      && v.prototype instanceof tfl.layers.Layer && typeof (v as { className?: unknown }).className === 'string');
    assert.deepEqual(new Set(CASES.map((c) => c.cls)), new Set(exported));
  });

  for (const [i, { cls, options, inputShape }] of CASES.entries()) {
    const className = (cls as unknown as { className: string }).className;
    it(`${className}: registered, getConfig holds every option, save/load gives identical weights and outputs`, async () => {
      assert.ok(className.startsWith('batchfree>'));
      assert.equal(tf.serialization.SerializationMap.getMap().classNameMap[className]?.[0], cls);
      const layer = new cls({ ...options, name: `layer_${i}` });
      const config = layer.getConfig();
      for (const [k, v] of Object.entries(options)) assert.deepEqual(config[k], v, `config.${k}`);
      assert.equal(config.name, `layer_${i}`);
      const model = modelOf(inputShape, [layer]);
      const x = tensor(randn([2, ...inputShape], i, 2, 0.3));
      tf.dispose(layer.apply(x, { training: true }) as tf.Tensor); // BN/BRN: moving statistics and step move
      perturbWeights(layer, 100 + i);
      await assertRoundTrip(model, x, className);
      // The config alone rebuilds an equivalent layer.
      const clone = (cls as unknown as { fromConfig(c: unknown, cfg: unknown): tfl.layers.Layer }).fromConfig(cls, config);
      assert.deepEqual(clone.getConfig(), config);
    });
  }

  describe('through the file system', () => {
    let dir = '';
    before(async () => { dir = await mkdtemp(join(tmpdir(), 'batchfree-layers-')); });
    after(async () => rm(dir, { recursive: true, force: true }));

    it('a model holding every norm layer saves to a directory and loads with identical predictions', async () => {
      const norm = CASES.filter((c) => c.inputShape.length === 3 && c.inputShape[2] === 4);
      const model = modelOf([3, 3, 4], norm.map(({ cls, options }) => new cls(options)));
      model.layers.slice(1).forEach((l, i) => perturbWeights(l, 200 + i));
      await model.save(fileSystem(dir));
      assertSameModel(model, await tfl.loadLayersModel(fileSystem(dir)), tensor(randn([2, 3, 3, 4], 9)), 'file system');
    });
  });
});
