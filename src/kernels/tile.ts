/**
 * `Tile` (also behind `tf.broadcastTo`): `out[i0..in] = x[i0 mod s0, ..., in mod sn]`, for any rank.
 *
 * Copies the input once into the first block of the output, then replicates blocks with `copyWithin`
 * doubling (log2(reps) memmoves per axis) instead of the element-by-element loops of the stock kernels.
 * @module
 */
import { CpuBackendLike, KernelArgs, TensorInfo, WasmBackendLike, sizeOf } from './backend_access.js';

type Numeric = Float32Array | Int32Array | Uint8Array;

/** Output shape of `tile(x, reps)`. */
function tiledShape(shape: number[], reps: number[]): number[] {
  return shape.map((d, i) => d * reps[i]);
}

/** Fills `out` (shape `shape * reps`) with the tiling of `x` (shape `shape`). */
export function tileInto(x: Numeric, shape: number[], reps: number[], out: Numeric): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  const outShape = tiledShape(shape, reps);
  // outStride[d] = elements of one step along axis d of the output.
  const outStride = new Array<number>(rank);
  const inStride = new Array<number>(rank);
  outStride[rank - 1] = 1;
  inStride[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) {
    outStride[d] = outStride[d + 1] * outShape[d + 1];
    inStride[d] = inStride[d + 1] * shape[d + 1];
  }
  const fill = (d: number, src: number, dst: number): void => {
    const block = shape[d] * outStride[d]; // one copy of axis d's extent in the output
    if (d === rank - 1) {
      out.set(x.subarray(src, src + shape[d]), dst);
    } else {
      for (let i = 0; i < shape[d]; i++) fill(d + 1, src + i * inStride[d], dst + i * outStride[d]);
    }
    // Replicate the block reps[d] times by doubling.
    const total = block * reps[d];
    let done = block;
    while (done < total) {
      const n = Math.min(done, total - done);
      out.copyWithin(dst + done, dst, dst + n);
      done += n;
    }
  };
  fill(0, 0, 0);
}

function tileAttrs(args: KernelArgs): { x: TensorInfo; reps: number[] } {
  return { x: args.inputs.x, reps: (args.attrs as { reps: number[] }).reps };
}

/** Tiling of a plain array (string tensors) by index arithmetic. */
function tileArray<T>(x: readonly T[], shape: number[], reps: number[]): T[] {
  const outShape = tiledShape(shape, reps);
  const out = new Array<T>(sizeOf(outShape));
  for (let flat = 0; flat < out.length; flat++) {
    let rest = flat, src = 0, stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const i = rest % outShape[d];
      rest = (rest - i) / outShape[d];
      src += (i % shape[d]) * stride;
      stride *= shape[d];
    }
    out[flat] = x[src];
  }
  return out;
}

/** The `wasm` `Tile` kernel (the stock one aborts on string tensors; this one tiles them too). */
export function makeTileWasm(): (args: KernelArgs) => TensorInfo {
  return (args) => {
    const { x, reps } = tileAttrs(args);
    const backend = args.backend as WasmBackendLike;
    if (x.dtype === 'string') {
      const values = tileArray(backend.readSync(x.dataId) as unknown as Uint8Array[], x.shape, reps);
      return backend.makeOutput(tiledShape(x.shape, reps), 'string' as 'float32', undefined, values as unknown as Float32Array);
    }
    const out = backend.makeOutput(tiledShape(x.shape, reps), x.dtype as 'float32');
    if (sizeOf(out.shape) > 0) tileInto(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
    return out;
  };
}

/** Builds the `cpu` `Tile` kernel; `fallback` handles string tensors (the stock kernel). */
export function makeTileCpu(fallback?: (args: KernelArgs) => TensorInfo): (args: KernelArgs) => TensorInfo {
  return (args) => {
    const { x, reps } = tileAttrs(args);
    const backend = args.backend as CpuBackendLike;
    const values = backend.data.get(x.dataId).values;
    if (x.dtype === 'string' || !(values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array)) {
      if (fallback === undefined) throw new Error(`Tile (batchfree): unsupported input storage for dtype '${x.dtype}'`);
      return fallback(args);
    }
    const shape = tiledShape(x.shape, reps);
    const out = new (values.constructor as { new(n: number): Numeric })(sizeOf(shape));
    if (out.length > 0) tileInto(values, x.shape, reps, out);
    return backend.makeTensorInfo(shape, x.dtype as 'float32', out);
  };
}

