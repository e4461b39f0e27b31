import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertDataset, classCounts, type Dataset, imageSize } from '../../src/data/dataset.js';
import { syntheticDataset, syntheticSplits } from '../../src/data/synthetic.js';

/** Accuracy on `test` of the nearest-class-mean classifier fitted on `train`. */
function nearestMeanAccuracy(train: Dataset, test: Dataset): number {
  const size = imageSize(train);
  const means = new Float64Array(train.numClasses * size);
  const counts = classCounts(train);
  for (let n = 0; n < train.count; n++) {
    for (let j = 0; j < size; j++) means[train.labels[n] * size + j] += train.images[n * size + j] / counts[train.labels[n]];
  }
  let correct = 0;
  for (let n = 0; n < test.count; n++) {
    let best = -1, bestDist = Infinity;
    for (let k = 0; k < test.numClasses; k++) {
      let d = 0;
      for (let j = 0; j < size; j++) d += (test.images[n * size + j] - means[k * size + j]) ** 2;
      if (d < bestDist) [best, bestDist] = [k, d];
    }
    if (best === test.labels[n]) correct++;
  }
  return correct / test.count;
}

describe('syntheticDataset', () => {
  it('has the requested shape, values in [0, 1], and balanced labels', () => {
    const ds = syntheticDataset({ count: 23, height: 5, width: 6, channels: 3, numClasses: 4, seed: 2 });
    assertDataset('test', ds);
    assert.deepEqual([ds.count, ds.height, ds.width, ds.channels, ds.numClasses], [23, 5, 6, 3, 4]);
    assert.ok(ds.images.every((v) => v >= 0 && v <= 1));
    const counts = Array.from(classCounts(ds));
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
  });

  it('is deterministic in its options and differs across seeds and splits', () => {
    const a = syntheticDataset({ count: 10, seed: 1 });
    assert.deepEqual(syntheticDataset({ count: 10, seed: 1 }), a);
    assert.notDeepEqual(syntheticDataset({ count: 10, seed: 2 }).images, a.images);
    assert.notDeepEqual(syntheticDataset({ count: 10, seed: 1, split: 1 }).images, a.images);
  });

  it('is learnable: a nearest-class-mean classifier generalises from train to test', () => {
    const { train, test } = syntheticSplits({ trainCount: 300, testCount: 200, seed: 3 });
    assert.equal(train.name, 'synthetic/train');
    assert.ok(nearestMeanAccuracy(train, test) > 0.9);
    // A different seed is a different task: its class means do not transfer.
    const other = syntheticDataset({ count: 200, seed: 4, split: 1 });
    assert.ok(nearestMeanAccuracy(train, other) < 0.5);
  });

  it('shift and noise make the task harder', () => {
    const easy = syntheticSplits({ trainCount: 300, testCount: 200, seed: 3, noise: 0.05 });
    const hard = syntheticSplits({ trainCount: 300, testCount: 200, seed: 3, noise: 0.6, shift: 3 });
    assert.ok(nearestMeanAccuracy(hard.train, hard.test) < nearestMeanAccuracy(easy.train, easy.test));
  });

  it('rejects bad options, naming them', () => {
    assert.throws(() => syntheticDataset({ count: -1 }), /syntheticDataset: argument 'options\.count' is invalid: got -1/);
    assert.throws(() => syntheticDataset({ count: 4, channels: 0 }), /argument 'options\.channels' is invalid: got 0, expected a whole number >= 1/);
    assert.throws(() => syntheticDataset({ count: 4, noise: -0.1 }), /argument 'options\.noise' is invalid/);
  });
});
