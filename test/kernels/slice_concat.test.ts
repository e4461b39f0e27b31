import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { restoreStockKernels } from '../../src/kernels/register.js';
import { assertClose, randn } from '../helpers.js';

type DType = 'float32' | 'int32' | 'bool';

function make(shape: number[], dtype: DType, seed: number): tf.Tensor {
  const v = randn([tf.util.sizeFromShape(shape)], seed).data;
  if (dtype === 'int32') return tf.tensor(Int32Array.from(v, (a) => Math.round(a * 1000)), shape, 'int32');
  if (dtype === 'bool') return tf.tensor(Uint8Array.from(v, (a) => (a > 0 ? 1 : 0)), shape, 'bool');
  return tf.tensor(Float32Array.from(v), shape);
}

/** Runs `f` on cpu (stock kernels) and on wasm (batchfree kernels); asserts identical values and shapes. */
async function sameOnBoth(f: () => tf.Tensor | tf.Tensor[], label: string): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const buffers = tf.backend().numDataIds();
    const out = f();
    const list = Array.isArray(out) ? out : [out];
    const result = list.map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }));
    tf.dispose(out);
    return { result, leaked: tf.backend().numDataIds() - buffers };
  };
  const want = await run('cpu');
  const got = await run('wasm');
  assert.equal(got.leaked, want.leaked, `${label}: backend buffers left behind`);
  assert.deepEqual(got.result, want.result, label);
}

describe('Slice / SplitV / Concat kernels (wasm)', () => {
  before(async () => {
    await init({ backend: 'wasm' });
    restoreStockKernels('cpu');
  });

  const slices: Array<{ shape: number[]; begin: number[]; size: number[] }> = [
    { shape: [4, 5, 6, 8], begin: [0, 0, 0, 2], size: [-1, -1, -1, 3] }, // channel range (grouped convolutions)
    { shape: [4, 5, 6, 8], begin: [0, 1, 1, 0], size: [-1, 3, 4, -1] }, // spatial crop
    { shape: [4, 5, 6, 8], begin: [1, 0, 0, 0], size: [2, -1, -1, -1] }, // batch range: one contiguous run
    { shape: [4, 5, 6, 8], begin: [1, 2, 3, 4], size: [2, 2, 2, 3] }, // every axis cut
    { shape: [3, 2, 4, 2, 5], begin: [0, 1, 0, 1, 1], size: [3, 1, 4, 1, 3] }, // rank 5
    { shape: [7], begin: [2], size: [4] },
    { shape: [3, 9], begin: [0, 0], size: [3, 9] }, // whole tensor
    { shape: [3, 9], begin: [1, 5], size: [0, 2] }, // empty
  ];
  for (const [i, c] of slices.entries()) {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      it(`slice [${c.shape}] at [${c.begin}] size [${c.size}] (${dtype}) like stock cpu`, async () => {
        await sameOnBoth(() => tf.tidy(() => tf.slice(make(c.shape, dtype, i), c.begin, c.size)), 'slice');
      });
    }
  }

  it('split into equal and unequal parts along any axis like stock cpu', async () => {
    await sameOnBoth(() => tf.tidy(() => tf.split(make([2, 3, 4, 12], 'float32', 1), 4, 3)), 'split last axis');
    await sameOnBoth(() => tf.tidy(() => tf.split(make([2, 6, 4, 3], 'float32', 2), [1, 3, 2], 1)), 'split axis 1, sizes');
    await sameOnBoth(() => tf.tidy(() => tf.split(make([6, 5], 'int32', 3), [2, -1], 0)), 'split axis 0, inferred size');
    await sameOnBoth(() => tf.tidy(() => tf.split(make([2, 6], 'bool', 4), 3, 1)), 'split bool (stock path)');
  });

  it('concatenate along any axis like stock cpu, including empty parts', async () => {
    await sameOnBoth(() => tf.tidy(() => tf.concat([make([2, 3, 4, 3], 'float32', 1), make([2, 3, 4, 5], 'float32', 2), make([2, 3, 4, 1], 'float32', 3)], 3)), 'last axis');
    await sameOnBoth(() => tf.tidy(() => tf.concat([make([2, 3, 5], 'int32', 4), make([2, 1, 5], 'int32', 5)], 1)), 'middle axis, int32');
    await sameOnBoth(() => tf.tidy(() => tf.concat([make([1, 4], 'float32', 6), make([3, 4], 'float32', 7)], 0)), 'axis 0');
    await sameOnBoth(() => tf.tidy(() => tf.concat([make([2, 0, 3], 'float32', 8), make([2, 2, 3], 'float32', 9)], 1)), 'empty part');
    await sameOnBoth(() => tf.tidy(() => tf.concat([make([2, 2], 'bool', 10), make([2, 1], 'bool', 11)], 1)), 'bool (stock path)');
  });

  it('differentiate a split/concat grouped convolution like stock cpu', async () => {
    const x = randn([2, 5, 5, 8], 20).data, w = randn([3, 3, 2, 8], 21).data;
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const xt = tf.tensor4d(Float32Array.from(x), [2, 5, 5, 8]), wt = tf.tensor4d(Float32Array.from(w), [3, 3, 2, 8]);
      const f = (a: tf.Tensor, b: tf.Tensor) => {
        const xs = tf.split(a, 4, 3), ws = tf.split(b, 4, 3);
        return tf.sum(tf.square(tf.concat(xs.map((xg, g) => tf.conv2d(xg as tf.Tensor4D, ws[g] as tf.Tensor4D, 1, 'same')), 3)));
      };
      const g = tf.grads(f)([xt, wt]);
      const v = g.map((t) => t.dataSync() as Float32Array);
      tf.dispose([xt, wt, ...g]);
      return v;
    };
    const want = await grads('cpu');
    const got = await grads('wasm');
    assertClose(got[0], want[0], 1e-5, 'dx');
    assertClose(got[1], want[1], 1e-5, 'dw');
  });
});
