/**
 * Helpers for the layer tests: random non-default weights (so that a layer that forgets to pass a weight to its op
 * is caught), a functional one-layer model, and an in-memory save/load round trip.
 */
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { MemoryModelStore } from '../../src/io/memory.js';
import { randn, tensor } from '../helpers.js';

/**
 * Replaces every weight of `layer` by its current value plus seeded noise (`moving_variance` and `step`-like
 * counters stay valid: variances are multiplied by a positive factor, counters are left alone).
 */
export function perturbWeights(layer: tfl.layers.Layer, seed: number, scale = 0.3): void {
  const current = layer.getWeights();
  const next = tf.tidy(() => current.map((w, i) => {
    const name = layer.weights[i].originalName;
    if (name.endsWith('step')) return tf.clone(w);
    const noise = tensor(randn(w.shape, seed + i, scale));
    if (name.endsWith('variance')) return tf.mul(w, tf.exp(noise));
    return tf.add(w, noise);
  }));
  layer.setWeights(next); // copies the values: `current` are the layer's own variables, not to be disposed
  tf.dispose(next);
}

/** `input(shape) → ...layers → output` as a functional model. */
export function modelOf(inputShape: number[], layers: tfl.layers.Layer[]): tfl.LayersModel {
  const input = tfl.input({ shape: inputShape });
  let y: tfl.SymbolicTensor = input;
  for (const l of layers) y = l.apply(y) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: y });
}

/** Saves `model` to memory, loads it back, and checks identical weights and identical predictions on `x`. */
export async function assertRoundTrip(model: tfl.LayersModel, x: tf.Tensor, label = ''): Promise<tfl.LayersModel> {
  const store = new MemoryModelStore();
  await model.save(store);
  const loaded = await tfl.loadLayersModel(store);
  assertSameModel(model, loaded, x, label);
  return loaded;
}

/** Same layer classes and configs, same weights, same predictions on `x`. */
export function assertSameModel(model: tfl.LayersModel, loaded: tfl.LayersModel, x: tf.Tensor, label = ''): void {
  assert.deepEqual(loaded.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()), `${label}: layer classes`);
  assert.deepEqual(loaded.layers.map((l) => l.getConfig()), model.layers.map((l) => l.getConfig()), `${label}: layer configs`);
  const [wa, wb] = [model.getWeights(), loaded.getWeights()];
  assert.equal(wb.length, wa.length, `${label}: weight count`);
  wa.forEach((w, i) => assert.deepEqual(wb[i].dataSync(), w.dataSync(), `${label}: weight ${model.weights[i].name}`));
  const [ya, yb] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
  assert.deepEqual(yb.dataSync(), ya.dataSync(), `${label}: predictions`);
  tf.dispose([ya, yb]);
}

/** The values of a layer's weight by its short name (`gamma`, `moving_mean`, ...). */
export function weightValues(layer: tfl.layers.Layer, name: string): Float32Array {
  const i = layer.weights.findIndex((w) => w.originalName.endsWith(`/${name}`) || w.originalName === name);
  assert.ok(i >= 0, `${layer.name} has no weight '${name}' (has ${layer.weights.map((w) => w.originalName).join(', ')})`);
  return layer.weights[i].read().dataSync() as Float32Array;
}

/** A layer's weight tensor by short name (not a copy: do not dispose). */
export function weight(layer: tfl.layers.Layer, name: string): tf.Tensor {
  const w = layer.weights.find((v) => v.originalName.endsWith(`/${name}`) || v.originalName === name);
  assert.ok(w, `${layer.name} has no weight '${name}'`);
  return w.read();
}
