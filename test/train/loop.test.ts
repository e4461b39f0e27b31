import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../../src/engine.js';
import { batches } from '../../src/data/batches.js';
import { channelStats } from '../../src/data/transforms.js';
import { SGD } from '../../src/optim/sgd.js';
import { DivergenceError, evaluate, firstNonFiniteTensor, firstNonFiniteWeight, layerOfVariables, type Trainable, trainableParams, trainStep } from '../../src/train/loop.js';
import { assertNoLeak, useCpu } from '../helpers.js';
import { tinyData, tinyModel } from './tiny.js';

const data = tinyData();
const stats = channelStats(data.train);

function setup(seed = 1, dropout = 0, momentum = 0.9): Trainable {
  const model = tinyModel([8, 8, 1], 10, seed, dropout);
  return { model, optimizer: new SGD({ momentum }), params: trainableParams(model) };
}

/** The first `n` batches of epoch 0 (int labels, standardized). */
function firstBatches(n: number, batchSize = 32): Array<{ x: tf.Tensor; y: tf.Tensor; labels: Int32Array; dispose(): void }> {
  const out = [];
  for (const b of batches(data.train, { batchSize, seed: 0, epoch: 0, labels: 'int', standardize: stats, dropRemainder: true })) {
    out.push(b);
    if (out.length === n) break;
  }
  return out;
}

function weightsOf(t: Trainable): Float32Array[] {
  return t.model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function dispose(t: Trainable): void {
  t.optimizer.dispose();
  t.model.dispose();
}

describe('training loop', () => {
  before(useCpu);

  test('learns the synthetic task: test accuracy far above chance (10%) after 8 steps', () => {
    const t = setup();
    const before = evaluate(t.model, data.test, { standardize: stats });
    const bs = firstBatches(8);
    const losses = bs.map((b, step) => trainStep(t, b, { lr: 0.05, numClasses: 10, step, seed: 0 }).loss);
    const after = evaluate(t.model, data.test, { standardize: stats });
    assert.ok(before.accuracy < 0.3, `untrained accuracy ${before.accuracy}`);
    assert.ok(after.accuracy > 0.6, `accuracy after 8 steps ${after.accuracy}`);
    assert.ok(losses[7] < 0.5 * losses[0], `loss ${losses[0]} -> ${losses[7]}`);
    assert.equal(after.count, data.test.count);
    bs.forEach((b) => b.dispose());
    dispose(t);
  });

  test('the reported loss is the smoothed cross-entropy of the model\'s logits before the update', () => {
    const t = setup(3, 0, 0);
    const [b] = firstBatches(1);
    const logits = (t.model.predict(b.x) as tf.Tensor).arraySync() as number[][];
    const eps = 0.2, K = 10;
    let ref = 0;
    logits.forEach((z, i) => {
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
      for (let k = 0; k < K; k++) ref -= ((k === b.labels[i] ? 1 - eps : 0) + eps / K) * (z[k] - lse);
    });
    ref /= logits.length;
    const correct = logits.filter((z, i) => z.indexOf(Math.max(...z)) === b.labels[i]).length;
    const r = trainStep(t, b, { lr: 0.1, numClasses: K, step: 0, labelSmoothing: eps });
    assert.ok(Math.abs(r.loss - ref) <= 1e-4 * Math.abs(ref), `loss ${r.loss} vs ${ref}`);
    assert.equal(r.correct, correct);
    assert.equal(r.size, 32);
    b.dispose();
    dispose(t);
  });

  test('lr 0 leaves the weights unchanged; the same seed replays dropout exactly, another seed does not', () => {
    const [b] = firstBatches(1);
    const frozen = setup(2, 0.5, 0);
    const w0 = weightsOf(frozen);
    trainStep(frozen, b, { lr: 0, numClasses: 10, step: 0, seed: 5 });
    assert.deepEqual(weightsOf(frozen), w0);
    dispose(frozen);

    const runs = [5, 5, 6].map((seed) => {
      const t = setup(2, 0.5);
      for (let step = 0; step < 3; step++) trainStep(t, b, { lr: 0.05, numClasses: 10, step, seed, mixup: 0.4 });
      const w = weightsOf(t);
      dispose(t);
      return w;
    });
    assert.deepEqual(runs[0], runs[1], 'same seed, same weights');
    assert.notDeepEqual(runs[0], runs[2], 'another seed draws other dropout masks and mixup weights');
    b.dispose();
  });

  test('an absurd learning rate stops with a DivergenceError naming the step and a layer', () => {
    const t = setup(4);
    const bs = firstBatches(6);
    let error: unknown;
    let steps = 0;
    try {
      for (const [step, b] of bs.entries()) {
        trainStep(t, b, { lr: 1e12, numClasses: 10, step, seed: 0 });
        steps++;
      }
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof DivergenceError, `expected a DivergenceError, got ${String(error)}`);
    assert.equal(error.step, steps);
    assert.match(error.message, new RegExp(`^training diverged at step ${steps}: `));
    assert.notEqual(error.kind, 'explosion', 'no loss limit was given');
    const layers = new Set(t.model.layers.map((l) => l.name));
    assert.ok(error.layer !== undefined && layers.has(error.layer), `layer '${error.layer}' named`);
    assert.match(error.message, new RegExp(`layer '${error.layer}'`));
    if (error.variable !== undefined) assert.equal(layerOfVariables(t.model).get(error.variable), error.layer);
    bs.forEach((b) => b.dispose());
    dispose(t);
  });

  test('a non-finite gradient or a loss over the limit is never applied', () => {
    const t = setup(5);
    const [b] = firstBatches(1);
    const w0 = weightsOf(t);
    assert.throws(() => trainStep(t, b, { lr: 0.1, numClasses: 10, step: 0, lossLimit: 1e-3 }),
      (e: unknown) => e instanceof DivergenceError && e.kind === 'explosion' && /exceeds the divergence limit/.test(e.message));
    assert.deepEqual(weightsOf(t), w0, 'explosion: no update');
    const nanBatch = { x: tf.fill([32, 8, 8, 1], NaN), y: b.y };
    assert.throws(() => trainStep(t, nanBatch, { lr: 0.1, numClasses: 10, step: 7 }),
      (e: unknown) => e instanceof DivergenceError && e.step === 7 && (e.kind === 'loss' || e.kind === 'gradient') && e.layer !== undefined);
    assert.deepEqual(weightsOf(t), w0, 'NaN: no update');
    nanBatch.x.dispose();
    b.dispose();
    dispose(t);
  });

  test('firstNonFiniteTensor finds the first tensor holding a NaN or Inf, by scanning or by reductions', () => {
    const finite = [tf.tensor([1, -2, 3e38]), tf.tensor([[0, 5]]), tf.tensor([7], undefined, 'int32')];
    const nan = tf.tensor([NaN]);
    const before = tf.memory().numTensors;
    for (const host of [true, false]) {
      assert.equal(firstNonFiniteTensor(finite, host), -1, `host ${host}`);
      assert.equal(firstNonFiniteTensor([], host), -1);
      for (const bad of [NaN, Infinity, -Infinity]) {
        const t = tf.tensor([[1, 2], [3, bad]]);
        assert.equal(firstNonFiniteTensor([...finite, t, nan], host), 3, `host ${host}, ${bad}`);
        t.dispose();
      }
    }
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    tf.dispose([...finite, nan]);
  });

  test('firstNonFiniteWeight names the first weight holding a NaN or Inf', () => {
    const t = setup(6);
    assert.equal(firstNonFiniteWeight(t.model), undefined);
    const w = t.model.getWeights();
    const bad = w.map((v, i) => (i === 2 ? tf.fill(v.shape, Infinity) : v.clone()));
    t.model.setWeights(bad);
    assert.equal(firstNonFiniteWeight(t.model), (t.model.weights[2].read() as tf.Variable).name);
    tf.dispose(bad);
    dispose(t);
  });

  test('evaluate: inference-mode accuracy and loss equal a direct computation from the logits', () => {
    const t = setup(7, 0.5);
    const ev = evaluate(t.model, data.test, { batchSize: 50, standardize: stats });
    let lossSum = 0, correct = 0;
    for (const b of batches(data.test, { batchSize: 128, shuffle: false, labels: 'int', standardize: stats })) {
      const z = (t.model.predict(b.x) as tf.Tensor).arraySync() as number[][];
      z.forEach((row, i) => {
        const m = Math.max(...row);
        lossSum += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[b.labels[i]];
        if (row.indexOf(m) === b.labels[i]) correct++;
      });
      b.dispose();
    }
    assert.equal(ev.count, data.test.count);
    assert.equal(ev.accuracy, correct / data.test.count);
    assert.ok(Math.abs(ev.loss - lossSum / data.test.count) < 1e-4 * ev.loss, `loss ${ev.loss}`);
    dispose(t);
  });

  test('no tensor leaks in a step (momentum state existing) or in evaluation', () => {
    const t = setup(8, 0.5);
    const bs = firstBatches(2);
    trainStep(t, bs[0], { lr: 0.05, numClasses: 10, step: 0, seed: 1 });
    assertNoLeak(() => trainStep(t, bs[1], { lr: 0.05, numClasses: 10, step: 1, seed: 1, mixup: 0.2, labelSmoothing: 0.1 }), 'trainStep');
    assertNoLeak(() => assert.throws(() => trainStep(t, bs[1], { lr: 0.05, numClasses: 10, step: 2, lossLimit: 1e-9 })), 'diverged step');
    assertNoLeak(() => evaluate(t.model, data.test, { standardize: stats }), 'evaluate');
    bs.forEach((b) => b.dispose());
    dispose(t);
  });
});
