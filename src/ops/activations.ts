/**
 * Named activations and their variance-preserving ("scaled") forms for normalizer-free networks
 * (Brock et al. 2021, METHODS.md §4), also used by Proxy Normalization (METHODS.md §3).
 * @module
 */
import { tf } from '../engine.js';
import { assertOneOf } from './validate.js';

/** Every activation batchfree knows by name. `swish` is another name of `silu` (`x * sigmoid(x)`). */
export type ActivationName = 'relu' | 'gelu' | 'silu' | 'swish' | 'tanh' | 'elu' | 'selu' | 'identity';

/** The accepted activation names, in a fixed order (for option checks and error messages). */
export const ACTIVATION_NAMES: readonly ActivationName[] = ['relu', 'gelu', 'silu', 'swish', 'tanh', 'elu', 'selu', 'identity'];

/** SELU constants (Klambauer et al. 2017), the same as TF.js' `tf.selu`. */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** Throws, naming the argument `activation` and listing the choices, unless `name` is an {@link ActivationName}. */
export function assertActivationName(op: string, name: string): asserts name is ActivationName {
  assertOneOf(op, 'activation', name, ACTIVATION_NAMES);
}

/**
 * Applies the activation `name` elementwise. Differentiable (TF.js autodiff).
 *
 * - `relu`: `max(x, 0)`; `silu`/`swish`: `x * sigmoid(x)`; `tanh`; `elu`: `x` if `x > 0` else `exp(x) - 1`;
 *   `selu`: `tf.selu` (scale 1.0507…, alpha 1.6733…); `identity`: a clone of `x` (same data, safe to dispose).
 * - `gelu` is the exact form `x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt 2))` through `tf.erf`, not the tanh
 *   approximation. (TF.js' cpu `erf` is a rational approximation with absolute error below 1.5e-7.)
 *
 * @throws if `name` is not one of {@link ACTIVATION_NAMES} (the message names `activation` and the choices).
 */
export function activate(x: tf.Tensor, name: ActivationName): tf.Tensor {
  assertActivationName('activate', name);
  switch (name) {
    case 'identity': return tf.clone(x);
    case 'relu': return tf.relu(x);
    case 'tanh': return tf.tanh(x);
    case 'elu': return tf.elu(x);
    case 'selu': return tf.selu(x);
    case 'silu':
    case 'swish': return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
    case 'gelu': return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
  }
}

/**
 * The error function in float64, by the series `erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (2n+1)!!`
 * (all terms positive: no cancellation). Accurate to a few ulps for |x| < 6; `±1` beyond (`erfc(6) ≈ 2e-17`).
 */
export function erf64(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  const a2 = a * a;
  let term = a, sum = a;
  for (let n = 0; n < 500 && term > sum * 1e-17; n++) {
    term *= (2 * a2) / (2 * n + 3);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a2) * sum;
}

/** The activation `name` applied to one float64 number (the same functions as {@link activate}). @internal */
export function activateNumber(v: number, name: ActivationName): number {
  switch (name) {
    case 'identity': return v;
    case 'relu': return v > 0 ? v : 0;
    case 'tanh': return Math.tanh(v);
    case 'elu': return v > 0 ? v : Math.expm1(v);
    case 'selu': return SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Math.expm1(v));
    case 'silu':
    case 'swish': return v / (1 + Math.exp(-v));
    case 'gelu': return 0.5 * v * (1 + erf64(v * Math.SQRT1_2));
  }
}

const gainCache = new Map<ActivationName, number>();

/**
 * The gain `gamma_phi` with `Var(gamma_phi * phi(z)) = 1` for `z ~ N(0, 1)` (METHODS.md §4, "scaled activations"):
 * `gamma_phi = 1 / sqrt(E[phi(z)^2] - E[phi(z)]^2)`.
 *
 * The two expectations are integrals against the standard normal density, computed once per activation by a
 * composite Simpson rule over [-12, 12] with step 1e-3 (the mass outside is ~4e-33; every kink of these
 * activations is at 0, a panel boundary, so the rule keeps its h^4 accuracy) and cached. ReLU gives
 * `sqrt(2 / (1 - 1/pi)) = 1.7128585…`; DeepMind's table holds Monte-Carlo estimates of the same numbers.
 */
export function scaledActivationGain(name: ActivationName): number {
  assertActivationName('scaledActivationGain', name);
  const cached = gainCache.get(name);
  if (cached !== undefined) return cached;
  let gain = 1;
  if (name !== 'identity') {
    const lo = -12, hi = 12, n = 24000;
    const h = (hi - lo) / n;
    let m1 = 0, m2 = 0;
    for (let i = 0; i <= n; i++) {
      const z = lo + i * h;
      const w = (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2) * Math.exp(-0.5 * z * z);
      const f = activateNumber(z, name);
      m1 += w * f;
      m2 += w * f * f;
    }
    const c = h / 3 / Math.sqrt(2 * Math.PI);
    m1 *= c;
    m2 *= c;
    gain = 1 / Math.sqrt(m2 - m1 * m1);
  }
  gainCache.set(name, gain);
  return gain;
}

/** `scaledActivationGain(name) * phi(x)`: an activation whose output has unit variance for N(0,1) input. */
export function scaledActivation(x: tf.Tensor, name: ActivationName): tf.Tensor {
  const gain = scaledActivationGain(name);
  return tf.tidy(() => tf.mul(activate(x, name), gain));
}
