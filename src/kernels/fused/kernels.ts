/**
 * The fused normalization kernels as TensorFlow.js kernels of the `wasm` and `cpu` backends, and their
 * gradients (`tf.registerGradient` for each forward kernel, whose `gradFunc` runs the matching backward
 * kernel through `tf.engine().runKernel`).
 *
 * - On `wasm` the kernels work in place on the backend's heap: the SIMD loops are instantiated on the same
 *   `WebAssembly.Memory`, outputs and a small scratch area are allocated with the backend's allocator.
 * - On `cpu` the big tensors are copied into a private memory, processed by the same loops, and copied out
 *   (two extra copies: still several times fewer passes than the op-by-op composite).
 *
 * Kernels (the three normalization names share one implementation; separate names keep profiles readable):
 * - `BatchfreeFrnTlu`, `BatchfreeGroupNorm`, `BatchfreeBatchNorm`: inputs `x, gamma, beta, tau, learnedEps`
 *   (all present: the op passes neutral values for omitted ones), attrs `{ groups, unitRows, center, eps }`;
 *   outputs `[y, mean, variance, rstd, offset]`, the statistics shaped `[U, G]` (`U = size / (unitRows · C)`
 *   units) and `offset` `[U, C]` the centring remainder kept for the backward pass (internal: no gradient).
 *   Their gradient kernels `<name>Grad`: inputs `dy, dmean, dvariance, drstd, x, gamma, beta, tau, learnedEps,
 *   rstd, offset`; outputs `[dx, dgamma, dbeta, dtau, dlearnedEps]`.
 * - `BatchfreeTlu`: inputs `x, tau` (`[C]`), output `y = max(x, tau)`; gradient kernel `BatchfreeTluGrad`: inputs
 *   `dy, x, tau`, outputs `[dx, dtau]`. `BatchfreeReluGrad`: inputs `dy, x`, output `dy · [x > 0]`.
 * - `BatchfreeProxyActivation`: inputs `x, gamma, beta, mean, invStd` (`[C]` each), attrs `{ activation }`;
 *   output `y`. Gradient kernel `BatchfreeProxyActivationGrad`: inputs `dy` plus the forward inputs; outputs
 *   `[dx, dgamma, dbeta, dmean, dinvStd]`.
 * @module
 */
import { tf } from '../../engine.js';
import { CpuBackendLike, KernelArgs, TensorInfo, WasmBackendLike, cpuF32, sizeOf } from '../backend_access.js';
import { Heap, periodOf, scratchBytes } from './heap.js';
import { NormSpec, normBackward, normForward } from './norm_core.js';
import { proxyBackward, proxyForward } from './proxy_core.js';
import { thresholdBackward, thresholdForward } from './threshold_core.js';
import { FUSED_ACTIVATIONS, FusedActivation, simdFor } from './simd_module.js';

/** Names of the fused normalization kernels. */
export const FUSED_NORM_KERNELS = ['BatchfreeFrnTlu', 'BatchfreeGroupNorm', 'BatchfreeBatchNorm'] as const;
/** One of {@link FUSED_NORM_KERNELS}. */
export type FusedNormKernel = typeof FUSED_NORM_KERNELS[number];
/** Name of the fused proxy-normalized activation kernel. */
export const FUSED_PROXY_KERNEL = 'BatchfreeProxyActivation';
/** Name of the fused TLU kernel (`max(x, tau)`); its gradient kernel is `BatchfreeTluGrad`. */
export const FUSED_TLU_KERNEL = 'BatchfreeTlu';
/** Name of the one-pass ReLU gradient kernel (`dy · [x > 0]`). */
export const FUSED_RELU_GRAD_KERNEL = 'BatchfreeReluGrad';
/**
 * Name of the statistics kernel of the moving averages: the mean over the rows of `[R, C]` (`BatchNorm`'s per-group
 * statistics averaged over the groups), with a zero gradient (the statistics carry none). One kernel call where
 * `stopGradient(tf.mean(x, 0))` takes four, with copies saved for a backward pass that never comes.
 */
export const ROW_MEAN_KERNEL = 'BatchfreeRowMean';
/**
 * Name of the moving-average kernel: `moving · momentum + value · (1 - momentum)` (float32 products and sum, as
 * the composite `tf.add(tf.mul(..), tf.mul(..))`), not differentiated (zero gradient).
 */
export const MOVING_AVERAGE_KERNEL = 'BatchfreeMovingAverage';
/** Backends with fused kernels. */
export const FUSED_BACKENDS = ['wasm', 'cpu'] as const;

/** Attributes of the fused normalization kernels. */
export interface FusedNormAttrs {
  /** Channel groups `G` (divides `C`). */
  groups: number;
  /** Rows (`C`-vectors) per unit: `H·W` for per-sample norms, `groupSize·H·W` for BatchNorm, 1 for dense FRN. */
  unitRows: number;
  /** Subtract the mean (true for GN/LN/IN/BN). */
  center: boolean;
  /** The fixed epsilon (already raised to the backend's epsilon where needed). */
  eps: number;
}

/** Run-time switches (tests and benchmarks). */
export const fusedConfig = {
  /** Whether the ops route through the fused kernels where available. */
  enabled: true,
  /** Whether to use the WebAssembly SIMD loops (false: the JavaScript loops process every element). */
  simd: true,
};

// ------------------------------------------------------------------------------------------- memory access

/** The `WebAssembly.Memory` of a `wasm` backend (the single-threaded build exports it; the threaded one owns it). */
export function wasmMemoryOf(backend: tf.KernelBackend): WebAssembly.Memory | null {
  const module = (backend as unknown as { wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown } }).wasm;
  const memory = module?.asm?.memory ?? module?.wasmMemory;
  return typeof WebAssembly === 'object' && memory instanceof WebAssembly.Memory ? memory : null;
}

function heapOf(memory: WebAssembly.Memory): Heap {
  return { memory, simd: fusedConfig.simd ? simdFor(memory) : null };
}

/** The private memory `cpu` tensors are copied into (grown on demand, kept between calls). */
let cpuMemory: WebAssembly.Memory | null = null;

function cpuHeap(bytes: number): Heap {
  const pages = Math.ceil(bytes / 65536);
  if (cpuMemory === null) cpuMemory = new WebAssembly.Memory({ initial: Math.max(pages, 16) });
  const have = cpuMemory.buffer.byteLength / 65536;
  if (pages > have) cpuMemory.grow(pages - have);
  return heapOf(cpuMemory);
}

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/**
 * Runs `compute` with every big tensor in one linear memory: `inputs` (read), `outputShapes` (written) and a
 * scratch area of `scratch` bytes, all given as byte offsets. On `wasm` nothing is copied; on `cpu` the inputs
 * are copied in and the outputs out. Returns the output tensors.
 */
function withHeap(args: KernelArgs, backendName: string, inputs: TensorInfo[], outputShapes: number[][], scratch: number,
  compute: (heap: Heap, inputs: number[], outputs: number[], scratch: number) => void): TensorInfo[] {
  if (backendName === 'wasm') {
    const backend = args.backend as WasmBackendLike;
    const memory = wasmMemoryOf(backend);
    if (memory === null) throw new Error('batchfree fused kernels: the wasm backend does not expose its memory');
    const outputs = outputShapes.map((shape) => backend.makeOutput(shape, 'float32'));
    const temp = backend.makeOutput([Math.ceil(scratch / 4)], 'float32');
    const offset = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
    try {
      compute(heapOf(memory), inputs.map(offset), outputs.map(offset), offset(temp));
    } finally {
      backend.disposeData(temp.dataId);
    }
    return outputs;
  }
  const backend = args.backend as CpuBackendLike;
  const inputValues = inputs.map((t) => cpuF32(backend, t));
  const sizes = outputShapes.map(sizeOf);
  let next = align16(scratch);
  const inputPtrs = inputValues.map((v) => {
    const p = next;
    next = align16(next + v.length * 4);
    return p;
  });
  const outputPtrs = sizes.map((n) => {
    const p = next;
    next = align16(next + n * 4);
    return p;
  });
  const heap = cpuHeap(next);
  const f32 = new Float32Array(heap.memory.buffer);
  inputValues.forEach((v, k) => f32.set(v, inputPtrs[k] >>> 2));
  compute(heap, inputPtrs, outputPtrs, 0);
  const out = new Float32Array(heap.memory.buffer);
  return outputShapes.map((shape, k) => backend.makeTensorInfo(shape, 'float32', out.slice(outputPtrs[k] >>> 2, (outputPtrs[k] >>> 2) + sizes[k])));
}

/** A copy of a small float32 tensor's values. */
function readSmall(args: KernelArgs, backendName: string, t: TensorInfo): Float32Array {
  if (backendName === 'wasm') return Float32Array.from((args.backend as WasmBackendLike).typedArrayFromHeap(t) as Float32Array);
  return Float32Array.from(cpuF32(args.backend as CpuBackendLike, t));
}

/** A new small float32 tensor holding `values`. */
function makeSmall(args: KernelArgs, backendName: string, shape: number[], values: ArrayLike<number>): TensorInfo {
  const data = Float32Array.from(values);
  if (backendName === 'wasm') {
    const backend = args.backend as WasmBackendLike;
    const t = backend.makeOutput(shape, 'float32');
    (backend.typedArrayFromHeap(t) as Float32Array).set(data);
    return t;
  }
  return (args.backend as CpuBackendLike).makeTensorInfo(shape, 'float32', data);
}

// ------------------------------------------------------------------------------------- normalization kernels

function normSpec(x: TensorInfo, attrs: FusedNormAttrs, learnedEps: number): NormSpec {
  const channels = x.shape[x.shape.length - 1];
  const unitLength = attrs.unitRows * channels;
  return {
    units: sizeOf(x.shape) / unitLength, unitLength, channels, groups: attrs.groups, center: attrs.center,
    eps: attrs.eps + Math.abs(learnedEps),
  };
}

function normForwardKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo[] => {
    const { x, gamma, beta, tau, learnedEps } = args.inputs;
    const attrs = args.attrs as unknown as FusedNormAttrs;
    const small = (t: TensorInfo) => readSmall(args, backendName, t);
    const le = small(learnedEps)[0];
    const spec = normSpec(x, attrs, le);
    const params = { gamma: small(gamma), beta: small(beta), tau: small(tau) };
    let stats: ReturnType<typeof normForward> | undefined;
    const [y] = withHeap(args, backendName, [x], [x.shape], scratchBytes(periodOf(spec.channels)), (heap, [xp], [yp], scratch) => {
      stats = normForward(heap, spec, xp, yp, scratch, params);
    });
    const s = stats as ReturnType<typeof normForward>;
    const statShape = [spec.units, spec.groups];
    return [y, makeSmall(args, backendName, statShape, s.mean), makeSmall(args, backendName, statShape, s.variance),
      makeSmall(args, backendName, statShape, s.rstd), makeSmall(args, backendName, [spec.units, spec.channels], s.offset)];
  };
}

function normBackwardKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo[] => {
    const { dy, dmean, dvariance, drstd, x, gamma, beta, tau, learnedEps, rstd, offset } = args.inputs;
    const attrs = args.attrs as unknown as FusedNormAttrs;
    const small = (t: TensorInfo) => readSmall(args, backendName, t);
    const le = small(learnedEps)[0];
    const spec = normSpec(x, attrs, le);
    const params = { gamma: small(gamma), beta: small(beta), tau: small(tau) };
    const st = { rstd: small(rstd), offset: small(offset), dmean: small(dmean), dvariance: small(dvariance), drstd: small(drstd) };
    let grads: ReturnType<typeof normBackward> | undefined;
    const [dx] = withHeap(args, backendName, [x, dy], [x.shape], scratchBytes(periodOf(spec.channels)), (heap, [xp, dzp], [dxp], scratch) => {
      grads = normBackward(heap, spec, xp, dzp, dxp, scratch, params, st);
    });
    const g = grads as ReturnType<typeof normBackward>;
    const C = [spec.channels];
    // d|le|/dle as TF.js' Abs gradient: 1 for le > 0, -1 otherwise.
    const dle = g.deps * (le > 0 ? 1 : -1);
    return [dx, makeSmall(args, backendName, C, g.dgamma), makeSmall(args, backendName, C, g.dbeta),
      makeSmall(args, backendName, C, g.dtau), makeSmall(args, backendName, learnedEps.shape, [dle])];
  };
}

// ---------------------------------------------------------------------------------------- proxy activation

function proxyInputs(args: KernelArgs, backendName: string) {
  const { x, gamma, beta, mean, invStd } = args.inputs;
  const small = (t: TensorInfo) => readSmall(args, backendName, t);
  const activation = (args.attrs as { activation: FusedActivation }).activation;
  const spec = { size: sizeOf(x.shape), channels: x.shape[x.shape.length - 1], activation };
  return { x, spec, params: { gamma: small(gamma), beta: small(beta), mean: small(mean), invStd: small(invStd) } };
}

function proxyForwardKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo => {
    const { x, spec, params } = proxyInputs(args, backendName);
    const [y] = withHeap(args, backendName, [x], [x.shape], scratchBytes(periodOf(spec.channels)), (heap, [xp], [yp], scratch) => {
      proxyForward(heap, spec, xp, yp, scratch, params);
    });
    return y;
  };
}

function proxyBackwardKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo[] => {
    const { x, spec, params } = proxyInputs(args, backendName);
    const { dy } = args.inputs;
    let grads: ReturnType<typeof proxyBackward> | undefined;
    const [dx] = withHeap(args, backendName, [x, dy], [x.shape], scratchBytes(periodOf(spec.channels)), (heap, [xp, dzp], [dxp], scratch) => {
      grads = proxyBackward(heap, spec, xp, dzp, dxp, scratch, params);
    });
    const g = grads as ReturnType<typeof proxyBackward>;
    const C = [spec.channels];
    return [dx, ...[g.dgamma, g.dbeta, g.dmean, g.dinvStd].map((v) => makeSmall(args, backendName, C, v))];
  };
}

// ---------------------------------------------------------------------------------------------- thresholds

function thresholdSpec(x: TensorInfo) {
  return { size: sizeOf(x.shape), channels: x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1] };
}

function tluForwardKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo => {
    const { x, tau } = args.inputs;
    const spec = thresholdSpec(x);
    const t = readSmall(args, backendName, tau);
    const [y] = withHeap(args, backendName, [x], [x.shape], scratchBytes(periodOf(spec.channels)), (heap, [xp], [yp], scratch) => {
      thresholdForward(heap, spec, xp, yp, scratch, t);
    });
    return y;
  };
}

function tluBackwardKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo[] => {
    const { dy, x, tau } = args.inputs;
    const spec = thresholdSpec(x);
    const t = readSmall(args, backendName, tau);
    let dtau: Float64Array = new Float64Array(0);
    const [dx] = withHeap(args, backendName, [x, dy], [x.shape], scratchBytes(periodOf(spec.channels)), (heap, [xp, dzp], [dxp], scratch) => {
      dtau = thresholdBackward(heap, spec, xp, dzp, dxp, scratch, t, true);
    });
    return [dx, makeSmall(args, backendName, tau.shape, dtau)];
  };
}

function reluBackwardKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo => {
    const { dy, x } = args.inputs;
    const spec = thresholdSpec(x);
    const zero = new Float32Array(spec.channels);
    const [dx] = withHeap(args, backendName, [x, dy], [x.shape], scratchBytes(periodOf(spec.channels)), (heap, [xp, dzp], [dxp], scratch) => {
      thresholdBackward(heap, spec, xp, dzp, dxp, scratch, zero, false);
    });
    return dx;
  };
}

// ------------------------------------------------------------------------------------------- registration

let registered = false;

// ------------------------------------------------------------------------------- moving-statistics kernels

function rowMeanKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo => {
    const x = args.inputs.x;
    const [R, C] = x.shape;
    const v = readSmall(args, backendName, x);
    const sum = new Float64Array(C);
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) sum[c] += v[r * C + c];
    for (let c = 0; c < C; c++) sum[c] /= R;
    return makeSmall(args, backendName, [C], sum);
  };
}

function movingAverageKernel(backendName: string) {
  return (args: KernelArgs): TensorInfo => {
    const { moving, value } = args.inputs;
    const m = Math.fround((args.attrs as { momentum: number }).momentum), k = Math.fround(1 - (args.attrs as { momentum: number }).momentum);
    const a = readSmall(args, backendName, moving), b = readSmall(args, backendName, value);
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = Math.fround(a[i] * m) + Math.fround(b[i] * k);
    return makeSmall(args, backendName, moving.shape, out);
  };
}

/**
 * Registers the fused kernels for `wasm` and `cpu` and their gradients. Idempotent; kernels someone else
 * registered under the same names are left alone.
 */
export function registerFusedKernels(): void {
  if (registered) return;
  registered = true;
  const kernels: Array<[string, (backendName: string) => (args: KernelArgs) => TensorInfo | TensorInfo[]]> = [
    ...FUSED_NORM_KERNELS.flatMap((name): Array<[string, typeof normForwardKernel]> => [[name, normForwardKernel], [`${name}Grad`, normBackwardKernel]]),
    [FUSED_PROXY_KERNEL, proxyForwardKernel],
    [`${FUSED_PROXY_KERNEL}Grad`, proxyBackwardKernel],
    [FUSED_TLU_KERNEL, tluForwardKernel],
    [`${FUSED_TLU_KERNEL}Grad`, tluBackwardKernel],
    [FUSED_RELU_GRAD_KERNEL, reluBackwardKernel],
    [ROW_MEAN_KERNEL, rowMeanKernel],
    [MOVING_AVERAGE_KERNEL, movingAverageKernel],
  ];
  for (const backendName of FUSED_BACKENDS) {
    for (const [kernelName, factory] of kernels) {
      if (tf.getKernel(kernelName, backendName) !== undefined) continue;
      tf.registerKernel({ kernelName, backendName, kernelFunc: factory(backendName) as unknown as tf.KernelFunc });
    }
  }
  for (const name of FUSED_NORM_KERNELS) {
    tf.registerGradient({
      kernelName: name,
      inputsToSave: ['x', 'gamma', 'beta', 'tau', 'learnedEps'],
      outputsToSave: [false, false, false, true, true],
      gradFunc: (dys, saved, attrs) => {
        const [dy, dmean, dvariance, drstd] = dys as tf.Tensor[];
        const [x, gamma, beta, tau, learnedEps, rstd, offset] = saved;
        // Run eagerly (not inside one input's closure): each closure is evaluated in its own tidy scope.
        const g = tf.engine().runKernel(`${name}Grad`,
          { dy, dmean, dvariance, drstd, x, gamma, beta, tau, learnedEps, rstd, offset }, attrs) as tf.Tensor[];
        return { x: () => g[0], gamma: () => g[1], beta: () => g[2], tau: () => g[3], learnedEps: () => g[4] };
      },
    });
  }
  tf.registerGradient({
    kernelName: FUSED_TLU_KERNEL,
    inputsToSave: ['x', 'tau'],
    gradFunc: (dy, saved) => {
      const [x, tau] = saved;
      const g = tf.engine().runKernel(`${FUSED_TLU_KERNEL}Grad`, { dy: dy as tf.Tensor, x, tau }) as tf.Tensor[];
      return { x: () => g[0], tau: () => g[1] };
    },
  });
  // The ReLU gradient's own gradient (second-order gradients through ReLU, as with TF.js' `dy * step(x)`):
  // linear in `dy` with the same mask, constant in `x`.
  tf.registerGradient({
    kernelName: FUSED_RELU_GRAD_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (ddx, saved) => {
      const [x] = saved;
      return { dy: () => tf.engine().runKernel(FUSED_RELU_GRAD_KERNEL, { dy: ddx as tf.Tensor, x }) as tf.Tensor, x: () => tf.zerosLike(x) };
    },
  });
  // No gradient flows through the statistics of the moving averages (and nothing is saved for one).
  tf.registerGradient({ kernelName: ROW_MEAN_KERNEL, gradFunc: (_dy, _saved, attrs) => ({ x: () => tf.zeros(attrs.shape as number[]) }) });
  tf.registerGradient({
    kernelName: MOVING_AVERAGE_KERNEL,
    gradFunc: (dy) => ({ moving: () => tf.zerosLike(dy as tf.Tensor), value: () => tf.zerosLike(dy as tf.Tensor) }),
  });
  tf.registerGradient({
    kernelName: FUSED_PROXY_KERNEL,
    inputsToSave: ['x', 'gamma', 'beta', 'mean', 'invStd'],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma, beta, mean, invStd] = saved;
      const g = tf.engine().runKernel(`${FUSED_PROXY_KERNEL}Grad`, { dy: dy as tf.Tensor, x, gamma, beta, mean, invStd }, attrs) as tf.Tensor[];
      return { x: () => g[0], gamma: () => g[1], beta: () => g[2], mean: () => g[3], invStd: () => g[4] };
    },
  });
}

/**
 * Whether the active backend runs the fused kernels (and they are enabled). On `wasm` this needs the SIMD loops
 * (until they are compiled, or where WebAssembly SIMD is missing, the composite ops are faster than the
 * JavaScript loops); on `cpu` the JavaScript loops stand in for them (still far faster than the composite).
 */
export function fusedKernelsActive(): boolean {
  if (!fusedConfig.enabled) return false;
  const backendName = tf.getBackend();
  if (!(FUSED_BACKENDS as readonly string[]).includes(backendName)) return false;
  if (tf.getKernel(FUSED_NORM_KERNELS[0], backendName) === undefined) return false;
  if (backendName === 'wasm') {
    const memory = wasmMemoryOf(tf.backend());
    if (memory === null || (fusedConfig.simd && simdFor(memory) === null)) return false;
  }
  return true;
}

/** Whether `name` (an activation name of batchfree) has a fused proxy kernel; `swish` maps to `silu`. */
export function fusedActivationOf(name: string): FusedActivation | null {
  const act = name === 'swish' ? 'silu' : name;
  return (FUSED_ACTIVATIONS as readonly string[]).includes(act) ? act as FusedActivation : null;
}
