import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { restoreStockKernels } from '../../src/kernels/register.js';
import { assertClose, randn } from '../helpers.js';

type Pad = 'same' | 'valid';
const cases: Array<{ x: number[]; f: number | [number, number]; s: number | [number, number]; pad: Pad }> = [
  { x: [2, 6, 6, 4], f: 2, s: 2, pad: 'same' },
  { x: [3, 7, 5, 3], f: 2, s: 2, pad: 'same' }, // odd sizes: a padded row/column
  { x: [2, 7, 7, 5], f: 3, s: 2, pad: 'same' }, // overlapping windows
  { x: [1, 6, 5, 2], f: 3, s: 1, pad: 'valid' },
  { x: [2, 8, 9, 3], f: [2, 3], s: [1, 2], pad: 'valid' },
];

/** Gradients of `sum(pool(x) * probe)` on the current backend. */
function poolGrad(kind: 'max' | 'avg', c: typeof cases[number], x: Float32Array): Float32Array {
  const g = tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x as [number, number, number, number]);
    const pool = (a: tf.Tensor) => (kind === 'max' ? tf.maxPool(a as tf.Tensor4D, c.f, c.s, c.pad) : tf.avgPool(a as tf.Tensor4D, c.f, c.s, c.pad));
    const probe = tf.sin(tf.reshape(tf.range(0, pool(xt).size), pool(xt).shape));
    return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), probe)))(xt);
  });
  const v = g.dataSync() as Float32Array;
  g.dispose();
  return v;
}

describe('MaxPoolGrad / AvgPoolGrad kernels (wasm)', () => {
  before(async () => {
    await init({ backend: 'wasm' });
    restoreStockKernels('cpu');
  });

  for (const [i, c] of cases.entries()) {
    for (const kind of ['max', 'avg'] as const) {
      it(`${kind}Pool ${JSON.stringify(c.f)} stride ${JSON.stringify(c.s)} ${c.pad} on [${c.x}]: like stock cpu`, async () => {
        const x = Float32Array.from(randn(c.x, 30 + i).data);
        await tf.setBackend('cpu');
        const want = poolGrad(kind, c, x);
        await tf.setBackend('wasm');
        const buffers = tf.backend().numDataIds();
        const got = poolGrad(kind, c, x);
        assert.equal(tf.backend().numDataIds(), buffers, 'leaked backend buffers');
        assertClose(got, want, 1e-6);
      });
    }
  }

  it('sends a max pooling gradient to the first of tied maxima, never to padding', async () => {
    // All-negative windows (padding must not win) and ties (the first maximum in scan order wins).
    const x = Float32Array.from([-3, -1, -1, -2, -5, -1, -1, -4, -2, -2, -6, -7, -1, -2, -2, -9, -9, -9].map((v) => v));
    const c = { x: [1, 3, 6, 1], f: 2, s: 2, pad: 'same' as Pad };
    await tf.setBackend('cpu');
    const want = poolGrad('max', c, x);
    await tf.setBackend('wasm');
    const got = poolGrad('max', c, x);
    assert.deepEqual(Array.from(got, (v) => v !== 0), Array.from(want, (v) => v !== 0), 'same receiving positions');
    assertClose(got, want, 1e-6);
  });
});
