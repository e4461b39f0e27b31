/**
 * Low-level access to a backend's memory from inside a kernel: the few members of the `wasm` backend
 * (`@tensorflow/tfjs-backend-wasm`'s `BackendWasm`) and of the `cpu` backend (`MathBackendCPU`) our kernels
 * use, typed structurally so that batchfree needs neither package's types, and helpers to call another
 * kernel of the same backend without the tape.
 *
 * Views into the wasm heap are invalidated whenever the heap grows (any allocation may grow it): always
 * allocate every output and temporary first, then take the views.
 * @module
 */
import { tf } from '../engine.js';

/** What a kernel receives and returns. */
export type TensorInfo = tf.TensorInfo;
/** Data types of our kernels' tensors. */
export type NumericDType = 'float32' | 'int32' | 'bool';

/** The members of the `wasm` backend our kernels use. */
export interface WasmBackendLike extends tf.KernelBackend {
  /** Per-tensor record; `id` is the handle the C++ side knows, `memoryOffset` the byte offset in the heap. */
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number; shape: number[]; dtype: string } };
  /** Allocates an output tensor on the heap (contents uninitialised unless `values` are given). */
  makeOutput(shape: number[], dtype: NumericDType, memoryOffset?: number, values?: Float32Array | Int32Array | Uint8Array): TensorInfo;
  /** A typed-array view of a tensor's bytes in the heap (invalidated by heap growth). */
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /** Adds a reference to a buffer (for outputs sharing their input's buffer). */
  incRef(dataId: tf.DataId): void;
}

/** The members of the `cpu` backend our kernels use. */
export interface CpuBackendLike extends tf.KernelBackend {
  /** Per-tensor record holding the values (a typed array once written). */
  data: { get(dataId: tf.DataId): { values: unknown } };
  /** Stores `values` as a new tensor and returns its info. */
  makeTensorInfo(shape: number[], dtype: NumericDType, values?: Float32Array | Int32Array | Uint8Array): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
}

/** Any backend's `kernelFunc` arguments. */
export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: tf.KernelBackend;
  attrs?: Record<string, unknown>;
}

/** Calls kernel `name` of `backendName` directly (no tape, no engine bookkeeping). */
export function callKernel(name: string, backendName: string, backend: tf.KernelBackend,
  inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}): TensorInfo {
  const config = tf.getKernel(name, backendName);
  if (config === undefined) throw new Error(`batchfree kernels: kernel '${name}' is not registered for backend '${backendName}'`);
  const out = config.kernelFunc({ inputs, backend, attrs } as unknown as Parameters<tf.KernelFunc>[0]);
  return (Array.isArray(out) ? out[0] : out) as TensorInfo;
}

/** The `wasm` backend's linear memory (for batchfree's SIMD kernels), when reachable. */
export function wasmMemory(backend: WasmBackendLike): WebAssembly.Memory | undefined {
  const memory = (backend as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/** Byte offset of a wasm tensor in the heap. */
export function wasmPtr(backend: WasmBackendLike, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Float32 view of a wasm tensor (take it after the last allocation). */
export function wasmF32(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Float32 values of a cpu tensor (converting lazily stored data if needed). */
export function cpuF32(backend: CpuBackendLike, t: TensorInfo): Float32Array {
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array) return v;
  return Float32Array.from(backend.readSync(t.dataId) as ArrayLike<number>);
}

/** Element count of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The values of `t` without a copy where the current backend allows: on `wasm` a view into its heap (valid until
 * the next allocation there: read it at once, don't keep it); elsewhere `dataSync()` (on `cpu` the backend's own
 * array: don't write to it). For bookkeeping outside the engine (finiteness scans, copies into shared memory).
 */
export function readValues(t: tf.Tensor): Float32Array | Int32Array | Uint8Array {
  const backend = tf.backend();
  if (tf.getBackend() === 'wasm' && typeof (backend as WasmBackendLike).typedArrayFromHeap === 'function') {
    return (backend as WasmBackendLike).typedArrayFromHeap(t);
  }
  return t.dataSync() as Float32Array | Int32Array | Uint8Array;
}

/**
 * A new float32 tensor holding a copy of `values` (which may be a view into a buffer that changes later, e.g.
 * shared memory): the `wasm` backend copies into its heap as it creates the tensor; other backends (`cpu`) may keep
 * the array itself, so they get a copy first.
 */
export function float32TensorOf(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === 'wasm' ? values : values.slice(), shape, 'float32');
}

/**
 * A writable view of a float32 tensor's values in the `wasm` heap when it is the only tensor on its buffer (the
 * backend's reference count is 1: no clone or other tensor shares it), else `undefined` (other backends too: on
 * `cpu` a tensor's array may be the caller's own). Valid until the next allocation on the heap.
 *
 * Only for tensors no XNNPACK operator reads (the optimizer's momentum buffers): the backend's XNNPACK operators
 * (dense layers, stock convolutions) cache packed weights per tensor and would keep computing with the old values
 * of a tensor written in place — parameters get a new tensor instead (`SGD`'s direct update).
 */
export function exclusiveHeapValues(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32' || t.isDisposed || tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as WasmBackendLike & { refCount?(dataId: tf.DataId): number };
  if (typeof backend.refCount !== 'function' || typeof backend.typedArrayFromHeap !== 'function') return undefined;
  return backend.refCount(t.dataId) === 1 ? (backend.typedArrayFromHeap(t) as Float32Array) : undefined;
}
