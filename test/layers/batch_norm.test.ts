import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { BatchNormalization, BatchRenormalization } from '../../src/layers/batch_norm.js';
import { batchNormInference, batchNormTraining, batchRenormClipSchedule, batchRenormTraining } from '../../src/ops/batch_norm.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { averageOverGroups, batchGroupStats } from '../ops/references.js';
import { assertRoundTrip, modelOf, perturbWeights, weight, weightValues } from './layer_helpers.js';

/**
 * The statistics a training call feeds to the moving averages: the float64 mean and biased variance of each
 * normalization group of `groupSize` consecutive samples over (samples, H, W), averaged over the groups.
 */
function groupStats(x: Float64Array, shape: number[], groupSize: number): { mean: Float64Array; variance: Float64Array } {
  const C = shape[shape.length - 1];
  const { mean, variance } = batchGroupStats(x, shape, groupSize);
  return { mean: averageOverGroups(mean, C), variance: averageOverGroups(variance, C) };
}

function affineOf(layer: tfl.layers.Layer): { gamma: tf.Tensor; beta: tf.Tensor } {
  return { gamma: weight(layer, 'gamma'), beta: weight(layer, 'beta') };
}

function moving(layer: tfl.layers.Layer): { movingMean: tf.Tensor; movingVariance: tf.Tensor } {
  return { movingMean: tf.clone(weight(layer, 'moving_mean')), movingVariance: tf.clone(weight(layer, 'moving_variance')) };
}

describe('BatchNormalization layer', () => {
  before(useCpu);

  for (const [shape, groupSize] of [[[4, 3, 3, 5], 2], [[6, 4], 3], [[4, 2, 2, 3], undefined]] as const) {
    it(`training call = batchNormTraining, then moving stats += (1 - momentum) * (group stats - moving); input [${shape}], groupSize ${groupSize}`, () => {
      const layer = new BatchNormalization({ groupSize, momentum: 0.9, epsilon: 1e-4 });
      const xa = randn([...shape], 1, 2, 0.5);
      const x = tensor(xa);
      layer.apply(x); // inference call: builds, changes nothing
      perturbWeights(layer, 2);
      const before = { mean: weightValues(layer, 'moving_mean').slice(), variance: weightValues(layer, 'moving_variance').slice() };
      const want = batchNormTraining(x, { ...affineOf(layer), eps: 1e-4, groupSize });
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      assertClose(values(y), values(want.y), 1e-6, 'training output');
      const stats = groupStats(xa.data, [...shape], groupSize ?? shape[0]);
      assertClose(weightValues(layer, 'moving_mean'), before.mean.map((m, c) => 0.9 * m + 0.1 * stats.mean[c]), 1e-5, 'moving mean');
      assertClose(weightValues(layer, 'moving_variance'), before.variance.map((v, c) => 0.9 * v + 0.1 * stats.variance[c]), 1e-5, 'moving variance');
      tf.dispose([x, y, want.y, want.mean, want.variance]);
    });
  }

  it('inference call = batchNormInference with the moving statistics, and leaves them unchanged', () => {
    const layer = new BatchNormalization();
    const x = tensor(randn([3, 2, 2, 4], 3, 2));
    layer.apply(x);
    perturbWeights(layer, 4);
    const stats = moving(layer);
    const y = layer.apply(x, { training: false }) as tf.Tensor;
    assertClose(values(y), values(batchNormInference(x, { ...affineOf(layer), ...stats })), 1e-6, 'inference');
    assert.deepEqual(weightValues(layer, 'moving_mean'), stats.movingMean.dataSync());
    // One sample at a time gives the same outputs: no batch dependence at inference.
    const single = layer.apply(tf.slice(x, [1, 0, 0, 0], [1, 2, 2, 4])) as tf.Tensor;
    assertClose(values(single), values(y).slice(16, 32), 1e-6, 'sample 1 alone');
  });

  it('model.fit trains with batch statistics and updates the moving averages; predict uses them', async () => {
    const bn = new BatchNormalization({ momentum: 0.5 });
    const model = modelOf([3, 3, 2], [bn, tfl.layers.flatten(), tfl.layers.dense({ units: 1 })]);
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tensor(randn([4, 3, 3, 2], 5, 3, 2)); // mean 2, variance 9: far from the initial (0, 1)
    await model.fit(x, tf.zeros([4, 1]), { epochs: 1, batchSize: 4, verbose: 0 });
    const stats = groupStats(Float64Array.from(x.dataSync()), [4, 3, 3, 2], 4);
    assertClose(weightValues(bn, 'moving_mean'), stats.mean.map((m) => 0.5 * m), 1e-5, 'moving mean after fit');
    assertClose(weightValues(bn, 'moving_variance'), stats.variance.map((v) => 0.5 + 0.5 * v), 1e-5, 'moving variance after fit');
    const want = batchNormInference(x, { ...affineOf(bn), ...moving(bn) });
    const inner = tfl.model({ inputs: model.inputs, outputs: bn.output as tfl.SymbolicTensor });
    assertClose(values(inner.predict(x) as tf.Tensor), values(want), 1e-6, 'predict');
  });

  it('rejects bad options, and a batch that groupSize does not divide in a training call', () => {
    assert.throws(() => new BatchNormalization({ momentum: 1.5 }), /BatchNormalization: argument 'momentum'.*1\.5/);
    assert.throws(() => new BatchNormalization({ groupSize: 0 }), /argument 'groupSize'.*got 0/);
    const layer = new BatchNormalization({ groupSize: 4 });
    assert.throws(() => layer.apply(tf.zeros([6, 2, 2, 3]), { training: true }), /argument 'groupSize'.*got 4.*divisor of the batch size 6/);
    assert.throws(() => new BatchNormalization().apply(tf.zeros([1, 3]), { training: true }), /argument 'groupSize'.*at least 2 values/);
  });

  it('round-trips through save/load with its moving statistics', async () => {
    const bn = new BatchNormalization({ groupSize: 2, momentum: 0.95, epsilon: 1e-2 });
    const model = modelOf([2, 2, 3], [bn]);
    perturbWeights(bn, 6);
    const loaded = await assertRoundTrip(model, tensor(randn([2, 2, 2, 3], 7)), 'bn');
    const copy = loaded.layers[1] as BatchNormalization;
    assert.deepEqual([copy.groupSize, copy.momentum, copy.epsilon], [2, 0.95, 1e-2]);
  });

  it('leaks no tensor in inference and training calls', () => {
    const layer = new BatchNormalization({ groupSize: 2 });
    const x = tf.randomNormal([4, 3, 3, 2]);
    layer.apply(x);
    assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), 'inference');
    assertNoLeak(() => (layer.apply(x, { training: true }) as tf.Tensor).dispose(), 'training');
    x.dispose();
  });
});

describe('BatchRenormalization layer', () => {
  before(useCpu);

  it('training calls follow the clip schedule with a saved step counter, r/d from the pre-update moving stats', () => {
    const layer = new BatchRenormalization({ warmupSteps: 2, rMax: 2, dMax: 0.5, momentum: 0.8, groupSize: 2 });
    const x = tensor(randn([4, 2, 2, 3], 8, 2, 1));
    layer.apply(x);
    perturbWeights(layer, 9);
    for (let step = 0; step < 4; step++) {
      assert.equal(layer.steps, step);
      const clips = batchRenormClipSchedule(step, { warmupSteps: 2, rMaxFinal: 2, dMaxFinal: 0.5 });
      assert.deepEqual(layer.clips(), clips);
      const stats = moving(layer);
      const want = batchRenormTraining(x, { ...affineOf(layer), ...stats, ...clips, groupSize: 2 });
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      assertClose(values(y), values(want.y), 1e-6, `step ${step}`);
      assertClose(weightValues(layer, 'moving_mean'), values(tf.add(tf.mul(stats.movingMean, 0.8), tf.mul(want.mean, 0.2))), 1e-6, 'moving mean');
      if (step === 0) assertClose(values(y), values(batchNormTraining(x, { ...affineOf(layer), groupSize: 2 }).y), 1e-5, 'step 0 = BN');
    }
    assert.deepEqual([...weightValues(layer, 'step')], [4]);
  });

  it('with inactive clips, its training output equals the inference output (the point of BRN)', () => {
    const layer = new BatchRenormalization({ warmupSteps: 0, rMax: 100, dMax: 100 });
    const x = tensor(randn([4, 3], 10, 2, 1));
    layer.apply(x);
    perturbWeights(layer, 11);
    const inference = values(layer.apply(x) as tf.Tensor);
    assertClose(values(layer.apply(x, { training: true }) as tf.Tensor), inference, 1e-5, 'training = inference');
  });

  it('round-trips through save/load, step counter included', async () => {
    const brn = new BatchRenormalization({ warmupSteps: 10, holdSteps: 3 });
    const model = modelOf([4], [brn]);
    const x = tensor(randn([4, 4], 12));
    for (let i = 0; i < 5; i++) tf.dispose(brn.apply(x, { training: true }) as tf.Tensor);
    const loaded = await assertRoundTrip(model, x, 'brn');
    const copy = loaded.layers[1] as BatchRenormalization;
    assert.equal(copy.steps, 5);
    assert.deepEqual(copy.clips(), brn.clips());
    assert.deepEqual([copy.warmupSteps, copy.holdSteps, copy.rMax, copy.dMax], [10, 3, 3, 5]);
  });

  it('rejects bad clip options, naming them', () => {
    assert.throws(() => new BatchRenormalization({ rMax: 0.5 }), /BatchRenormalization: argument 'rMax'.*0\.5/);
    assert.throws(() => new BatchRenormalization({ dMax: -1 }), /argument 'dMax'/);
    assert.throws(() => new BatchRenormalization({ warmupSteps: 1.5 }), /argument 'warmupSteps'/);
  });

  it('leaks no tensor in training calls', () => {
    const layer = new BatchRenormalization();
    const x = tf.randomNormal([4, 3]);
    layer.apply(x);
    assertNoLeak(() => (layer.apply(x, { training: true }) as tf.Tensor).dispose(), 'training');
    assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), 'inference');
    x.dispose();
  });
});
