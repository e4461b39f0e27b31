/**
 * The reference network of PEERS.md, written with plain TF.js ops, for speed measurements:
 * `conv3x3(16, s1) -> NORM -> ACT -> conv3x3(32, s2) -> NORM -> ACT -> conv3x3(64, s2) -> NORM -> ACT -> global
 * average pool -> dense(10) -> softmax cross-entropy`, input 28x28x1, trained with plain SGD.
 *
 * NORM+ACT is either BatchNorm (training statistics over the batch, eps 1e-3) + ReLU written with plain ops,
 * or FRN + TLU from `src/ops/filter_response_norm.ts`.
 */
import { tf } from '../src/engine.js';
import { filterResponseNorm, tlu } from '../src/ops/filter_response_norm.js';

/** Normalization + activation of the reference network. */
export type NormAct = 'bn_relu' | 'frn_tlu';

/** One training step (forward + backward + SGD update); returns the loss. */
export type TrainStep = (x: tf.Tensor4D, labels: tf.Tensor2D) => number;

const WIDTHS = [1, 16, 32, 64];
const STRIDES = [1, 2, 2];

/** BatchNorm in training mode (batch statistics) + ReLU, plain ops. */
function bnRelu(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const mean = tf.mean(x, [0, 1, 2]);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), [0, 1, 2]);
  return tf.relu(tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-3))), gamma), beta));
}

/**
 * Builds the network's variables on the current backend (He-normal convolutions, seeded) and returns a
 * training step and a disposer.
 */
export function referenceNet(normAct: NormAct, learningRate = 0.01, seed = 1): { step: TrainStep; dispose: () => void } {
  const vars: Record<string, tf.Variable> = {};
  for (let i = 0; i < 3; i++) {
    const fanIn = 9 * WIDTHS[i];
    vars[`conv${i}`] = tf.variable(tf.randomNormal([3, 3, WIDTHS[i], WIDTHS[i + 1]], 0, Math.sqrt(2 / fanIn), 'float32', seed + i));
    vars[`gamma${i}`] = tf.variable(tf.ones([WIDTHS[i + 1]]));
    vars[`beta${i}`] = tf.variable(tf.zeros([WIDTHS[i + 1]]));
    if (normAct === 'frn_tlu') vars[`tau${i}`] = tf.variable(tf.zeros([WIDTHS[i + 1]]));
  }
  vars.dense = tf.variable(tf.randomNormal([64, 10], 0, Math.sqrt(1 / 64), 'float32', seed + 10));
  vars.bias = tf.variable(tf.zeros([10]));
  const list = Object.values(vars);

  const forward = (x: tf.Tensor4D): tf.Tensor => {
    let h: tf.Tensor = x;
    for (let i = 0; i < 3; i++) {
      h = tf.conv2d(h as tf.Tensor4D, vars[`conv${i}`] as tf.Tensor4D, STRIDES[i], 'same');
      if (normAct === 'bn_relu') {
        h = bnRelu(h, vars[`gamma${i}`], vars[`beta${i}`]);
      } else {
        h = filterResponseNorm(h, { gamma: vars[`gamma${i}`] as tf.Tensor1D, beta: vars[`beta${i}`] as tf.Tensor1D });
        h = tlu(h, vars[`tau${i}`]);
      }
    }
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, vars.dense as tf.Tensor2D), vars.bias);
  };

  const step: TrainStep = (x, labels) => tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, forward(x)) as tf.Scalar, list);
    for (const v of list) v.assign(tf.sub(v, tf.mul(grads[v.name], learningRate)));
    return value.dataSync()[0];
  });
  return { step, dispose: () => tf.dispose(list) };
}

/** A fixed synthetic batch: standard-normal images and random one-hot labels (seeded). */
export function syntheticBatch(batch = 64, seed = 7): { x: tf.Tensor4D; labels: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomNormal([batch, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
    const classes = tf.randomUniform([batch], 0, 10, 'int32', seed + 1) as tf.Tensor1D;
    return { x, labels: tf.cast(tf.oneHot(classes, 10), 'float32') as tf.Tensor2D };
  });
}
