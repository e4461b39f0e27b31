import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { batchCount, batches, batchesAsync, type Batch, type BatchOptions } from '../../src/data/batches.js';
import { type Dataset, makeDataset } from '../../src/data/dataset.js';
import { epochOrder } from '../../src/data/random.js';
import { assertNoLeak, assertNoLeakAsync, rng, useCpu } from '../helpers.js';
import { padCropFlipReference } from './reference.js';

const [N, H, W, C, K] = [11, 3, 4, 2, 3];
const SIZE = H * W * C;

function dataset(): Dataset {
  const r = rng(21);
  return makeDataset({
    images: Float32Array.from({ length: N * SIZE }, () => r()),
    labels: Uint8Array.from({ length: N }, (_, i) => (i * 2) % K),
    height: H, width: W, channels: C, numClasses: K, name: 'tiny',
  });
}

/** Host copies of a batch, disposing its tensors. */
function take(b: Batch): { x: Float32Array; y: Float32Array | Int32Array; yShape: number[]; indices: number[]; labels: number[] } {
  assert.deepEqual(b.x.shape, [b.size, H, W, C]);
  const out = { x: b.x.dataSync() as Float32Array, y: b.y.dataSync() as Float32Array | Int32Array, yShape: b.y.shape, indices: Array.from(b.indices), labels: Array.from(b.labels) };
  b.dispose();
  return out;
}

function epoch(ds: Dataset, options: BatchOptions): ReturnType<typeof take>[] {
  return Array.from(batches(ds, options), take);
}

function image(ds: Dataset, i: number): Float32Array {
  return ds.images.subarray(i * SIZE, (i + 1) * SIZE);
}

describe('batches', () => {
  before(useCpu);
  const ds = dataset();

  it('without shuffling, yields the dataset in order with one-hot labels; keeps or drops the remainder', () => {
    const kept = epoch(ds, { batchSize: 4, shuffle: false });
    assert.deepEqual(kept.map((b) => b.indices.length), [4, 4, 3]);
    assert.equal(batchCount(N, 4), 3);
    assert.equal(batchCount(N, 4, true), 2);
    assert.deepEqual(kept.flatMap((b) => b.indices), Array.from({ length: N }, (_, i) => i));
    for (const b of kept) {
      b.indices.forEach((i, k) => {
        assert.deepEqual(b.x.subarray(k * SIZE, (k + 1) * SIZE), image(ds, i));
        const row = Array.from(b.y.subarray(k * K, (k + 1) * K));
        assert.deepEqual(row, Array.from({ length: K }, (_, c) => (c === ds.labels[i] ? 1 : 0)));
        assert.equal(b.labels[k], ds.labels[i]);
      });
      assert.deepEqual(b.yShape, [b.indices.length, K]);
    }
    const dropped = epoch(ds, { batchSize: 4, shuffle: false, dropRemainder: true });
    assert.deepEqual(dropped.map((b) => b.indices.length), [4, 4]);
    assert.equal(epoch(ds, { batchSize: 20, dropRemainder: true }).length, 0);
  });

  it("int labels are an int32 [B] tensor", () => {
    const [b] = Array.from(batches(ds, { batchSize: N, shuffle: false, labels: 'int' }));
    assert.equal(b.y.dtype, 'int32');
    assert.deepEqual(b.y.shape, [N]);
    assert.deepEqual(Array.from(b.y.dataSync()), Array.from(ds.labels));
    b.dispose();
  });

  it('shuffled epochs visit a permutation that depends only on (seed, epoch)', () => {
    const a = epoch(ds, { batchSize: 3, seed: 5, epoch: 2 });
    const order = a.flatMap((b) => b.indices);
    assert.deepEqual(order, Array.from(epochOrder(N, 5, 2)));
    assert.deepEqual([...order].sort((p, q) => p - q), Array.from({ length: N }, (_, i) => i));
    for (const b of a) b.indices.forEach((i, k) => assert.deepEqual(b.x.subarray(k * SIZE, (k + 1) * SIZE), image(ds, i)));
    assert.deepEqual(epoch(ds, { batchSize: 3, seed: 5, epoch: 2 }), a);
    assert.notDeepEqual(epoch(ds, { batchSize: 3, seed: 5, epoch: 3 }).flatMap((b) => b.indices), order);
    assert.notDeepEqual(epoch(ds, { batchSize: 3, seed: 6, epoch: 2 }).flatMap((b) => b.indices), order);
  });

  it('standardizes with the given per-channel statistics', () => {
    const stats = { mean: [0.25, 0.75], std: [0.5, 2] };
    const [b] = epoch(ds, { batchSize: N, shuffle: false, standardize: stats });
    for (let i = 0; i < N * SIZE; i++) {
      const c = i % C;
      assert.ok(Math.abs(b.x[i] - (ds.images[i] - stats.mean[c]) / stats.std[c]) < 1e-6);
    }
  });

  it('augments each image with some zero-padded crop and flip of its source, seeded per epoch', () => {
    const pad = 1;
    const stats = { mean: [0.5, 0.5], std: [0.25, 0.5] };
    const seen = new Set<string>();
    const run = (e: number) => epoch(ds, { batchSize: 4, seed: 1, epoch: e, standardize: stats, augment: { pad, flip: true } });
    for (const e of [0, 1, 2, 3]) {
      for (const b of run(e)) {
        b.indices.forEach((i, k) => {
          const src = Array.from(image(ds, i), (v, j) => (v - stats.mean[j % C]) / stats.std[j % C]);
          const got = b.x.subarray(k * SIZE, (k + 1) * SIZE);
          const matches: string[] = [];
          for (let dy = -pad; dy <= pad; dy++) {
            for (let dx = -pad; dx <= pad; dx++) {
              for (const flip of [false, true]) {
                const ref = padCropFlipReference(src, H, W, C, pad, dy, dx, flip);
                if (ref.every((v, j) => Math.abs(v - got[j]) < 1e-5)) matches.push(`${dy},${dx},${flip}`);
              }
            }
          }
          assert.ok(matches.length >= 1, `image ${i} is no pad/crop/flip of its source`);
          matches.forEach((m) => seen.add(m));
        });
      }
    }
    // 44 augmented images: many of the 18 transforms appear, flipped and not.
    assert.ok(seen.size >= 10, `only ${seen.size} distinct transforms`);
    assert.ok([...seen].some((m) => m.endsWith('true')) && [...seen].some((m) => m.endsWith('false')));
    assert.deepEqual(run(2), run(2));
    assert.notDeepEqual(run(2).map((b) => b.x), run(3).map((b) => b.x));
  });

  it('batchesAsync yields the same batches, with and without prefetch', async () => {
    const options: BatchOptions = { batchSize: 4, seed: 3, epoch: 1, augment: { pad: 1, flip: true }, labels: 'int' };
    const sync = epoch(ds, options);
    for (const prefetch of [true, false]) {
      const got: ReturnType<typeof take>[] = [];
      for await (const b of batchesAsync(ds, { ...options, prefetch })) got.push(take(b));
      assert.deepEqual(got, sync);
    }
  });

  it('leaks no tensor over an epoch, nor when the loop stops early', async () => {
    assertNoLeak(() => {
      for (const b of batches(ds, { batchSize: 4, augment: { pad: 1 } })) b.dispose();
    }, 'full epoch');
    assertNoLeak(() => {
      for (const b of batches(ds, { batchSize: 2 })) {
        b.dispose();
        break;
      }
    }, 'early break');
    await assertNoLeakAsync(async () => {
      for await (const b of batchesAsync(ds, { batchSize: 2, prefetch: true })) {
        b.dispose();
        if (b.indices[0] >= 0) break;
      }
      await new Promise((r) => setTimeout(r, 5)); // let the pending prefetch run
    }, 'async early break');
    // Exactly the yielded tensors exist until disposed.
    const before = tf.memory().numTensors;
    const it = batches(ds, { batchSize: 4 });
    const first = it.next().value as Batch;
    assert.equal(tf.memory().numTensors, before + 2);
    first.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('checks its arguments when called, naming them', () => {
    const bad: Array<[BatchOptions, RegExp]> = [
      [{ batchSize: 0 }, /batches: argument 'options\.batchSize' is invalid: got 0, expected a whole number >= 1/],
      [{ batchSize: 2.5 }, /argument 'options\.batchSize' is invalid: got 2\.5/],
      [{ batchSize: 2, epoch: -1 }, /argument 'options\.epoch' is invalid: got -1/],
      [{ batchSize: 2, labels: 'sparse' as 'int' }, /argument 'options\.labels' is invalid: got 'sparse', expected one of 'onehot', 'int'/],
      [{ batchSize: 2, standardize: { mean: [0], std: [1] } }, /argument 'options\.standardize\.mean' is invalid: got '1 values', expected 2 values/],
      [{ batchSize: 2, augment: { pad: -1 } }, /argument 'options\.augment\.pad' is invalid: got -1, expected a whole number >= 0/],
    ];
    for (const [options, pattern] of bad) assert.throws(() => batches(ds, options), pattern);
    assert.throws(() => batchesAsync(ds, { batchSize: 0 }), /batchesAsync: argument 'options\.batchSize'/);
    const broken = { ...ds, images: ds.images.subarray(1) };
    assert.throws(() => batches(broken, { batchSize: 2 }), /batches: argument 'dataset\.images' is invalid: got 'length 263', expected length 264/);
  });
});
