import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataset } from '../../src/data/dataset.js';
import { mulberry32 } from '../../src/data/random.js';
import { channelStats, layoutOf, randomTransform, standardize, transformImage } from '../../src/data/transforms.js';
import { assertClose, rng } from '../helpers.js';
import { padCropFlipReference } from './reference.js';

function randomImages(n: number, size: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * size }, () => r());
}

describe('channelStats and standardize', () => {
  it('match float64 per-channel mean and population std', () => {
    const [N, H, W, C] = [5, 3, 4, 3];
    const r = rng(3);
    // Channels on different scales and offsets.
    const images = Float32Array.from({ length: N * H * W * C }, (_, i) => [0.1, 0.5, 0.9][i % C] + [0.01, 0.1, 0.05][i % C] * (r() - 0.5));
    const ds = makeDataset({ images, labels: new Uint8Array(N), height: H, width: W, channels: C, numClasses: 1, name: 't' });
    const stats = channelStats(ds);
    for (let c = 0; c < C; c++) {
      const vals: number[] = [];
      for (let i = c; i < images.length; i += C) vals.push(images[i]);
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
      assert.ok(Math.abs(stats.mean[c] - mean) <= 1e-12 * Math.abs(mean));
      assert.ok(Math.abs(stats.std[c] - std) <= 1e-9 * std);
    }
    const z = standardize(ds, stats, 'z');
    assert.equal(z.name, 'z');
    const zs = channelStats(z);
    for (let c = 0; c < C; c++) {
      assert.ok(Math.abs(zs.mean[c]) < 1e-5, `mean ${zs.mean[c]}`);
      assert.ok(Math.abs(zs.std[c] - 1) < 1e-5, `std ${zs.std[c]}`);
    }
    assert.equal(ds.images, images, 'input untouched');
  });

  it('gives std 1 to a constant channel, and rejects bad statistics and empty datasets', () => {
    const ds = makeDataset({ images: new Float32Array(8).fill(0.25), labels: new Uint8Array(2), height: 2, width: 2, channels: 1, numClasses: 1, name: 't' });
    assert.deepEqual(channelStats(ds), { mean: [0.25], std: [1] });
    assert.throws(() => standardize(ds, { mean: [0, 0], std: [1, 1] }), /standardize: argument 'stats\.mean' is invalid: got '2 values', expected 1 values/);
    assert.throws(() => standardize(ds, { mean: [0], std: [0] }), /standardize: argument 'stats\.std\[0\]' is invalid: got 0, expected a finite number > 0/);
    const empty = makeDataset({ images: new Float32Array(0), labels: new Uint8Array(0), height: 2, width: 2, channels: 1, numClasses: 1, name: 'e' });
    assert.throws(() => channelStats(empty), /channelStats: argument 'dataset' is invalid/);
  });
});

describe('transformImage (zero-padded crop and horizontal flip)', () => {
  const [H, W, C] = [4, 5, 2];
  const size = H * W * C;
  const src = randomImages(3, size, 11);
  const mean = Float32Array.of(0.3, 0.6);
  const invStd = Float32Array.of(2, 0.5);

  for (const standardized of [false, true]) {
    it(`matches the explicit pad/crop/flip reference for every offset in [-2, 2] (${standardized ? 'standardized' : 'raw'})`, () => {
      const layout = standardized ? { height: H, width: W, channels: C, mean, invStd } : { height: H, width: W, channels: C };
      // Image 1 of the source, standardized first (the reference pads standardized values with 0).
      const img = Float64Array.from(src.subarray(size, 2 * size), (v, i) => (standardized ? (v - mean[i % C]) * invStd[i % C] : v));
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          for (const flip of [false, true]) {
            const dst = new Float32Array(3 * size).fill(NaN);
            transformImage(src, size, dst, 2 * size, layout, { dy, dx, flip });
            const expected = padCropFlipReference(img, H, W, C, 2, dy, dx, flip);
            assertClose(dst.subarray(2 * size), expected, 1e-6, `dy ${dy} dx ${dx} flip ${flip}`);
            assert.ok(dst.subarray(0, 2 * size).every(Number.isNaN), 'wrote outside the destination image');
          }
        }
      }
    });
  }

  it('gives an all-zero image when the shift is at least the image size', () => {
    const dst = new Float32Array(size).fill(9);
    transformImage(src, 0, dst, 0, { height: H, width: W, channels: C }, { dy: 0, dx: W, flip: true });
    assert.ok(dst.every((v) => v === 0));
    dst.fill(9);
    transformImage(src, 0, dst, 0, { height: H, width: W, channels: C }, { dy: -H, dx: 0, flip: false });
    assert.ok(dst.every((v) => v === 0));
  });

  it('a horizontal flip of a tiny 1x3 image reverses its columns, keeping channel order', () => {
    const img = Float32Array.of(1, 2, 3, 4, 5, 6); // pixels (1,2) (3,4) (5,6)
    const dst = new Float32Array(6);
    transformImage(img, 0, dst, 0, { height: 1, width: 3, channels: 2 }, { dy: 0, dx: 0, flip: true });
    assert.deepEqual(Array.from(dst), [5, 6, 3, 4, 1, 2]);
    transformImage(img, 0, dst, 0, { height: 1, width: 3, channels: 2 }, { dy: 0, dx: 1, flip: false });
    assert.deepEqual(Array.from(dst), [3, 4, 5, 6, 0, 0]);
  });

  it('randomTransform draws shifts uniformly in [-pad, pad] and flips half the time', () => {
    const r = mulberry32(4);
    const counts = new Map<number, number>();
    let flips = 0;
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const t = randomTransform(r, { pad: 2, flip: true });
      assert.ok(Math.abs(t.dy) <= 2 && Math.abs(t.dx) <= 2 && Number.isInteger(t.dy) && Number.isInteger(t.dx));
      counts.set(t.dx, (counts.get(t.dx) ?? 0) + 1);
      if (t.flip) flips++;
    }
    assert.equal(counts.size, 5);
    for (const [, c] of counts) assert.ok(Math.abs(c - n / 5) < 0.1 * n / 5);
    assert.ok(Math.abs(flips - n / 2) < 0.05 * n);
    assert.deepEqual(randomTransform(r, {}), { dy: 0, dx: 0, flip: false });
  });

  it('layoutOf turns statistics into mean and 1/std', () => {
    const ds = makeDataset({ images: new Float32Array(8), labels: new Uint8Array(1), height: 2, width: 2, channels: 2, numClasses: 1, name: 't' });
    const l = layoutOf(ds, { mean: [0.5, 0.25], std: [2, 4] });
    assert.deepEqual(Array.from(l.mean ?? []), [0.5, 0.25]);
    assert.deepEqual(Array.from(l.invStd ?? []), [0.5, 0.25]);
  });
});
