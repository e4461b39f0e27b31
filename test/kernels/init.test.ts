import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { FAST_KERNEL_BACKENDS, registerFastKernels, restoreStockKernels } from '../../src/kernels/register.js';

describe('init', () => {
  it("'auto' picks wasm in Node (no tfjs-node, webgl or webgpu registered) and installs the fast kernels", async () => {
    const { backend } = await init();
    assert.equal(backend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.notEqual(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined, 'the wasm backend has no weight gradient of its own');
  });

  it('is idempotent', async () => {
    const first = tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc;
    const again = await init({ backend: 'auto' });
    assert.equal(again.backend, 'wasm');
    assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc, first);
    assert.deepEqual(registerFastKernels('wasm'), registerFastKernels('wasm'));
  });

  it('selects a named backend, and kernels can be restored to stock', async () => {
    const stockTile = tf.getKernel('Tile', 'cpu')?.kernelFunc;
    assert.deepEqual(await init({ backend: 'cpu' }), { backend: 'cpu' });
    assert.equal(tf.getBackend(), 'cpu');
    assert.notEqual(tf.getKernel('Tile', 'cpu')?.kernelFunc, stockTile, 'cpu Tile replaced');
    restoreStockKernels('cpu');
    assert.equal(tf.getKernel('Tile', 'cpu')?.kernelFunc, stockTile, 'stock cpu Tile back');
    restoreStockKernels('cpu'); // twice is harmless
    assert.equal(tf.getKernel('Tile', 'cpu')?.kernelFunc, stockTile);
    assert.deepEqual(await init({ backend: 'wasm', threads: 1 }), { backend: 'wasm' });
    assert.ok(FAST_KERNEL_BACKENDS.includes('wasm') && FAST_KERNEL_BACKENDS.includes('cpu'));
    assert.deepEqual(registerFastKernels('webgl'), [], 'no kernels for other backends');
  });

  it('rejects bad options with errors naming the argument', async () => {
    await assert.rejects(init({ backend: 'gpu' as 'wasm' }), /init: argument 'backend' is invalid: got 'gpu'/);
    await assert.rejects(init({ threads: 0 }), /init: argument 'threads' is invalid: got 0/);
    await assert.rejects(init({ threads: 1.5 }), /argument 'threads'/);
    await assert.rejects(init({ backend: 'tensorflow' }), /argument 'backend' is invalid: got 'tensorflow', expected a registered backend/);
  });
});
