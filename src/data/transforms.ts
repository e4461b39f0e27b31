/**
 * Per-channel standardization and the standard image augmentations (zero-padded random crop, horizontal
 * flip), written as loops over typed arrays so that batches are built without any tensor work. Browser-safe.
 * @module
 */
import { argumentError } from '../ops/validate.js';
import { assertDataset, type Dataset } from './dataset.js';
import { randomInt, type Rng } from './random.js';

/** Per-channel mean and standard deviation, `channels` values each. */
export interface ChannelStats {
  mean: number[];
  std: number[];
}

/**
 * Mean and (population) standard deviation of each channel over all images and positions, accumulated in
 * float64 with two passes. Compute them on the training split and apply them to every split.
 * A constant channel gets `std = 1` (so standardizing only centres it).
 */
export function channelStats(ds: Dataset): ChannelStats {
  assertDataset('channelStats', ds, 'dataset', false);
  if (ds.count === 0) throw argumentError('channelStats', 'dataset', 'an empty dataset', 'at least one image');
  const C = ds.channels;
  const x = ds.images;
  const n = x.length / C;
  const mean: number[] = [];
  const sq: number[] = [];
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let i = c; i < x.length; i += C) sum += x[i];
    const m = sum / n;
    let ss = 0;
    for (let i = c; i < x.length; i += C) {
      const d = x[i] - m;
      ss += d * d;
    }
    mean.push(m);
    sq.push(ss);
  }
  const std = sq.map((s) => Math.sqrt(s / n) || 1);
  return { mean, std };
}

/** Checks `stats` against a channel count. */
export function assertChannelStats(op: string, name: string, stats: ChannelStats, channels: number): void {
  if (stats === null || typeof stats !== 'object') throw argumentError(op, name, typeof stats, '{ mean, std }');
  for (const f of ['mean', 'std'] as const) {
    const v = stats[f];
    if (v === undefined || v.length !== channels) throw argumentError(op, `${name}.${f}`, v === undefined ? 'undefined' : `${v.length} values`, `${channels} values (one per channel)`);
    for (let c = 0; c < channels; c++) {
      if (!Number.isFinite(v[c]) || (f === 'std' && v[c] <= 0)) {
        throw argumentError(op, `${name}.${f}[${c}]`, v[c], f === 'std' ? 'a finite number > 0' : 'a finite number');
      }
    }
  }
}

/**
 * A new dataset with `(x - mean[c]) / std[c]` (its values are no longer in `[0, 1]`). Usually cheaper:
 * pass the statistics to the batch iterator (`standardize` option), which applies them per batch.
 */
export function standardize(ds: Dataset, stats: ChannelStats, name = ds.name): Dataset {
  const op = 'standardize';
  assertDataset(op, ds, 'dataset', false);
  assertChannelStats(op, 'stats', stats, ds.channels);
  const C = ds.channels;
  const mean = Float32Array.from(stats.mean);
  const inv = Float32Array.from(stats.std, (s) => 1 / s);
  const out = new Float32Array(ds.images.length);
  const x = ds.images;
  for (let i = 0; i < x.length; i += C) for (let c = 0; c < C; c++) out[i + c] = (x[i + c] - mean[c]) * inv[c];
  return { ...ds, images: out, name };
}

/** Options of the random augmentation. */
export interface AugmentOptions {
  /**
   * Random crop after zero padding: pad each side by `pad` pixels and crop back to the original size at a
   * uniformly random offset (shifts in `[-pad, pad]` on each axis). Default 0 (off). CIFAR uses 4.
   */
  pad?: number;
  /** Random horizontal flip with probability 1/2. Default false (leave off for digits). */
  flip?: boolean;
}

/** One image's transform: `out[h, w] = in[h + dy, (flip ? W-1-w : w) + dx]`, 0 outside the image. */
export interface ImageTransform {
  dy: number;
  dx: number;
  flip: boolean;
}

/** The identity {@link ImageTransform}. */
export const IDENTITY_TRANSFORM: Readonly<ImageTransform> = Object.freeze({ dy: 0, dx: 0, flip: false });

/** Checks augmentation options. */
export function assertAugmentOptions(op: string, name: string, a: AugmentOptions): void {
  const pad = a.pad ?? 0;
  if (!Number.isInteger(pad) || pad < 0) throw argumentError(op, `${name}.pad`, pad, 'a whole number >= 0');
  if (a.flip !== undefined && typeof a.flip !== 'boolean') throw argumentError(op, `${name}.flip`, a.flip, 'a boolean');
}

/** Draws a random transform: shifts uniform in `[-pad, pad]`, flip with probability 1/2 when enabled. */
export function randomTransform(rng: Rng, options: AugmentOptions): ImageTransform {
  const pad = options.pad ?? 0;
  const dy = pad > 0 ? randomInt(rng, 2 * pad + 1) - pad : 0;
  const dx = pad > 0 ? randomInt(rng, 2 * pad + 1) - pad : 0;
  const flip = options.flip === true ? rng() < 0.5 : false;
  return { dy, dx, flip };
}

/** Geometry and optional standardization of {@link transformImage}. */
export interface ImageLayout {
  height: number;
  width: number;
  channels: number;
  /** Per-channel mean subtracted before the transform (length `channels`); omitted = 0. */
  mean?: Float32Array;
  /** Per-channel factor applied after subtracting the mean (1/std); omitted = 1. */
  invStd?: Float32Array;
}

const NEUTRAL: Record<0 | 1, Float32Array> = { 0: new Float32Array(4), 1: new Float32Array(4).fill(1) };

/** A shared array of at least `n` zeros or ones (never written to). */
function neutral(n: number, value: 0 | 1): Float32Array {
  if (NEUTRAL[value].length < n) NEUTRAL[value] = new Float32Array(n).fill(value);
  return NEUTRAL[value];
}

/**
 * Writes one transformed image: `dst[h, w, c] = (src[h + dy, w' + dx, c] - mean[c]) * invStd[c]` with
 * `w' = flip ? W-1-w : w`, and 0 where the source position is outside the image (zero padding, applied
 * after standardization, so padding equals the channel mean in input units).
 * @param src NHWC source values; the image starts at `srcOffset`.
 * @param dst destination; the image is written at `dstOffset`.
 */
export function transformImage(src: Float32Array, srcOffset: number, dst: Float32Array, dstOffset: number, layout: ImageLayout, t: ImageTransform): void {
  const { height: H, width: W, channels: C } = layout;
  const plain = layout.mean === undefined && layout.invStd === undefined;
  const mean = layout.mean ?? neutral(C, 0);
  const inv = layout.invStd ?? neutral(C, 1);
  const row = W * C;
  const { dy, dx, flip } = t;
  // Output columns whose source column lies inside the image: w + dx in [0, W), or W-1-w + dx in [0, W) when flipped.
  const w0 = Math.max(0, flip ? dx : -dx);
  const w1 = Math.min(W, flip ? W + dx : W - dx);
  for (let h = 0; h < H; h++) {
    const sh = h + dy;
    const out = dstOffset + h * row;
    if (sh < 0 || sh >= H || w0 >= w1) {
      dst.fill(0, out, out + row);
      continue;
    }
    if (w0 > 0) dst.fill(0, out, out + w0 * C);
    if (w1 < W) dst.fill(0, out + w1 * C, out + row);
    const inRow = srcOffset + sh * row;
    if (!flip) {
      const from = inRow + (w0 + dx) * C;
      const to = out + w0 * C;
      const len = (w1 - w0) * C;
      if (plain) {
        dst.set(src.subarray(from, from + len), to);
      } else {
        for (let j = 0, c = 0; j < len; j++) {
          dst[to + j] = (src[from + j] - mean[c]) * inv[c];
          if (++c === C) c = 0;
        }
      }
    } else {
      for (let w = w0; w < w1; w++) {
        const from = inRow + (W - 1 - w + dx) * C;
        const to = out + w * C;
        for (let c = 0; c < C; c++) dst[to + c] = (src[from + c] - mean[c]) * inv[c];
      }
    }
  }
}

/** The {@link ImageLayout} of a dataset, with optional standardization statistics. @internal */
export function layoutOf(ds: Dataset, stats?: ChannelStats): ImageLayout {
  const layout: ImageLayout = { height: ds.height, width: ds.width, channels: ds.channels };
  if (stats !== undefined) {
    layout.mean = Float32Array.from(stats.mean);
    layout.invStd = Float32Array.from(stats.std, (s) => 1 / s);
  }
  return layout;
}
