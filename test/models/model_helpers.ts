/**
 * Helpers of the model tests: one plain-SGD training step on softmax cross-entropy, an in-memory save/load round
 * trip, and access to layers and weights by name.
 */
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { MemoryModelStore } from '../../src/io/memory.js';
import { randn, tensor } from '../helpers.js';

/** A seeded batch: images `[B, ...inputShape]` and one-hot labels `[B, numClasses]`. */
export function batch(model: tfl.LayersModel, size: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const classes = (model.outputs[0].shape as number[])[1];
  const x = tensor(randn([size, ...shape], seed));
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: size }, (_, i) => (i * 7 + seed) % classes), 'int32'), classes);
  return { x, y };
}

export interface StepResult {
  loss: number;
  lr: number;
  /** Gradient of each trainable weight (by `originalName`), as plain arrays. */
  grads: Map<string, Float32Array>;
  /** Trainable weights before and after the update (by `originalName`). */
  before: Map<string, Float32Array>;
  after: Map<string, Float32Array>;
}

/**
 * One training step: `tf.variableGrads` of the mean softmax cross-entropy of `model.apply(x, {training: true})`,
 * then `w <- w - lr * g` for every trainable weight.
 */
export function sgdStep(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, lr = 0.1): StepResult {
  const weights = model.trainableWeights;
  const vars = weights.map((w) => w.read() as tf.Variable);
  const before = new Map(weights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));
  const { value, grads } = tf.variableGrads(() => tf.tidy(() =>
    tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar), vars);
  const out = new Map<string, Float32Array>();
  weights.forEach((w, i) => {
    const g = grads[vars[i].name];
    assert.ok(g, `no gradient for ${w.originalName}`);
    out.set(w.originalName, g.dataSync().slice() as Float32Array);
    tf.tidy(() => vars[i].assign(tf.sub(vars[i], tf.mul(g, lr))));
  });
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  const after = new Map(weights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));
  return { loss, lr, grads: out, before, after };
}

/**
 * Asserts a finite loss and finite gradients, that every weight became `w - lr * g` (to float32 rounding), and that
 * the weights changed.
 */
export function assertSaneStep(r: StepResult, label: string): void {
  assert.ok(Number.isFinite(r.loss), `${label}: loss ${r.loss}`);
  let changed = 0;
  for (const [name, g] of r.grads) {
    if (!g.every(Number.isFinite)) assert.fail(`${label}: non-finite gradient for ${name}`);
    const before = r.before.get(name)!, after = r.after.get(name)!;
    for (let i = 0; i < g.length; i++) {
      const want = before[i] - r.lr * g[i];
      if (!(Math.abs(after[i] - want) <= 1e-6 * (1 + Math.abs(want)))) assert.fail(`${label}: ${name}[${i}] = ${after[i]}, expected ${want}`);
      if (after[i] !== before[i]) changed++;
    }
  }
  assert.ok(changed > 0, `${label}: no weight changed`);
}

/** Names of the weights whose gradient is zero everywhere. */
export function zeroGradients(r: StepResult): string[] {
  return [...r.grads].filter(([, g]) => g.every((v) => v === 0)).map(([n]) => n);
}

/** Saves to memory and loads back; asserts identical layer classes, weights and predictions on `x`. */
export async function assertRoundTrip(model: tfl.LayersModel, x: tf.Tensor, label: string): Promise<tfl.LayersModel> {
  const store = new MemoryModelStore();
  await model.save(store);
  const loaded = await tfl.loadLayersModel(store);
  assert.deepEqual(loaded.layers.map((l) => `${l.name}:${l.getClassName()}`), model.layers.map((l) => `${l.name}:${l.getClassName()}`), `${label}: layers`);
  const [wa, wb] = [model.getWeights(), loaded.getWeights()];
  assert.equal(wb.length, wa.length, `${label}: weight count`);
  wa.forEach((w, i) => assert.deepEqual(wb[i].dataSync(), w.dataSync(), `${label}: weight ${model.weights[i].originalName}`));
  const [ya, yb] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
  assert.deepEqual(yb.dataSync(), ya.dataSync(), `${label}: predictions`);
  tf.dispose([ya, yb]);
  return loaded;
}

/** The layers of `model` whose class name (without `batchfree>`) is `cls`. */
export function layersOf(model: tfl.LayersModel, cls: string): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName().replace('batchfree>', '') === cls);
}

/** Replaces the weights of `layer` by seeded random values. */
export function randomizeWeights(layer: tfl.layers.Layer, seed: number, scale = 0.5): void {
  const next = layer.getWeights().map((w, i) => tensor(randn(w.shape, seed + i, scale)));
  layer.setWeights(next);
  tf.dispose(next);
}

/** `model.predict(x)` as an array (disposing the tensor). */
export function predict(model: tfl.LayersModel, x: tf.Tensor, training = false): Float32Array {
  const y = (training ? model.apply(x, { training: true }) : model.predict(x)) as tf.Tensor;
  const v = y.dataSync().slice() as Float32Array;
  y.dispose();
  return v;
}
