/**
 * Running op tests on several backends: the ops take other code paths on `cpu` (matmul reductions and
 * expansions) than elsewhere (`tf.sum`, broadcasting), and route through batchfree's fused kernels
 * (src/kernels/fused) where those are active.
 */
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../src/engine.js';
import { fusedConfig } from '../../src/kernels/fused/index.js';

/** The backends reference cases run on. */
export const BACKENDS = ['cpu', 'wasm'] as const;

/**
 * {@link BACKENDS} × the fused kernels (src/kernels/fused) enabled or not, for the ops that route through them:
 * `name` is e.g. `'wasm'` or `'wasm composite'`.
 */
export const VARIANTS = BACKENDS.flatMap((backend) => [true, false].map((fused) => ({ backend, fused, name: `${backend}${fused ? '' : ' composite'}` })));

/** Runs `fn` on `backend` with the fused kernels enabled or not, then returns to `cpu` with them as they were. */
export async function onBackend(backend: string, fn: () => void, fused = true): Promise<void> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} initialises`);
  await tf.ready();
  assert.equal(tf.getBackend(), backend);
  const enabled = fusedConfig.enabled;
  fusedConfig.enabled = fused;
  try {
    fn();
  } finally {
    fusedConfig.enabled = enabled;
    await tf.setBackend('cpu');
  }
}

