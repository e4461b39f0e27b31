/**
 * `UnsortedSegmentSum` for `wasm`, which has none (it is the gradient of `tf.gather`, e.g. of embedding
 * lookups): `out[s, ...] = sum_{i : segmentIds[i] = s} x[i, ...]` for `s < numSegments`; ids outside
 * `[0, numSegments)` are dropped, as in TensorFlow.
 * @module
 */
import { KernelArgs, TensorInfo, WasmBackendLike, sizeOf } from './backend_access.js';

/** The kernel function. */
export function unsortedSegmentSumWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, segmentIds } = args.inputs;
  const { numSegments } = args.attrs as { numSegments: number };
  if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
    throw new Error(`UnsortedSegmentSum (batchfree): argument 'segmentIds' is invalid: got shape [${segmentIds.shape.join(',')}], expected [${x.shape[0]}] (one id per row of x)`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum (batchfree): argument 'x' is invalid: got dtype '${x.dtype}', expected 'float32' or 'int32'`);
  }
  const row = sizeOf(x.shape.slice(1));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(1)], x.dtype);
  const o = backend.typedArrayFromHeap(out), xv = backend.typedArrayFromHeap(x), ids = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const a = i * row, b = s * row;
    for (let k = 0; k < row; k++) o[b + k] += xv[a + k];
  }
  return out;
}
