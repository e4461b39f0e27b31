/**
 * Test utilities: float64 reference arrays, seeded random data, norm-relative comparison,
 * central finite differences in float64, and a tensor-leak guard.
 */
import assert from 'node:assert/strict';
import { tf } from '../src/engine.js';
import { mulberry32 } from '../src/data/random.js';

/** Use the reference `cpu` backend (call in a `before` hook). */
export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** A float64 array with its NHWC shape, used by the naive reference loops in tests. */
export interface Arr { data: Float64Array; shape: number[] }

/** A small seeded generator of uniforms in `[0, 1)`: the data pipeline's Mulberry32 (tested in test/data/random.test.ts). */
export const rng: (seed: number) => () => number = mulberry32;

/** Seeded standard normals times `scale` plus `shift`, shaped `shape`. */
export function randn(shape: number[], seed: number, scale = 1, shift = 0): Arr {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12), v = r();
    data[i] = shift + scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return { data, shape };
}

/** float32 tensor from a float64 array. */
export function tensor(a: Arr): tf.Tensor {
  return tf.tensor(Float32Array.from(a.data), a.shape);
}

/** float64 copy of a tensor's values (rounded float32, as the op computed them). */
export function values(t: tf.Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/** `max|a - b| / max|b|` (norm-relative error; robust near zeros). */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length mismatch');
  let num = 0, den = 0;
  for (let i = 0; i < actual.length; i++) {
    num = Math.max(num, Math.abs(actual[i] - expected[i]));
    den = Math.max(den, Math.abs(expected[i]));
  }
  return den === 0 ? num : num / den;
}

/** Asserts `relError(actual, expected) <= tol`, and that `actual` is finite. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4, label = ''): void {
  for (let i = 0; i < actual.length; i++) assert.ok(Number.isFinite(actual[i]), `${label}: non-finite value at ${i}`);
  const e = relError(actual, expected);
  assert.ok(e <= tol, `${label}: relative error ${e.toExponential(3)} > ${tol}`);
}

/**
 * Gradient of `sum(f(inputs) * dy)` with respect to each input by central differences in float64.
 * `f` is the test's own float64 reference. The step is relative to each input's scale.
 */
export function finiteDifferenceGrads(f: (inputs: Float64Array[]) => Float64Array, inputs: Float64Array[], dy: Float64Array, relStep = 1e-6): Float64Array[] {
  const objective = (xs: Float64Array[]): number => {
    const y = f(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dy[i];
    return s;
  };
  return inputs.map((input, k) => {
    let scale = 0;
    for (const v of input) scale = Math.max(scale, Math.abs(v));
    const h = relStep * Math.max(scale, 1e-3);
    const g = new Float64Array(input.length);
    for (let i = 0; i < input.length; i++) {
      const plus = inputs.map((a) => a.slice());
      const minus = inputs.map((a) => a.slice());
      plus[k][i] += h;
      minus[k][i] -= h;
      g[i] = (objective(plus) - objective(minus)) / (2 * h);
    }
    return g;
  });
}

/**
 * Gradients of `sum(op(...inputs) * dy)` by TF.js autodiff, as float64 arrays, disposing everything.
 */
export function autodiffGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): Float64Array[] {
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(op(...xs), dy)))(inputs);
  const out = grads.map(values);
  tf.dispose(grads);
  return out;
}

/**
 * The reference check of an op test: `op(...inputs)` is shaped like `dy` and matches the float64 reference `ref`
 * (norm-relative `forward` tolerance), and the autodiff gradients of `sum(op(...) * dy)` with respect to every input
 * match central finite differences of `ref` (`grad` tolerance). `names` label the inputs in failure messages
 * (`d/d<name>`). Disposes every tensor it creates.
 */
export function assertMatchesReference(op: (...xs: tf.Tensor[]) => tf.Tensor, ref: (inputs: Float64Array[]) => Float64Array,
  inputs: Arr[], dy: Arr, names: readonly string[], tol: { forward?: number; grad?: number } = {}): void {
  const ts = inputs.map(tensor), dyT = tensor(dy);
  try {
    const y = op(...ts);
    const shape = y.shape, got = values(y);
    y.dispose();
    assert.deepEqual(shape, dy.shape, 'output shape');
    assertClose(got, ref(inputs.map((a) => a.data)), tol.forward ?? 1e-4, 'forward');
    const grads = autodiffGrads(op, ts, dyT);
    const want = finiteDifferenceGrads(ref, inputs.map((a) => a.data), dy.data);
    grads.forEach((g, i) => assertClose(g, want[i], tol.grad ?? 1e-4, `d/d${names[i] ?? `input ${i}`}`));
  } finally {
    tf.dispose([...ts, dyT]);
  }
}

/** Runs `fn` and asserts it leaves no new tensor behind. */
export function assertNoLeak(fn: () => void, label = ''): void {
  const before = tf.memory().numTensors;
  fn();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `${label}: leaked ${after - before} tensor(s)`);
}

/** Async form of {@link assertNoLeak}. */
export async function assertNoLeakAsync(fn: () => Promise<void>, label = ''): Promise<void> {
  const before = tf.memory().numTensors;
  await fn();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `${label}: leaked ${after - before} tensor(s)`);
}

/** Index of element (b,h,w,c) in an NHWC array of shape [B,H,W,C]. */
export function nhwc(shape: number[], b: number, h: number, w: number, c: number): number {
  const [, H, W, C] = shape;
  return ((b * H + h) * W + w) * C + c;
}
