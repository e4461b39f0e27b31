import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { float32TensorOf, readValues } from '../../src/kernels/backend_access.js';
import { firstNonFiniteTensor } from '../../src/train/loop.js';

describe('backend access helpers', () => {
  before(async () => {
    await init({ backend: 'wasm' });
  });
  after(async () => {
    await tf.setBackend('cpu');
  });

  for (const backend of ['wasm', 'cpu']) {
    it(`readValues reads a tensor's values, float32TensorOf copies a (shared) view (${backend})`, async () => {
      await tf.setBackend(backend);
      const shared = new Float32Array(new SharedArrayBuffer(4 * 8));
      shared.set([1, 2, 3, 4, 5, 6, 7, 8]);
      const t = float32TensorOf(shared.subarray(2, 6), [2, 2]);
      shared.fill(-1); // later writes to the buffer do not reach the tensor
      assert.deepEqual(Array.from(readValues(t)), [3, 4, 5, 6]);
      assert.deepEqual(t.shape, [2, 2]);
      const i = tf.tensor1d([7, -8], 'int32');
      assert.deepEqual(Array.from(readValues(i)), [7, -8]);
      tf.dispose([t, i]);
    });

    it(`firstNonFiniteTensor scans the values in place (${backend})`, async () => {
      await tf.setBackend(backend);
      const a = tf.tensor1d([1, 2]), b = tf.tensor2d([[0, Infinity]]), c = tf.tensor1d([NaN]);
      assert.equal(firstNonFiniteTensor([a, a], true), -1);
      assert.equal(firstNonFiniteTensor([a, b, c], true), 1);
      assert.equal(firstNonFiniteTensor([a, c], true), 1);
      tf.dispose([a, b, c]);
    });
  }
});
