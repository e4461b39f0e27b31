/**
 * The in-memory image classification dataset used by batchfree's input pipeline, and the operations that
 * build, check and slice one. Browser-safe.
 * @module
 */
import { argumentError } from '../ops/validate.js';

/**
 * An image classification dataset held in typed arrays.
 *
 * `images` is NHWC (`[count, height, width, channels]`, row-major) with the values as stored scaled to
 * `[0, 1]` (8-bit pixels divided by 255); standardization and augmentation happen when batches are built.
 * `labels[i]` is the class of image `i`, in `[0, numClasses)`.
 */
export interface Dataset {
  /** Pixels, NHWC, `count * height * width * channels` values. */
  images: Float32Array;
  /** One class index per image. */
  labels: Uint8Array | Int32Array;
  /** Number of images. */
  count: number;
  height: number;
  width: number;
  channels: number;
  /** Number of classes (labels are in `[0, numClasses)`). */
  numClasses: number;
  /** A name for messages and logs, e.g. `'mnist/train'`. */
  name: string;
  /** Optional human-readable class names, `numClasses` of them. */
  classNames?: readonly string[];
}

/**
 * The datasets batchfree can load by name: `loadDataset` (`batchfree/node`) and `batchfree train` accept these,
 * the training config checks its `dataset` against them.
 */
export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'cifar10', 'synthetic'] as const;
/** See {@link DATASET_NAMES}. */
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Class names of MNIST (the digits). */
export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Class names of Fashion-MNIST (Xiao et al. 2017), in label order. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** The usual pair of splits returned by the loaders. */
export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
}

/** Number of values of one image. */
export function imageSize(ds: Pick<Dataset, 'height' | 'width' | 'channels'>): number {
  return ds.height * ds.width * ds.channels;
}

/**
 * Checks the consistency of a dataset: whole positive dimensions, array lengths matching `count`, labels in
 * `[0, numClasses)`. Throws naming `op`, the argument and the offending field.
 * @param op the calling function's name.
 * @param arg the argument's name (default `'dataset'`).
 * @param checkLabels also scan every label (O(count)); default true.
 */
export function assertDataset(op: string, ds: Dataset, arg = 'dataset', checkLabels = true): void {
  if (ds === null || typeof ds !== 'object') throw argumentError(op, arg, typeof ds, 'a Dataset object');
  for (const f of ['height', 'width', 'channels', 'numClasses'] as const) {
    const v = ds[f];
    if (!Number.isInteger(v) || v < 1) throw argumentError(op, `${arg}.${f}`, v, 'a whole number >= 1');
  }
  if (!Number.isInteger(ds.count) || ds.count < 0) throw argumentError(op, `${arg}.count`, ds.count, 'a whole number >= 0');
  if (!(ds.images instanceof Float32Array)) throw argumentError(op, `${arg}.images`, describeArray(ds.images), 'a Float32Array (NHWC)');
  const expected = ds.count * imageSize(ds);
  if (ds.images.length !== expected) {
    throw argumentError(op, `${arg}.images`, `length ${ds.images.length}`,
      `length ${expected} (count ${ds.count} x height ${ds.height} x width ${ds.width} x channels ${ds.channels})`);
  }
  if (!(ds.labels instanceof Uint8Array || ds.labels instanceof Int32Array)) {
    throw argumentError(op, `${arg}.labels`, describeArray(ds.labels), 'a Uint8Array or Int32Array');
  }
  if (ds.labels.length !== ds.count) throw argumentError(op, `${arg}.labels`, `length ${ds.labels.length}`, `length ${ds.count} (one label per image)`);
  if (ds.classNames !== undefined && ds.classNames.length !== ds.numClasses) {
    throw argumentError(op, `${arg}.classNames`, `${ds.classNames.length} names`, `${ds.numClasses} names (numClasses)`);
  }
  if (checkLabels) {
    const labels = ds.labels;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (l < 0 || l >= ds.numClasses) throw argumentError(op, `${arg}.labels[${i}]`, l, `a class in [0, ${ds.numClasses - 1}] (numClasses ${ds.numClasses})`);
    }
  }
}

function describeArray(a: unknown): string {
  if (a === null || a === undefined) return String(a);
  return (a as object).constructor?.name ?? typeof a;
}

/** Builds a {@link Dataset} from its fields (`count` taken from `labels`), checking it. */
export function makeDataset(fields: Omit<Dataset, 'count'> & { count?: number }): Dataset {
  const ds: Dataset = { ...fields, count: fields.count ?? fields.labels.length };
  assertDataset('makeDataset', ds, 'fields');
  return ds;
}

/**
 * A new dataset holding the examples `indices` of `ds`, in that order (images and labels copied).
 * @param name name of the result; default `ds.name`.
 */
export function selectExamples(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const op = 'selectExamples';
  const size = imageSize(ds);
  const images = new Float32Array(indices.length * size);
  const labels = ds.labels instanceof Uint8Array ? new Uint8Array(indices.length) : new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) throw argumentError(op, `indices[${k}]`, i, `an index in [0, ${ds.count - 1}]`);
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i];
  }
  return { ...ds, images, labels, count: indices.length, name };
}

/** Number of examples of each class, `numClasses` counts. */
export function classCounts(ds: Dataset): Int32Array {
  const counts = new Int32Array(ds.numClasses);
  for (let i = 0; i < ds.count; i++) counts[ds.labels[i]]++;
  return counts;
}

const UNIT_LUT = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

/** 8-bit pixels scaled to `[0, 1]` (`v / 255`), as a new Float32Array. */
export function bytesToUnitFloat(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = UNIT_LUT[bytes[i]];
  return out;
}
