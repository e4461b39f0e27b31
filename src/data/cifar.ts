/**
 * The CIFAR-10 binary format (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
 * each record is 1 label byte followed by 3072 pixel bytes, channel-major (1024 red, 1024 green, 1024 blue,
 * each 32x32 row-major). Converted here to NHWC floats in `[0, 1]`. Browser-safe.
 * @module
 */
import { argumentError } from '../ops/validate.js';
import type { Dataset } from './dataset.js';

/** CIFAR-10 class names, in label order. */
export const CIFAR10_CLASSES: readonly string[] = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
];

/** Image side, channels and record size of the CIFAR-10 binary format. */
export const CIFAR10_RECORD = { side: 32, channels: 3, bytes: 1 + 3 * 32 * 32 } as const;

/** One parsed CIFAR-10 batch file. */
export interface CifarBatch {
  /** NHWC floats in `[0, 1]`, `count * 32 * 32 * 3` values. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/**
 * Parses one CIFAR-10 binary batch (`data_batch_N.bin` or `test_batch.bin`): checks that the size is a
 * whole number of 3073-byte records and that every label is in `[0, 9]`, and converts CHW bytes to NHWC floats.
 * @param bytes the file's bytes.
 * @param source what the bytes are (e.g. the file path), for error messages.
 */
export function parseCifar10(bytes: Uint8Array, source?: string): CifarBatch {
  const op = 'parseCifar10';
  const what = source === undefined ? 'bytes' : source;
  if (!(bytes instanceof Uint8Array)) throw argumentError(op, 'bytes', typeof bytes, 'a Uint8Array');
  const R = CIFAR10_RECORD.bytes;
  if (bytes.length === 0 || bytes.length % R !== 0) {
    throw argumentError(op, what, `${bytes.length} bytes`, `a positive multiple of ${R} bytes (records of 1 label byte + 3072 pixel bytes)`);
  }
  const count = bytes.length / R;
  const plane = CIFAR10_RECORD.side * CIFAR10_RECORD.side;
  const images = new Float32Array(count * plane * 3);
  const labels = new Uint8Array(count);
  const scale = new Float32Array(256);
  for (let v = 0; v < 256; v++) scale[v] = v / 255;
  for (let n = 0; n < count; n++) {
    const rec = n * R;
    const label = bytes[rec];
    if (label > 9) throw argumentError(op, what, `label ${label} in record ${n} (byte offset ${rec})`, 'labels in [0, 9]');
    labels[n] = label;
    const out = n * plane * 3;
    for (let c = 0; c < 3; c++) {
      const src = rec + 1 + c * plane;
      for (let p = 0; p < plane; p++) images[out + p * 3 + c] = scale[bytes[src + p]];
    }
  }
  return { images, labels, count };
}

/**
 * Joins CIFAR-10 batches into one {@link Dataset} (e.g. the five training batches).
 * @param name dataset name, e.g. `'cifar10/train'`.
 */
export function cifarBatchesToDataset(batches: readonly CifarBatch[], name: string): Dataset {
  const count = batches.reduce((a, b) => a + b.count, 0);
  const size = CIFAR10_RECORD.side * CIFAR10_RECORD.side * 3;
  const images = new Float32Array(count * size);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const b of batches) {
    images.set(b.images, at * size);
    labels.set(b.labels, at);
    at += b.count;
  }
  return { images, labels, count, height: 32, width: 32, channels: 3, numClasses: 10, name, classNames: CIFAR10_CLASSES };
}
