/**
 * `Sum` and `Mean` over non-innermost axes (per-channel statistics of NHWC activations: axes `[0,1,2]` for
 * BatchNorm, `[1,2]` for FRN/InstanceNorm and global average pooling, and the reductions of their gradients).
 *
 * The stock `wasm` kernels first transpose the input so that the reduced axes come last, which costs ten times
 * the sum itself. When the reduced axes are contiguous, the input is a `[outer, reduce, 1, inner]` image and
 * its mean over `reduce` is an XNNPACK average pooling with a `reduce x 1` window (memory-bound, SIMD); the sum
 * is that mean times `reduce`. On `cpu` (where the stock kernels transpose too) the same split drives a plain
 * loop with float64 accumulators. Other cases (innermost reductions, scattered axes, integer dtypes) go to the
 * stock kernel.
 * @module
 */
import { tf } from '../engine.js';
import { CpuBackendLike, KernelArgs, TensorInfo, WasmBackendLike, callKernel, cpuF32, sizeOf, wasmF32 } from './backend_access.js';

type Kernel = (args: KernelArgs) => TensorInfo;

/** `[outer, reduce, inner]` sizes when `axes` are contiguous and not innermost, else null. */
export function splitReduction(shape: readonly number[], axes: readonly number[]): { outer: number; reduce: number; inner: number } | null {
  if (axes.length === 0) return null;
  const sorted = [...axes].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1] + 1) return null;
  const first = sorted[0], last = sorted[sorted.length - 1];
  const outer = sizeOf(shape.slice(0, first));
  const reduce = sizeOf(shape.slice(first, last + 1));
  const inner = sizeOf(shape.slice(last + 1));
  if (inner === 1) return null;
  return { outer, reduce, inner };
}

/**
 * What both backends' `Sum`/`Mean` need: the output shape and the `[outer, reduce, inner]` split of a float32
 * reduction over contiguous, non-innermost axes; null when the stock kernel takes the case.
 */
function planReduction(args: KernelArgs): { shape: number[]; outer: number; reduce: number; inner: number } | null {
  const { x } = args.inputs;
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const split = x.dtype === 'float32' ? splitReduction(x.shape, axes) : null;
  if (split === null || split.reduce === 0) return null;
  const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  return { shape, ...split };
}

/** The stock kernel's result, or an error when there is none. */
function fallBack(kernel: 'Sum' | 'Mean', stock: Kernel | undefined, args: KernelArgs): TensorInfo {
  if (stock === undefined) throw new Error(`${kernel} (batchfree): no stock kernel for this case`);
  return stock(args);
}

function makeReduce(kernel: 'Sum' | 'Mean', stock: Kernel | undefined): Kernel {
  return (args) => {
    const plan = planReduction(args);
    if (plan === null) return fallBack(kernel, stock, args);
    const { x } = args.inputs;
    const backend = args.backend as WasmBackendLike;
    const { shape, outer, reduce, inner } = plan;
    if (reduce === 1) { // nothing to add up (XNNPACK rejects a 1x1 pooling window)
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape, dtype: x.dtype };
    }
    const pooled = callKernel('AvgPool', 'wasm', backend, { x: { dataId: x.dataId, shape: [outer, reduce, 1, inner], dtype: x.dtype } },
      { filterSize: [reduce, 1], strides: [reduce, 1], pad: 'valid' });
    if (kernel === 'Sum') {
      const v = wasmF32(backend, pooled);
      for (let i = 0; i < v.length; i++) v[i] *= reduce;
    }
    return { dataId: pooled.dataId, shape, dtype: 'float32' };
  };
}

/** `Sum` for `wasm`; `stock` is the backend's own kernel, used for the cases above. */
export const makeSumWasm = (stock?: Kernel): Kernel => makeReduce('Sum', stock);
/** `Mean` for `wasm`; `stock` is the backend's own kernel, used for the cases above. */
export const makeMeanWasm = (stock?: Kernel): Kernel => makeReduce('Mean', stock);

/** `out[o, i] = scale * sum_r x[o, r, i]` with float64 accumulators. */
export function reduceMiddle(x: Float32Array, out: Float32Array, outer: number, reduce: number, inner: number, scale: number): void {
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    let p = o * reduce * inner;
    for (let r = 0; r < reduce; r++, p += inner) {
      for (let i = 0; i < inner; i++) acc[i] += x[p + i];
    }
    const q = o * inner;
    for (let i = 0; i < inner; i++) out[q + i] = acc[i] * scale;
  }
}

function makeReduceCpu(kernel: 'Sum' | 'Mean', stock: Kernel | undefined): Kernel {
  return (args) => {
    const plan = planReduction(args);
    if (plan === null) return fallBack(kernel, stock, args);
    const backend = args.backend as CpuBackendLike;
    const { shape, outer, reduce, inner } = plan;
    const out = new Float32Array(outer * inner);
    reduceMiddle(cpuF32(backend, args.inputs.x), out, outer, reduce, inner, kernel === 'Mean' ? 1 / reduce : 1);
    return backend.makeTensorInfo(shape, 'float32', out);
  };
}

/** `Sum` for `cpu`; `stock` handles the other cases. */
export const makeSumCpu = (stock?: Kernel): Kernel => makeReduceCpu('Sum', stock);
/** `Mean` for `cpu`; `stock` handles the other cases. */
export const makeMeanCpu = (stock?: Kernel): Kernel => makeReduceCpu('Mean', stock);
