/**
 * A seeded synthetic image classification task for tests and smoke runs: each class has a fixed random
 * prototype (a sum of oriented sinusoidal gratings per channel), and every example is its class prototype,
 * randomly translated (circularly), contrast-jittered and with Gaussian noise added, clipped to `[0, 1]`.
 * Learnable (a nearest-class-mean classifier already does well at the default noise) yet not trivial when
 * `noise`/`shift` are raised. Any size, shape and number of classes. Browser-safe.
 * @module
 */
import { argumentError } from '../ops/validate.js';
import type { Dataset, DatasetSplits } from './dataset.js';
import { deriveSeed, mulberry32, type Rng, shuffleInPlace, STREAM } from './random.js';

/** Options of {@link syntheticDataset}. */
export interface SyntheticOptions {
  /** Number of examples. */
  count: number;
  /** Image height; default 8. */
  height?: number;
  /** Image width; default 8. */
  width?: number;
  /** Channels; default 1. */
  channels?: number;
  /** Classes; default 10. */
  numClasses?: number;
  /** Seed of the class prototypes and (with `split`) of the examples; default 0. */
  seed?: number;
  /**
   * Which sample stream to draw examples from (the prototypes are shared by all): use different values for
   * train and test splits of the same task; default 0.
   */
  split?: number;
  /** Standard deviation of the per-pixel Gaussian noise; default 0.1. */
  noise?: number;
  /** Maximum random circular translation in pixels, on each axis; default 0. */
  shift?: number;
  /** Name; default `'synthetic'`. */
  name?: string;
}

function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Class prototypes, `[numClasses, H, W, C]`, values in [0.15, 0.85]. */
function prototypes(K: number, H: number, W: number, C: number, seed: number): Float32Array {
  const rng = mulberry32(deriveSeed(seed, STREAM.synthetic, 0));
  const size = H * W * C;
  const out = new Float32Array(K * size);
  const field = new Float64Array(size);
  for (let k = 0; k < K; k++) {
    field.fill(0);
    for (let c = 0; c < C; c++) {
      for (let g = 0; g < 3; g++) {
        const angle = Math.PI * rng();
        const freq = 2 * Math.PI * (0.5 + 1.5 * rng()) / Math.max(H, W);
        const phase = 2 * Math.PI * rng();
        const amp = 0.5 + rng();
        const fy = freq * Math.sin(angle), fx = freq * Math.cos(angle);
        for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) field[(h * W + w) * C + c] += amp * Math.cos(fy * h + fx * w + phase);
      }
    }
    let lo = Infinity, hi = -Infinity;
    for (const v of field) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const span = hi - lo || 1;
    for (let i = 0; i < size; i++) out[k * size + i] = 0.15 + (0.7 * (field[i] - lo)) / span;
  }
  return out;
}

/** Checks and fills the options of {@link syntheticDataset}. */
function resolve(op: string, o: SyntheticOptions): Required<SyntheticOptions> {
  const r: Required<SyntheticOptions> = {
    count: o.count, height: o.height ?? 8, width: o.width ?? 8, channels: o.channels ?? 1, numClasses: o.numClasses ?? 10,
    seed: o.seed ?? 0, split: o.split ?? 0, noise: o.noise ?? 0.1, shift: o.shift ?? 0, name: o.name ?? 'synthetic',
  };
  if (!Number.isInteger(r.count) || r.count < 0) throw argumentError(op, 'options.count', r.count, 'a whole number >= 0');
  for (const f of ['height', 'width', 'channels', 'numClasses'] as const) {
    if (!Number.isInteger(r[f]) || r[f] < 1) throw argumentError(op, `options.${f}`, r[f], 'a whole number >= 1');
  }
  if (!Number.isInteger(r.split) || r.split < 0) throw argumentError(op, 'options.split', r.split, 'a whole number >= 0');
  if (!Number.isFinite(r.noise) || r.noise < 0) throw argumentError(op, 'options.noise', r.noise, 'a finite number >= 0');
  if (!Number.isInteger(r.shift) || r.shift < 0) throw argumentError(op, 'options.shift', r.shift, 'a whole number >= 0');
  return r;
}

/**
 * A synthetic dataset (see the module description). Labels are balanced (class counts differ by at most
 * one) in a seeded random order. Deterministic in all options.
 */
export function syntheticDataset(options: SyntheticOptions): Dataset {
  const o = resolve('syntheticDataset', options);
  const { count, height: H, width: W, channels: C, numClasses: K } = o;
  const size = H * W * C;
  const protos = prototypes(K, H, W, C, o.seed);
  const rng = mulberry32(deriveSeed(o.seed, STREAM.synthetic, 1 + o.split));
  const labelArray: Uint8Array | Int32Array = K <= 256 ? new Uint8Array(count) : new Int32Array(count);
  for (let i = 0; i < count; i++) labelArray[i] = i % K;
  shuffleInPlace(labelArray, rng);
  const images = new Float32Array(count * size);
  for (let n = 0; n < count; n++) {
    const p = labelArray[n] * size;
    const dy = o.shift > 0 ? Math.floor(rng() * (2 * o.shift + 1)) - o.shift : 0;
    const dx = o.shift > 0 ? Math.floor(rng() * (2 * o.shift + 1)) - o.shift : 0;
    const contrast = 0.8 + 0.4 * rng();
    for (let h = 0; h < H; h++) {
      const sh = (((h + dy) % H) + H) % H;
      for (let w = 0; w < W; w++) {
        const sw = (((w + dx) % W) + W) % W;
        for (let c = 0; c < C; c++) {
          const v = 0.5 + contrast * (protos[p + (sh * W + sw) * C + c] - 0.5) + o.noise * gaussian(rng);
          images[n * size + (h * W + w) * C + c] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
      }
    }
  }
  return { images, labels: labelArray, count, height: H, width: W, channels: C, numClasses: K, name: o.name };
}

/**
 * Train and test splits of one synthetic task (same prototypes, independent examples: sample streams 0
 * and 1), named `<name>/train` and `<name>/test`.
 */
export function syntheticSplits(options: Omit<SyntheticOptions, 'count' | 'split'> & { trainCount: number; testCount: number }): DatasetSplits {
  const { trainCount, testCount, ...rest } = options;
  const name = rest.name ?? 'synthetic';
  return {
    train: syntheticDataset({ ...rest, count: trainCount, split: 0, name: `${name}/train` }),
    test: syntheticDataset({ ...rest, count: testCount, split: 1, name: `${name}/test` }),
  };
}
