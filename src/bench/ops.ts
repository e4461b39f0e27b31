/**
 * Per-op speed of `batchfree bench`: each normalization at x = 64×32×32×64 float32 (16 MiB) by default, forward
 * and forward+backward, by the composite path (TF.js elementwise ops) and by the fused kernels
 * (`src/kernels/fused`), next to
 * - the memory floor: a forward moves at least 2 × the tensor's bytes (read x, write y), a forward+backward 5 ×
 *   (and read x and dy, write dx): at the copy bandwidth measured at the start of the section, and as a copy
 *   moving those bytes timed right after each call of the fused (or stock) path ("adjacent floor": the same
 *   moments of the machine, whose memory speed drifts by up to 2× within minutes);
 * - PyTorch's figures at the same shape: measured in the same run (`--torch`), else PEERS.md's.
 *
 * Forward+backward is `tf.grads(op)([x, ...params], dy)` with a given `dy` (no loss ops): gradients of x and of
 * every parameter, as the PyTorch peer's `torch.autograd.grad`.
 * @module
 */
import { tf } from '../engine.js';
import { init } from '../init.js';
import { fusedConfig } from '../kernels/fused/index.js';
import { batchNormTraining } from '../ops/batch_norm.js';
import { filterResponseNorm, filterResponseNormTlu, tlu } from '../ops/filter_response_norm.js';
import { groupNorm, instanceNorm, layerNorm } from '../ops/group_norm.js';
import { proxyNormActivation } from '../ops/proxy_norm.js';
import { type Bandwidth, type CallTiming, copyBandwidth, errorLine, timeCalls, timePaired } from './stats.js';

/** The shape of PEERS.md's per-op table (NHWC; PyTorch's 64×64×32×32 NCHW). */
export const OP_SHAPE = [64, 32, 32, 64] as const;

/** An op of the per-op benchmark: `run(x, params)`, every parameter `[C]` (the first ones, the others zeros). */
export interface BenchOp {
  key: string;
  label: string;
  /** Number of `[C]` parameters (all differentiated). */
  params: number;
  /** Whether it has a fused kernel (measured both ways). */
  fused: boolean;
  run: (x: tf.Tensor, p: tf.Tensor[]) => tf.Tensor;
}

const t1 = (t: tf.Tensor): tf.Tensor1D => t as tf.Tensor1D;
const proxy = (activation: 'relu' | 'swish' | 'gelu'): BenchOp['run'] => (x, [g, b, bt, gt]) =>
  proxyNormActivation(x, { activation, gamma: t1(g), beta: t1(b), betaTilde: t1(bt), gammaTilde: t1(gt) });

/** The ops measured, in table order. */
export const BENCH_OPS: readonly BenchOp[] = [
  { key: 'frn_tlu', label: 'FRN + TLU', params: 3, fused: true,
    run: (x, [g, b, t]) => (fusedConfig.enabled
      ? filterResponseNormTlu(x, { gamma: t1(g), beta: t1(b), tau: t1(t) })
      : tlu(filterResponseNorm(x, { gamma: t1(g), beta: t1(b) }), t)) },
  { key: 'gn32', label: 'GroupNorm(32)', params: 2, fused: true, run: (x, [g, b]) => groupNorm(x, { groups: 32, gamma: g, beta: b }) },
  { key: 'ln', label: 'LayerNorm (H,W,C)', params: 2, fused: true, run: (x, [g, b]) => layerNorm(x, { gamma: g, beta: b }) },
  { key: 'in', label: 'InstanceNorm', params: 2, fused: true, run: (x, [g, b]) => instanceNorm(x, { gamma: g, beta: b }) },
  { key: 'bn', label: 'BatchNorm (training)', params: 2, fused: true, run: (x, [g, b]) => batchNormTraining(x, { gamma: g, beta: b }).y },
  { key: 'pn_relu', label: 'proxy-norm act. relu', params: 4, fused: true, run: proxy('relu') },
  { key: 'pn_swish', label: 'proxy-norm act. swish', params: 4, fused: true, run: proxy('swish') },
  { key: 'pn_gelu', label: 'proxy-norm act. gelu', params: 4, fused: true, run: proxy('gelu') },
  { key: 'relu', label: 'ReLU (reference)', params: 0, fused: false, run: (x) => tf.relu(x) },
];

/** Options of {@link benchOps}. */
export interface OpsBenchOptions {
  /** NHWC shape of x; default {@link OP_SHAPE}. */
  shape?: readonly number[];
  /** Op keys (see {@link BENCH_OPS}); default all. */
  ops?: readonly string[];
  /** Backends; default `['wasm']`. */
  backends?: ReadonlyArray<'wasm' | 'cpu'>;
  /** Timed calls per measurement on wasm; default 15. */
  iters?: number;
  /** Timed calls per measurement on cpu; default 3. */
  cpuIters?: number;
  /** Untimed calls first; default {@link OPS_WARMUP_CALLS}. */
  warmup?: number;
  /** Size of the arrays of the bandwidth measurement, MiB; default 256. */
  bandwidthMiB?: number;
  log?: (line: string) => void;
}

/** One op on one backend by one path. */
export interface OpRow {
  op: string;
  label: string;
  backend: string;
  /** `'fused'` kernels, `'composite'` TF.js ops, or `'stock'` (an op with no fused kernel). */
  path: 'composite' | 'fused' | 'stock';
  fwd?: CallTiming;
  fwdBwd?: CallTiming;
  /** Fused and stock paths: a copy moving 2 × / 5 × x's bytes timed right after each call of `fwd` / `fwdBwd`. */
  fwdFloor?: CallTiming;
  fwdBwdFloor?: CallTiming;
  error?: string;
}

/** What {@link benchOps} measured. */
export interface OpsBenchResult {
  shape: number[];
  /** Bytes of x. */
  bytes: number;
  bandwidth: Bandwidth;
  /** 2 × bytes at the measured bandwidth, ms. */
  fwdFloorMs: number;
  /** 5 × bytes at the measured bandwidth, ms. */
  fwdBwdFloorMs: number;
  iters: { wasm: number; cpu: number; warmup: number };
  rows: OpRow[];
}

/** Measures the ops (see the module description); the backend active afterwards is the last one measured. */
export async function benchOps(options: OpsBenchOptions = {}): Promise<OpsBenchResult> {
  const { shape = OP_SHAPE, ops = BENCH_OPS.map((o) => o.key), backends = ['wasm'], iters = 15, cpuIters = 3, warmup = OPS_WARMUP_CALLS, bandwidthMiB = 256, log = () => undefined } = options;
  const unknown = ops.filter((k) => !BENCH_OPS.some((o) => o.key === k));
  if (unknown.length > 0) throw new Error(`benchOps: argument 'ops' is invalid: got '${unknown.join(',')}', expected keys among ${BENCH_OPS.map((o) => o.key).join(', ')}`);
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`benchOps: argument 'shape' is invalid: got [${shape.join(',')}], expected [B,H,W,C] whole numbers >= 1`);
  const bytes = shape.reduce((a, b) => a * b, 1) * 4;
  log(`ops: copy bandwidth (${bandwidthMiB} MiB arrays)...`);
  const bandwidth = copyBandwidth(bandwidthMiB);
  const result: OpsBenchResult = {
    shape: [...shape], bytes, bandwidth,
    fwdFloorMs: ((2 * bytes) / bandwidth.bytesPerSecond) * 1000,
    fwdBwdFloorMs: ((5 * bytes) / bandwidth.bytesPerSecond) * 1000,
    iters: { wasm: iters, cpu: cpuIters, warmup }, rows: [],
  };
  // The adjacent floors' copies: half the bytes moved (each copied byte is read and written).
  const src = new Float32Array(Math.ceil((5 * bytes) / 8)).fill(1), dst = new Float32Array(src.length);
  const floors = { fwd: () => dst.set(src.subarray(0, bytes / 4)), fwdBwd: () => dst.set(src) };
  for (const backend of backends) {
    await init({ backend });
    for (const op of BENCH_OPS.filter((o) => ops.includes(o.key))) {
      for (const path of op.fused ? (['composite', 'fused'] as const) : (['stock'] as const)) {
        const row = measureOp(op, backend, path, shape, backend === 'cpu' ? cpuIters : iters, warmup, path === 'composite' ? undefined : floors);
        const f = (t?: CallTiming): string => (t === undefined ? '-' : `${t.wallMs.toFixed(2)} ms`);
        log(`  ${backend} ${op.key} ${path}: fwd ${f(row.fwd)}, fwd+bwd ${f(row.fwdBwd)}${row.error === undefined ? '' : `, fails: ${row.error}`}`);
        result.rows.push(row);
      }
    }
  }
  return result;
}

/**
 * Untimed calls before each measurement. V8 optimizes the fused kernels' per-unit JavaScript over the first calls:
 * with 5, the fused FRN+TLU forward at 64×32×32×64 measured 4.3–4.9 ms against 3.3 ms after 40 calls.
 */
export const OPS_WARMUP_CALLS = 15;

function measureOp(op: BenchOp, backend: string, path: OpRow['path'], shape: readonly number[], iters: number, warmup: number,
  floors?: { fwd: () => void; fwdBwd: () => void }): OpRow {
  fusedConfig.enabled = path === 'fused';
  const row: OpRow = { op: op.key, label: op.label, backend, path };
  const C = shape[3];
  const x = tf.randomNormal([...shape], 0, 1, 'float32', 1);
  const dy = tf.randomNormal([...shape], 0, 1, 'float32', 2);
  const params = Array.from({ length: op.params }, (_, k) => (k === 0 ? tf.ones([C]) : tf.zeros([C])));
  try {
    const fwd = (): void => tf.tidy(() => op.run(x, params)).dispose();
    const grads = tf.grads((...t: tf.Tensor[]) => op.run(t[0], t.slice(1)));
    const fwdBwd = (): void => tf.dispose(grads([x, ...params], dy));
    if (floors === undefined) {
      row.fwd = timeCalls(fwd, iters, warmup);
      row.fwdBwd = timeCalls(fwdBwd, iters, warmup);
    } else {
      [row.fwd, row.fwdFloor] = timePaired(fwd, floors.fwd, iters, warmup);
      [row.fwdBwd, row.fwdBwdFloor] = timePaired(fwdBwd, floors.fwdBwd, iters, warmup);
    }
  } catch (e) {
    row.error = errorLine(e);
  } finally {
    tf.dispose([x, dy, ...params]);
    fusedConfig.enabled = true;
  }
  return row;
}
