/**
 * Classification losses and targets of the training loop: softmax cross-entropy on soft targets, label
 * smoothing (Szegedy et al. 2016), mixup (Zhang et al. 2018) and top-1 counting. Browser-safe.
 * @module
 */
import { tf } from '../engine.js';
import { argumentError, assertInteger, assertRank } from '../ops/validate.js';

/**
 * Target distributions `[B, K]` from class indices with label smoothing:
 * `t = (1 - eps) * onehot(label) + eps / K`. `eps = 0` gives plain one-hot targets.
 *
 * @param labels class indices, a `[B]` int32 tensor with values in `[0, K)`.
 * @param numClasses `K` (whole number ≥ 2).
 * @param smoothing `eps` in `[0, 1)`; default 0.
 */
export function smoothedTargets(labels: tf.Tensor, numClasses: number, smoothing = 0): tf.Tensor2D {
  const op = 'smoothedTargets';
  assertRank(op, 'labels', labels, [1]);
  assertInteger(op, 'numClasses', numClasses, 2);
  assertSmoothing(op, smoothing);
  return tf.tidy(() => {
    const onehot = tf.cast(tf.oneHot(tf.cast(labels, 'int32'), numClasses), 'float32');
    if (smoothing === 0) return onehot as tf.Tensor2D;
    return tf.add(tf.mul(onehot, 1 - smoothing), smoothing / numClasses) as tf.Tensor2D;
  });
}

/** Checks a label-smoothing amount: a number in `[0, 1)`. */
export function assertSmoothing(op: string, smoothing: number): void {
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing < 1)) {
    throw argumentError(op, 'labelSmoothing', smoothing, 'a number in [0, 1)');
  }
}

/**
 * Mean softmax cross-entropy between logits `[B, K]` and target distributions `[B, K]`:
 * `L = -(1/B) * sum_b sum_k t[b,k] * log_softmax(z)[b,k]`, computed through `logSoftmax` (stable for large
 * logits). Differentiable in `logits`.
 */
export function softmaxCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const op = 'softmaxCrossEntropy';
  assertRank(op, 'logits', logits, [2]);
  assertRank(op, 'targets', targets, [2]);
  if (logits.shape[0] !== targets.shape[0] || logits.shape[1] !== targets.shape[1]) {
    throw argumentError(op, 'targets', `shape [${targets.shape.join(',')}]`, `the shape of logits [${logits.shape.join(',')}]`);
  }
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar);
}

/**
 * Mixup of a batch with its own reversal: `x' = lambda * x + (1 - lambda) * x[B-1-b]`, and the same for the
 * targets (Zhang et al. 2018, with the in-batch pairing used by timm). Pairing a batch with its reversal needs
 * no extra randomness, so a step is a pure function of `lambda`.
 *
 * @param x images `[B,H,W,C]` (or any tensor whose first axis is the batch).
 * @param targets target distributions `[B,K]`.
 * @param lambda the mixing weight in `[0, 1]` (draw it with {@link sampleBeta}).
 */
export function mixup(x: tf.Tensor, targets: tf.Tensor, lambda: number): { x: tf.Tensor; targets: tf.Tensor } {
  const op = 'mixup';
  if (typeof lambda !== 'number' || !(lambda >= 0 && lambda <= 1)) throw argumentError(op, 'lambda', lambda, 'a number in [0, 1]');
  if (x.shape[0] !== targets.shape[0]) {
    throw argumentError(op, 'targets', `batch ${targets.shape[0]}`, `the batch size of x (${x.shape[0]})`);
  }
  const mix = (t: tf.Tensor): tf.Tensor => tf.tidy(() => tf.add(tf.mul(t, lambda), tf.mul(tf.reverse(t, 0), 1 - lambda)));
  return { x: mix(x), targets: mix(targets) };
}

/** Number of rows of `logits` `[B,K]` whose largest entry is at `labels[b]` (a float32 scalar tensor). */
export function countCorrect(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  assertRank('countCorrect', 'logits', logits, [2]);
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, 'int32')), 'float32')) as tf.Scalar);
}

/** A standard normal draw from a uniform generator (Box–Muller). */
function normal(rng: () => number): number {
  const u = Math.max(rng(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A Gamma(shape, 1) draw (Marsaglia & Tsang 2000; shape < 1 by the boost `G(a+1) * U^(1/a)`). */
function gamma(shape: number, rng: () => number): number {
  if (shape < 1) return gamma(shape + 1, rng) * Math.pow(Math.max(rng(), 1e-300), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let z: number, v: number;
    do {
      z = normal(rng);
      v = 1 + c * z;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * z * z * z * z || Math.log(u) < 0.5 * z * z + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * A Beta(alpha, alpha) draw, mixup's mixing weight, from the uniform generator `rng` (two Gamma draws).
 * @param alpha the mixup strength (> 0; 0.2 in the mixup paper's ImageNet runs, 1 for CIFAR).
 */
export function sampleBeta(alpha: number, rng: () => number): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) throw argumentError('sampleBeta', 'alpha', alpha, 'a finite number > 0');
  const a = gamma(alpha, rng);
  const b = gamma(alpha, rng);
  return a + b === 0 ? 0.5 : a / (a + b);
}
