import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classCounts, type Dataset, makeDataset } from '../../src/data/dataset.js';
import { sampleIndices, subset, trainValidationSplit } from '../../src/data/splits.js';

/** 100 one-pixel images whose value encodes their index; classes 0..3 with 40/30/20/10 examples, interleaved. */
function dataset(): Dataset {
  const labels = new Uint8Array(100);
  const pattern = [0, 1, 0, 2, 1, 0, 3, 2, 1, 0];
  for (let i = 0; i < 100; i++) labels[i] = pattern[i % 10];
  const images = Float32Array.from({ length: 100 }, (_, i) => i / 100);
  return makeDataset({ images, labels, height: 1, width: 1, channels: 1, numClasses: 4, name: 'd' });
}

/** The original index of each example (decoded from its pixel). */
const ids = (ds: Dataset): number[] => Array.from(ds.images, (v) => Math.round(v * 100));

describe('subset', () => {
  const ds = dataset();

  it("'first' keeps the first N examples", () => {
    const s = subset(ds, { count: 7 });
    assert.deepEqual(ids(s), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(s.labels), Array.from(ds.labels.subarray(0, 7)));
    assert.equal(s.name, 'd:first7');
  });

  it("'random' is a seeded, stratified sample kept in dataset order", () => {
    const s = subset(ds, { count: 20, mode: 'random', seed: 4 });
    const idx = ids(s);
    assert.equal(new Set(idx).size, 20);
    assert.deepEqual(idx, [...idx].sort((a, b) => a - b));
    idx.forEach((i, k) => assert.equal(s.labels[k], ds.labels[i]));
    assert.deepEqual(Array.from(classCounts(s)), [8, 6, 4, 2]);
    assert.deepEqual(ids(subset(ds, { count: 20, mode: 'random', seed: 4 })), idx);
    assert.notDeepEqual(ids(subset(ds, { count: 20, mode: 'random', seed: 5 })), idx);
    assert.equal(s.name, 'd:random20');
  });

  it('stratified quotas round by largest remainder and sum to the count', () => {
    // 40/30/20/10 of 100, 7 wanted: quotas 2.8, 2.1, 1.4, 0.7 -> floors 2, 2, 1, 0, the missing 2 go to 2.8 and 0.7.
    const idx = sampleIndices(ds.labels, 4, 7, 1);
    const counts = [0, 0, 0, 0];
    for (const i of idx) counts[ds.labels[i]]++;
    assert.deepEqual(counts, [3, 2, 1, 1]);
    const plain = sampleIndices(ds.labels, 4, 30, 1, false);
    assert.equal(new Set(plain).size, 30);
  });

  it('rejects bad counts and modes', () => {
    assert.throws(() => subset(ds, { count: 101 }), /subset: argument 'options\.count' is invalid: got 101, expected a whole number in \[0, 100\]/);
    assert.throws(() => subset(ds, { count: 5, mode: 'last' as 'first' }), /argument 'options\.mode' is invalid: got 'last'/);
  });
});

describe('trainValidationSplit', () => {
  const ds = dataset();

  it('gives disjoint parts covering the dataset, stratified and seeded', () => {
    const { train, validation } = trainValidationSplit(ds, { validation: 0.2, seed: 3 });
    assert.equal(validation.count, 20);
    assert.equal(train.count, 80);
    const all = [...ids(train), ...ids(validation)].sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(Array.from(classCounts(validation)), [8, 6, 4, 2]);
    assert.deepEqual(Array.from(classCounts(train)), [32, 24, 16, 8]);
    for (const part of [train, validation]) ids(part).forEach((i, k) => assert.equal(part.labels[k], ds.labels[i]));
    assert.deepEqual(ids(trainValidationSplit(ds, { validation: 20, seed: 3 }).validation), ids(validation));
    assert.notDeepEqual(ids(trainValidationSplit(ds, { validation: 20, seed: 9 }).validation), ids(validation));
    assert.equal(validation.name, 'd:validation');
    assert.equal(trainValidationSplit(ds, { validation: 1 }).validation.count, 1);
  });

  it('rejects validation sizes that leave a part empty', () => {
    for (const v of [0, 100, -3, 2.5, 0.001, 0.999]) {
      assert.throws(() => trainValidationSplit(ds, { validation: v }), /trainValidationSplit: argument 'options\.validation' is invalid/);
    }
  });
});
