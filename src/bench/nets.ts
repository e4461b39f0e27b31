/**
 * The networks and the batch `batchfree bench` trains: PEERS.md's reference network and a ResNetV2-20.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { Conv2D } from '../layers/conv.js';
import { applyLayers, createNormActivation, type NormName } from '../layers/factory.js';
import { buildModel } from '../models/registry.js';

/** The networks of the training benchmark. */
export const BENCH_MODELS = ['reference', 'resnet20'] as const;
/** One of {@link BENCH_MODELS}. */
export type BenchModel = typeof BENCH_MODELS[number];

/** Groups of GroupNorm in the reference network (PEERS.md's PyTorch peer uses GroupNorm(8)). */
export const REFERENCE_GN_GROUPS = 8;

/**
 * PEERS.md's reference network: `conv3x3(16, s1) → NORM → ACT → conv3x3(32, s2) → NORM → ACT → conv3x3(64, s2) →
 * NORM → ACT → global average pool → dense(10)`, 28×28×1 inputs, convolutions without bias ({@link Conv2D}, He-normal, seeded),
 * NORM+ACT = `createNormActivation(norm)` (GroupNorm with {@link REFERENCE_GN_GROUPS} groups).
 */
export function referenceNet(norm: NormName, seed = 1): tfl.LayersModel {
  const input = tfl.input({ shape: [28, 28, 1] });
  let h: tfl.SymbolicTensor = input;
  [16, 32, 64].forEach((filters, i) => {
    const conv = new Conv2D({ filters, kernelSize: 3, strides: i === 0 ? 1 : 2, padding: 'same', useBias: false, seed: seed + i });
    h = conv.apply(h) as tfl.SymbolicTensor;
    const groups = norm === 'gn' || norm === 'gn+pn' ? { groups: REFERENCE_GN_GROUPS } : {};
    h = applyLayers(createNormActivation(norm, groups), h) as tfl.SymbolicTensor;
  });
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 10, name: 'classifier', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 9 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: `reference_${norm.replace(/\+/g, '_')}` });
}

/** Builds benchmark network `model` with normalization `norm` (ResNet-20: `buildModel('resnet', { depth: 20 })`, 28×28×1, 10 classes). */
export function benchNet(model: BenchModel, norm: NormName, seed = 1): tfl.LayersModel {
  if (model === 'reference') return referenceNet(norm, seed);
  return buildModel('resnet', { depth: 20, norm, inputShape: [28, 28, 1], numClasses: 10, seed });
}

/** A fixed batch of `batch` standard-normal 28×28×1 images and int32 labels in [0, 10) (seeded: the data does not matter for speed). */
export function syntheticBatch(batch: number, seed = 7): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return tf.tidy(() => ({
    x: tf.randomNormal([batch, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D,
    y: tf.cast(tf.floor(tf.mul(tf.randomUniform([batch], 0, 1, 'float32', seed + 1), 9.999)), 'int32') as tf.Tensor1D,
  }));
}
