import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/engine.js';
import { countCorrect, mixup, sampleBeta, smoothedTargets, softmaxCrossEntropy } from '../../src/train/losses.js';
import { assertClose, assertNoLeak, autodiffGrads, finiteDifferenceGrads, randn, rng, tensor, useCpu, values } from '../helpers.js';

/** float64 mean softmax cross-entropy of logits [B,K] against targets [B,K] (log-sum-exp with max shift). */
function refCrossEntropy(z: Float64Array, t: Float64Array, B: number, K: number): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, z[b * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(z[b * K + k] - m);
    const lse = m + Math.log(s);
    for (let k = 0; k < K; k++) total -= t[b * K + k] * (z[b * K + k] - lse);
  }
  return total / B;
}

function refTargets(labels: number[], K: number, eps: number): Float64Array {
  const out = new Float64Array(labels.length * K);
  labels.forEach((l, b) => {
    for (let k = 0; k < K; k++) out[b * K + k] = (k === l ? 1 - eps : 0) + eps / K;
  });
  return out;
}

describe('losses', () => {
  before(useCpu);

  test('smoothedTargets: (1 - eps) onehot + eps / K', () => {
    for (const eps of [0, 0.1, 0.5]) {
      const labels = [3, 0, 4, 4];
      const t = smoothedTargets(tf.tensor1d(labels, 'int32'), 5, eps);
      assert.deepEqual(t.shape, [4, 5]);
      assertClose(values(t), refTargets(labels, 5, eps), 1e-6, `eps ${eps}`);
      t.dispose();
    }
  });

  test('softmaxCrossEntropy equals the float64 reference over magnitudes 1e-4..1e3, B = 1 included', () => {
    for (const [B, K, scale] of [[4, 6, 1e-4], [3, 10, 1], [2, 5, 30], [1, 7, 1e3]] as const) {
      const z = randn([B, K], 11 + K, scale);
      const labels = Array.from({ length: B }, (_, b) => (b * 3) % K);
      const t = refTargets(labels, K, 0.1);
      const loss = softmaxCrossEntropy(tensor(z), tf.tensor2d(Float32Array.from(t), [B, K]));
      const expected = refCrossEntropy(z.data, t, B, K);
      assert.ok(Number.isFinite(loss.dataSync()[0]), `finite at scale ${scale}`);
      assertClose(loss.dataSync(), [expected], 1e-4, `B ${B} K ${K} scale ${scale}`);
      tf.dispose(loss);
    }
  });

  test('softmaxCrossEntropy gradient matches central differences of the float64 reference', () => {
    for (const scale of [1e-2, 1, 20]) {
      const B = 3, K = 4;
      const z = randn([B, K], 5, scale);
      const t = refTargets([1, 3, 0], K, 0.2);
      const tt = tf.tensor2d(Float32Array.from(t), [B, K]);
      // L is a scalar: dy = 1.
      const [fd] = finiteDifferenceGrads(([zz]) => Float64Array.of(refCrossEntropy(zz, t, B, K)), [z.data], Float64Array.of(1));
      const [ad] = autodiffGrads((x) => softmaxCrossEntropy(x, tt), [tensor(z)], tf.scalar(1));
      assertClose(ad, fd, 1e-4, `scale ${scale}`);
      tt.dispose();
    }
  });

  test('mixup mixes each example with its mirror in the batch, targets alike', () => {
    const x = randn([4, 2, 2, 3], 3);
    const t = refTargets([0, 1, 2, 1], 3, 0);
    const lambda = 0.3;
    const m = mixup(tensor(x), tf.tensor2d(Float32Array.from(t), [4, 3]), lambda);
    const per = 12;
    const ex = new Float64Array(x.data.length);
    for (let b = 0; b < 4; b++) for (let i = 0; i < per; i++) ex[b * per + i] = lambda * x.data[b * per + i] + (1 - lambda) * x.data[(3 - b) * per + i];
    const et = new Float64Array(12);
    for (let b = 0; b < 4; b++) for (let k = 0; k < 3; k++) et[b * 3 + k] = lambda * t[b * 3 + k] + (1 - lambda) * t[(3 - b) * 3 + k];
    assertClose(values(m.x), ex, 1e-6, 'x');
    assertClose(values(m.targets), et, 1e-6, 'targets');
    tf.dispose([m.x, m.targets]);
  });

  test('sampleBeta: Beta(alpha, alpha) moments, range, and determinism per seed', () => {
    for (const alpha of [0.2, 1, 4]) {
      const r = rng(42);
      const n = 20000;
      let s = 0, s2 = 0;
      for (let i = 0; i < n; i++) {
        const v = sampleBeta(alpha, r);
        assert.ok(v >= 0 && v <= 1, `draw ${v} in [0, 1]`);
        s += v;
        s2 += v * v;
      }
      const mean = s / n, variance = s2 / n - mean * mean;
      const expectedVar = 1 / (4 * (2 * alpha + 1)); // Var of Beta(a, a)
      // Standard error of the mean is sqrt(var / n) <= 0.0025: 0.01 is four of them.
      assert.ok(Math.abs(mean - 0.5) < 0.01, `alpha ${alpha}: mean ${mean}`);
      assert.ok(Math.abs(variance / expectedVar - 1) < 0.05, `alpha ${alpha}: variance ${variance} vs ${expectedVar}`);
    }
    const a = rng(7), b = rng(7);
    assert.equal(sampleBeta(0.4, a), sampleBeta(0.4, b));
  });

  test('countCorrect counts rows whose argmax is the label', () => {
    const logits = tf.tensor2d([[1, 2, 0], [5, -1, 0], [0, 0, 3], [2, 9, 1]]);
    assert.equal(countCorrect(logits, tf.tensor1d([1, 0, 1, 1], 'int32')).dataSync()[0], 3);
    tf.dispose(logits);
  });

  test('bad arguments name the argument', () => {
    const z = tf.zeros([2, 3]);
    assert.throws(() => softmaxCrossEntropy(z, tf.zeros([2, 4])), /softmaxCrossEntropy: argument 'targets'.*shape \[2,4\].*\[2,3\]/);
    assert.throws(() => softmaxCrossEntropy(tf.zeros([2, 3, 1]), z), /argument 'logits'/);
    assert.throws(() => smoothedTargets(tf.tensor1d([0, 1], 'int32'), 3, 1), /argument 'labelSmoothing'.*got 1/);
    assert.throws(() => smoothedTargets(tf.tensor1d([0, 1], 'int32'), 1), /argument 'numClasses'/);
    assert.throws(() => mixup(z, z, 1.5), /mixup: argument 'lambda'.*got 1.5/);
    assert.throws(() => mixup(z, tf.zeros([3, 3]), 0.5), /mixup: argument 'targets'/);
    assert.throws(() => sampleBeta(0, Math.random), /sampleBeta: argument 'alpha'/);
  });

  test('no tensor leaks', () => {
    const z = tf.randomNormal([4, 5]);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    assertNoLeak(() => {
      const t = smoothedTargets(y, 5, 0.1);
      const m = mixup(z, t, 0.7);
      tf.dispose([t, m.x, m.targets, softmaxCrossEntropy(z, m.targets), countCorrect(z, y)]);
    }, 'forward');
    const t = smoothedTargets(y, 5, 0.1);
    assertNoLeak(() => tf.dispose(tf.grad((x: tf.Tensor) => softmaxCrossEntropy(x, t))(z)), 'backward');
    tf.dispose([z, y, t]);
  });
});
