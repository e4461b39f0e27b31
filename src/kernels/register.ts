/**
 * Registers batchfree's fast kernels for a backend, replacing the stock ones (`tf.unregisterKernel` then
 * `tf.registerKernel`). Idempotent. `init()` calls it for the backend it picks.
 *
 * `wasm`: the forward convolutions (`Conv2D`, `FusedConv2D`) and their gradients (SIMD micro-kernels, XNNPACK fallback), the depthwise-convolution
 * gradients and `UnsortedSegmentSum` (missing from the backend), pooling gradients, `Slice`/`Concat`/`SplitV`
 * (SIMD row copies), `Tile`, `Sum`/`Mean` over outer axes (XNNPACK average pooling), copy-free
 * `Identity`/`Cast`. `cpu`: the convolution gradients, `Tile` and `Sum`/`Mean` over outer axes. Both: the `Sum`/`Mean` gradients of
 * `gradients.ts`. Each kernel falls back to the stock one for the cases it does not cover.
 * @module
 */
import { tf } from '../engine.js';
import { KernelArgs, TensorInfo } from './backend_access.js';
import { conv2DBackpropFilterCpu, conv2DBackpropFilterWasm, conv2DBackpropInputCpu, conv2DBackpropInputWasm } from './conv2d_grads.js';
import { makeConv2DWasm, makeFusedConv2DWasm } from './conv2d_forward.js';
import { makeTileCpu, makeTileWasm } from './tile.js';
import { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from './depthwise_grads.js';
import { unsortedSegmentSumWasm } from './segment_sum.js';
import { makeConcatWasm, makeSliceWasm, makeSplitVWasm } from './slice_concat.js';
import { avgPoolGradWasm, maxPoolGradWasm } from './pool_grads.js';
import { makeMeanCpu, makeMeanWasm, makeSumCpu, makeSumWasm } from './reduce.js';
import { makeCastWasm, makeIdentityWasm } from './identity.js';
import { registerFastGradients, restoreStockGradients } from './gradients.js';

type Kernel = (args: KernelArgs) => TensorInfo;
/** A kernel factory; `stock` is the backend's own kernel of the same name, when there was one. */
type KernelFactory = (stock?: Kernel) => Kernel;

const KERNELS: Record<string, Record<string, KernelFactory>> = {
  wasm: {
    Conv2D: (stock) => makeConv2DWasm(stock),
    FusedConv2D: (stock) => makeFusedConv2DWasm(stock),
    Conv2DBackpropFilter: () => conv2DBackpropFilterWasm,
    Conv2DBackpropInput: () => conv2DBackpropInputWasm,
    DepthwiseConv2dNativeBackpropFilter: () => depthwiseBackpropFilterWasm,
    DepthwiseConv2dNativeBackpropInput: () => depthwiseBackpropInputWasm,
    UnsortedSegmentSum: () => unsortedSegmentSumWasm,
    MaxPoolGrad: () => maxPoolGradWasm,
    AvgPoolGrad: () => avgPoolGradWasm,
    Slice: (stock) => makeSliceWasm(stock),
    Concat: (stock) => makeConcatWasm(stock),
    SplitV: (stock) => makeSplitVWasm(stock as unknown as (a: KernelArgs) => TensorInfo[]) as unknown as Kernel,
    Tile: () => makeTileWasm(),
    Sum: (stock) => makeSumWasm(stock),
    Mean: (stock) => makeMeanWasm(stock),
    Identity: (stock) => makeIdentityWasm(stock),
    Cast: (stock) => makeCastWasm(stock),
  },
  cpu: {
    Conv2DBackpropFilter: () => conv2DBackpropFilterCpu,
    Conv2DBackpropInput: () => conv2DBackpropInputCpu,
    Tile: (stock) => makeTileCpu(stock),
    Sum: (stock) => makeSumCpu(stock),
    Mean: (stock) => makeMeanCpu(stock),
  },
};

/** Kernel functions we registered, by backend, so that a second call changes nothing. */
const installed = new Map<string, Map<string, tf.KernelFunc>>();
/** The stock kernels we replaced (undefined where the backend had none), to restore them. */
const replaced = new Map<string, Map<string, tf.KernelConfig | undefined>>();

/** Backends for which batchfree has fast kernels. */
export const FAST_KERNEL_BACKENDS: readonly string[] = Object.keys(KERNELS);

/**
 * Replaces the stock kernels of `backendName` by batchfree's (see `src/kernels/`), and installs the
 * `Sum`/`Mean` gradients of `gradients.ts` (backend-independent, same values). Does nothing for a backend
 * without batchfree kernels, and nothing the second time.
 * @returns the names of the kernels now provided by batchfree for that backend.
 */
export function registerFastKernels(backendName: string): string[] {
  const factories = KERNELS[backendName];
  if (factories === undefined) return [];
  registerFastGradients();
  let mine = installed.get(backendName);
  if (mine === undefined) installed.set(backendName, mine = new Map());
  let stockConfigs = replaced.get(backendName);
  if (stockConfigs === undefined) replaced.set(backendName, stockConfigs = new Map());
  for (const [kernelName, factory] of Object.entries(factories)) {
    const current = tf.getKernel(kernelName, backendName);
    if (current !== undefined && current.kernelFunc === mine.get(kernelName)) continue;
    const stock = current === undefined ? undefined : current.kernelFunc as unknown as Kernel;
    const kernelFunc = factory(stock) as unknown as tf.KernelFunc;
    if (current !== undefined) tf.unregisterKernel(kernelName, backendName);
    stockConfigs.set(kernelName, current);
    tf.registerKernel({ kernelName, backendName, kernelFunc });
    mine.set(kernelName, kernelFunc);
  }
  return Object.keys(factories);
}

/**
 * Undoes {@link registerFastKernels}: puts the backend's stock kernels back (and removes ours where the
 * backend had none, e.g. `Conv2DBackpropFilter` on `wasm`), and TF.js' own `Sum`/`Mean` gradients (these are
 * global: call `registerFastKernels` again for the other backend). For benchmarks and tests.
 */
export function restoreStockKernels(backendName: string): void {
  restoreStockGradients();
  const mine = installed.get(backendName);
  const stockConfigs = replaced.get(backendName);
  if (mine === undefined || stockConfigs === undefined) return;
  for (const [kernelName, kernelFunc] of mine) {
    const current = tf.getKernel(kernelName, backendName);
    if (current === undefined || current.kernelFunc !== kernelFunc) continue; // replaced by someone else since
    tf.unregisterKernel(kernelName, backendName);
    const stock = stockConfigs.get(kernelName);
    if (stock !== undefined) tf.registerKernel(stock);
  }
  installed.delete(backendName);
  replaced.delete(backendName);
}
