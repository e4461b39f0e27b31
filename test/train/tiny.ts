/**
 * A tiny seeded model and synthetic data for the training tests (8x8 images: fast on the cpu backend).
 */
import { tfl } from '../../src/engine.js';
import { syntheticSplits } from '../../src/data/synthetic.js';
import type { DatasetSplits } from '../../src/data/dataset.js';

/** conv3x3(4) → ReLU → flatten → dropout → dense(K) named 'classifier', seeded initializers. */
export function tinyModel(inputShape: [number, number, number], numClasses: number, seed = 1, dropout = 0): tfl.LayersModel {
  const input = tfl.input({ shape: inputShape });
  let h = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.reLU().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
  if (dropout > 0) h = tfl.layers.dropout({ rate: dropout }).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: numClasses, name: 'classifier', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** Synthetic 8x8x1, 10 classes. */
export function tinyData(train = 256, test = 128, seed = 0): DatasetSplits {
  return syntheticSplits({ trainCount: train, testCount: test, height: 8, width: 8, channels: 1, numClasses: 10, seed });
}
