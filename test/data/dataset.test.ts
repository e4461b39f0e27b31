import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertDataset, bytesToUnitFloat, classCounts, type Dataset, makeDataset, selectExamples } from '../../src/data/dataset.js';

function tiny(): Dataset {
  return makeDataset({ images: Float32Array.from({ length: 3 * 2 * 2 }, (_, i) => i), labels: Uint8Array.of(2, 0, 2), height: 2, width: 1, channels: 2, numClasses: 3, name: 't' });
}

describe('Dataset', () => {
  it('makeDataset infers count; selectExamples copies the chosen examples in order', () => {
    const ds = tiny();
    assert.equal(ds.count, 3);
    const s = selectExamples(ds, [2, 0, 2], 's');
    assert.deepEqual(Array.from(s.images), [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]);
    assert.deepEqual(Array.from(s.labels), [2, 2, 2]);
    assert.equal(s.name, 's');
    s.images[0] = -1;
    assert.equal(ds.images[8], 8, 'selectExamples copies');
    assert.deepEqual(Array.from(classCounts(ds)), [1, 0, 2]);
    assert.throws(() => selectExamples(ds, [3]), /selectExamples: argument 'indices\[0\]' is invalid: got 3, expected an index in \[0, 2\]/);
  });

  it('assertDataset names the inconsistent field', () => {
    const ds = tiny();
    assert.throws(() => assertDataset('f', { ...ds, height: 0 }), /f: argument 'dataset\.height' is invalid: got 0/);
    assert.throws(() => assertDataset('f', { ...ds, labels: Uint8Array.of(1, 2) }), /argument 'dataset\.labels' is invalid: got 'length 2', expected length 3/);
    assert.throws(() => assertDataset('f', { ...ds, labels: Uint8Array.of(1, 2, 3) }), /argument 'dataset\.labels\[2\]' is invalid: got 3, expected a class in \[0, 2\]/);
    assert.throws(() => assertDataset('f', { ...ds, images: new Float64Array(12) as unknown as Float32Array }), /argument 'dataset\.images' is invalid: got 'Float64Array', expected a Float32Array/);
    assert.throws(() => assertDataset('f', { ...ds, classNames: ['a'] }), /argument 'dataset\.classNames' is invalid/);
  });

  it('bytesToUnitFloat divides by 255', () => {
    assert.deepEqual(Array.from(bytesToUnitFloat(Uint8Array.of(0, 51, 255))), [0, Math.fround(0.2), 1]);
  });
});
