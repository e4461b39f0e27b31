/**
 * Gradients of `Sum` and `Mean` without a materialised tensor of ones, and of `Relu` in one pass.
 *
 * TF.js computes them as `reshape(dy) * ones(x.shape)` (and `/ n` for the mean), where `tf.ones` fills a
 * JavaScript array element by element and uploads it to the backend: ~12 ms per training step of the
 * reference network on `wasm`, more than its forward convolutions. Here the (small) reshaped `dy` is scaled
 * first and then broadcast with `tf.broadcastTo` (the `Tile` kernel: block copies). The values are the
 * same; for rank > 4, where `Tile` has no gradient of its own, the stock formulation is kept so that
 * higher-order gradients still work.
 *
 * `Relu`: TF.js computes `dy * step(x)` (two passes and a temporary); where the fused kernels run (`wasm`, `cpu`,
 * float32) the `BatchfreeReluGrad` kernel does it in one pass, with the same values. Elsewhere the stock formula.
 * @module
 */
import { tf } from '../engine.js';
import { fusable, fusedKernelsActive, fusedReluGrad } from './fused/index.js';

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;

/** `dy` reshaped to `x`'s rank (reduced axes kept as 1), times `scale`, broadcast to `x`'s shape. */
function broadcastGrad(dy: tf.Tensor, x: tf.Tensor, axis: number | number[], mean: boolean): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  let g = tf.reshape(dy, expanded);
  if (mean) g = tf.div(g, count);
  if (x.rank > 4) return tf.mul(g, tf.fill(x.shape, 1)); // keeps a differentiable graph (Tile has no rank-5 gradient)
  return tf.broadcastTo(g, x.shape);
}

const GRADIENTS: GradConfig[] = [
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => ({ x: () => broadcastGrad(dy as tf.Tensor, saved[0], (attrs as { axis: number[] }).axis, false) }),
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => ({ x: () => broadcastGrad(dy as tf.Tensor, saved[0], (attrs as { axis: number[] }).axis, true) }),
  },
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({
      x: () => {
        const [x] = saved, g = dy as tf.Tensor;
        if (fusedKernelsActive() && fusable(x, g) && g.size === x.size) return fusedReluGrad(g, x);
        return tf.mul(g, tf.step(tf.cast(x, 'float32')));
      },
    }),
  },
];

const stock = new Map<string, GradConfig | undefined>();

/** Installs the gradients above (idempotent). */
export function registerFastGradients(): void {
  for (const config of GRADIENTS) {
    const current = tf.getGradient(config.kernelName);
    if (current === config) continue;
    if (!stock.has(config.kernelName)) stock.set(config.kernelName, current);
    tf.registerGradient(config);
  }
}

/** Puts TF.js' own `Sum`/`Mean`/`Relu` gradients back. */
export function restoreStockGradients(): void {
  for (const config of GRADIENTS) {
    if (tf.getGradient(config.kernelName) !== config) continue;
    const original = stock.get(config.kernelName);
    if (original !== undefined) tf.registerGradient(original);
    else tf.unregisterGradient(config.kernelName);
  }
}
