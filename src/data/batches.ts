/**
 * The batch iterator: seeded shuffling (each epoch's order a function of `(seed, epoch)`), optional
 * standardization and augmentation done in typed-array loops, and one `tf.Tensor4D` plus labels per batch.
 * Browser-safe.
 * @module
 */
import { tf } from '../engine.js';
import { argumentError, assertOneOf } from '../ops/validate.js';
import { assertDataset, type Dataset, imageSize } from './dataset.js';
import { deriveSeed, epochOrder, mulberry32, type Rng, STREAM } from './random.js';
import {
  assertAugmentOptions, assertChannelStats, type AugmentOptions, type ChannelStats, IDENTITY_TRANSFORM, type ImageLayout,
  layoutOf, randomTransform, transformImage,
} from './transforms.js';

/** Label encodings of a batch. */
export type LabelEncoding = 'onehot' | 'int';
const LABEL_ENCODINGS: readonly LabelEncoding[] = ['onehot', 'int'];

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Examples per batch (whole number ≥ 1). */
  batchSize: number;
  /** Visit the examples in a seeded random order; default true. False = dataset order. */
  shuffle?: boolean;
  /** Seed of the order and of the augmentation; default 0. */
  seed?: number;
  /** Epoch number (whole number ≥ 0); the order and augmentation depend only on `(seed, epoch)`. Default 0. */
  epoch?: number;
  /** Drop the last batch when it is smaller than `batchSize`; default false (keep it). */
  dropRemainder?: boolean;
  /** `'onehot'` (default): `y` is float32 `[B, numClasses]`; `'int'`: `y` is int32 `[B]`. */
  labels?: LabelEncoding;
  /** Per-channel statistics to standardize with (from {@link channelStats} on the training split); default none. */
  standardize?: ChannelStats;
  /** Random augmentation; default none. */
  augment?: AugmentOptions;
}

/** One batch. The caller owns the tensors: call `dispose()` (or `tf.dispose([x, y])`) when done. */
export interface Batch {
  /** Images `[B, H, W, C]`, float32. */
  x: tf.Tensor4D;
  /** Labels: float32 one-hot `[B, numClasses]` or int32 `[B]`, per the `labels` option. */
  y: tf.Tensor;
  /** The labels as a host array (for accuracy counting without a download). */
  labels: Int32Array;
  /** Dataset indices of the batch's examples. */
  indices: Int32Array;
  /** Number of examples, B. */
  size: number;
  /** Disposes `x` and `y`. */
  dispose(): void;
}

/** A batch still in host memory, before it becomes tensors. */
export interface HostBatch {
  /** NHWC values, `size * H * W * C`. */
  images: Float32Array;
  labels: Int32Array;
  indices: Int32Array;
  size: number;
}

/** Number of batches of one epoch. */
export function batchCount(count: number, batchSize: number, dropRemainder = false): number {
  return dropRemainder ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/**
 * Copies the examples `indices` of `ds` into one host batch, standardizing with `layout.mean/invStd` and
 * applying a random transform from `rng` per image when `augment` is given.
 */
export function buildHostBatch(ds: Dataset, indices: Int32Array, layout: ImageLayout, augment?: AugmentOptions, rng?: Rng): HostBatch {
  const size = imageSize(ds);
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    const t = augment !== undefined && rng !== undefined ? randomTransform(rng, augment) : IDENTITY_TRANSFORM;
    transformImage(ds.images, i * size, images, k * size, layout, t);
    labels[k] = ds.labels[i];
  }
  return { images, labels, indices, size: indices.length };
}

/** Turns a host batch into tensors (no intermediate tensors: nothing to tidy). */
export function hostBatchToTensors(host: HostBatch, ds: Pick<Dataset, 'height' | 'width' | 'channels' | 'numClasses'>, encoding: LabelEncoding = 'onehot'): Batch {
  const B = host.size;
  const x = tf.tensor4d(host.images, [B, ds.height, ds.width, ds.channels], 'float32');
  let y: tf.Tensor;
  if (encoding === 'int') {
    y = tf.tensor1d(Int32Array.from(host.labels), 'int32');
  } else {
    const K = ds.numClasses;
    const oneHot = new Float32Array(B * K);
    for (let k = 0; k < B; k++) oneHot[k * K + host.labels[k]] = 1;
    y = tf.tensor2d(oneHot, [B, K], 'float32');
  }
  return { x, y, labels: host.labels, indices: host.indices, size: B, dispose: () => tf.dispose([x, y]) };
}

/** The validated plan of one epoch: the order and a function building batch `k`'s host arrays in sequence. */
interface EpochPlan {
  numBatches: number;
  encoding: LabelEncoding;
  build: (k: number) => HostBatch;
}

function planEpoch(op: string, ds: Dataset, options: BatchOptions): EpochPlan {
  assertDataset(op, ds, 'dataset', false);
  if (options === null || typeof options !== 'object') throw argumentError(op, 'options', typeof options, '{ batchSize, ... }');
  const { batchSize, shuffle = true, seed = 0, epoch = 0, dropRemainder = false, labels = 'onehot', standardize, augment } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw argumentError(op, 'options.batchSize', batchSize, 'a whole number >= 1');
  if (!Number.isInteger(epoch) || epoch < 0) throw argumentError(op, 'options.epoch', epoch, 'a whole number >= 0');
  if (!Number.isFinite(seed)) throw argumentError(op, 'options.seed', seed, 'a finite number');
  assertOneOf(op, 'options.labels', labels, LABEL_ENCODINGS);
  if (standardize !== undefined) assertChannelStats(op, 'options.standardize', standardize, ds.channels);
  if (augment !== undefined) assertAugmentOptions(op, 'options.augment', augment);
  const order = shuffle ? epochOrder(ds.count, seed, epoch) : Int32Array.from({ length: ds.count }, (_, i) => i);
  const layout = layoutOf(ds, standardize);
  const active = augment !== undefined && ((augment.pad ?? 0) > 0 || augment.flip === true) ? augment : undefined;
  const rng = active === undefined ? undefined : mulberry32(deriveSeed(seed, STREAM.augment, epoch));
  const numBatches = batchCount(ds.count, batchSize, dropRemainder);
  let next = 0;
  const build = (k: number): HostBatch => {
    // The augmentation stream is consumed in batch order, so batches must be built in sequence.
    if (k !== next) throw new Error(`${op}: internal error: batch ${k} built out of order (expected ${next})`);
    next++;
    const start = k * batchSize;
    return buildHostBatch(ds, order.subarray(start, Math.min(start + batchSize, ds.count)), layout, active, rng);
  };
  return { numBatches, encoding: labels, build };
}

/**
 * The batches of one epoch of `ds`, as tensors, built lazily one at a time.
 *
 * Options are checked when this is called, not at the first `next()`. Only the batch being yielded exists
 * as tensors; breaking out of the loop leaves nothing behind except what the caller has not disposed.
 *
 * @example
 * for (const b of batches(train, { batchSize: 128, seed, epoch, standardize: stats, augment: { pad: 4, flip: true } })) {
 *   step(b.x, b.y); b.dispose();
 * }
 */
export function batches(ds: Dataset, options: BatchOptions): Generator<Batch, void, undefined> {
  const plan = planEpoch('batches', ds, options);
  return (function* () {
    for (let k = 0; k < plan.numBatches; k++) yield hostBatchToTensors(plan.build(k), ds, plan.encoding);
  })();
}

/** Options of {@link batchesAsync}. */
export interface AsyncBatchOptions extends BatchOptions {
  /**
   * Build the next batch's host arrays in a macrotask while the consumer awaits (e.g. a WebGL download);
   * default true. Prefetched batches are typed arrays, never tensors, so stopping early leaks nothing.
   */
  prefetch?: boolean;
}

/** Runs `fn` in a later macrotask. */
function later<T>(fn: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      try {
        resolve(fn());
      } catch (e) {
        reject(e);
      }
    }, 0);
  });
}

/**
 * {@link batches} as an async iterator that prefetches: while the consumer works on batch k, batch k+1 is
 * assembled in host memory (whenever the consumer yields to the event loop). Same batches, same order.
 */
export function batchesAsync(ds: Dataset, options: AsyncBatchOptions): AsyncGenerator<Batch, void, undefined> {
  const plan = planEpoch('batchesAsync', ds, options);
  const prefetch = options.prefetch ?? true;
  return (async function* () {
    let pending: Promise<HostBatch> | undefined;
    const schedule = (k: number): Promise<HostBatch> => {
      const p = later(() => plan.build(k));
      p.catch(() => undefined); // Rejections surface when awaited; never as unhandled ones.
      return p;
    };
    if (prefetch && plan.numBatches > 0) pending = schedule(0);
    for (let k = 0; k < plan.numBatches; k++) {
      let host: HostBatch;
      if (prefetch && pending !== undefined) {
        host = await pending;
        pending = k + 1 < plan.numBatches ? schedule(k + 1) : undefined;
      } else {
        host = plan.build(k);
      }
      yield hostBatchToTensors(host, ds, plan.encoding);
    }
  })();
}
