/**
 * Browser-safe part of the data pipeline (no Node modules): the Dataset type, IDX and CIFAR-10 parsing from
 * bytes, synthetic data, seeded shuffling, splits, standardization, augmentation and the batch iterator.
 * The file loaders live in `./node_datasets.js` (exported by the `batchfree/node` entry).
 * @module
 */
export * from './dataset.js';
export * from './random.js';
export * from './idx.js';
export * from './cifar.js';
export * from './synthetic.js';
export * from './splits.js';
export * from './transforms.js';
export * from './batches.js';
