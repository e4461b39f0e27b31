/**
 * Proxy Normalization (Labatie et al., NeurIPS 2021): a normalization step without affine transform, followed by
 * a proxy-normalized activation whose output is centred and scaled with the statistics of a Gaussian proxy
 * pushed through the same affine transform and activation. No batch dependence. METHODS.md §3.
 * @module
 */
import { tf } from '../engine.js';
import { fusable, fusedActivationOf, fusedKernelsActive, fusedProxyActivation } from '../kernels/fused/index.js';
import { ActivationName, activate, assertActivationName } from './activations.js';
import { channelAffine } from './filter_response_norm.js';
import { argumentError, assertChannelParam, assertInteger, assertPositive, assertRank } from './validate.js';

/** Default proxy epsilon `eps_pn` (the paper: smaller values hurt). */
export const PROXY_NORM_DEFAULT_EPSILON = 0.03;
/** Default number of proxy samples `S` (the official code's value). */
export const PROXY_NORM_DEFAULT_SAMPLES = 200;

// Wichura's Algorithm AS 241 (PPND16), Applied Statistics 37(3), 1988: minimax rational approximations of the
// normal quantile, accurate to about 1 part in 1e16. Coefficients of the numerator / denominator polynomials in
// increasing powers, for the central region |p - 0.5| <= 0.425, the intermediate tail r <= 5 and the far tail.
const CENTRAL_NUM = [3.3871328727963665, 1.3314166789178438e2, 1.9715909503065513e3, 1.373169376550946e4,
  4.592195393154987e4, 6.72657709270087e4, 3.343057558358813e4, 2.5090809287301227e3];
const CENTRAL_DEN = [1, 4.231333070160091e1, 6.871870074920579e2, 5.394196021424751e3,
  2.1213794301586597e4, 3.930789580009271e4, 2.8729085735721943e4, 5.226495278852854e3];
const NEAR_NUM = [1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045,
  1.2704582524523684, 2.417807251774506e-1, 2.2723844989269184e-2, 7.745450142783414e-4];
const NEAR_DEN = [1, 2.053191626637759, 1.6763848301838038, 6.897673349851e-1,
  1.4810397642748008e-1, 1.5198666563616457e-2, 5.475938084995345e-4, 1.0507500716444169e-9];
const FAR_NUM = [6.657904643501103, 5.463784911164114, 1.7848265399172913, 2.9656057182850487e-1,
  2.6532189526576124e-2, 1.2426609473880784e-3, 2.7115555687434876e-5, 2.0103343992922881e-7];
const FAR_DEN = [1, 5.99832206555888e-1, 1.369298809227358e-1, 1.4875361290850615e-2,
  7.868691311456133e-4, 1.8463183175100548e-5, 1.421511758316446e-7, 2.0442631033899397e-15];

/** Horner evaluation of `sum_k c[k] t^k`. */
function poly(c: readonly number[], t: number): number {
  let s = 0;
  for (let k = c.length - 1; k >= 0; k--) s = s * t + c[k];
  return s;
}

/**
 * The standard normal quantile `Phi^-1(p)` in float64 (Wichura's AS 241, relative accuracy ~1e-16).
 * @throws unless `0 < p < 1`.
 */
export function inverseNormalCdf(p: number): number {
  if (typeof p !== 'number' || !(p > 0 && p < 1)) throw argumentError('inverseNormalCdf', 'p', p, 'a probability strictly between 0 and 1');
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(CENTRAL_NUM, r)) / poly(CENTRAL_DEN, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let z: number;
  if (r <= 5) {
    r -= 1.6;
    z = poly(NEAR_NUM, r) / poly(NEAR_DEN, r);
  } else {
    r -= 5;
    z = poly(FAR_NUM, r) / poly(FAR_DEN, r);
  }
  return q < 0 ? -z : z;
}

const sampleCache = new Map<number, Float32Array>();

/**
 * The fixed proxy samples `q_i = Phi^-1((i + 0.5) / S)`, `i = 0..S-1` (METHODS.md §3): deterministic points,
 * uniform in probability, whose empirical distribution approximates N(0, 1). Returns a fresh copy.
 * @param count `S`, a whole number >= 2 (default 200).
 */
export function proxySamples(count: number = PROXY_NORM_DEFAULT_SAMPLES): Float32Array {
  assertInteger('proxySamples', 'count', count, 2);
  let q = sampleCache.get(count);
  if (q === undefined) {
    q = new Float32Array(count);
    for (let i = 0; i < count; i++) q[i] = inverseNormalCdf((i + 0.5) / count);
    sampleCache.set(count, q);
  }
  return q.slice();
}

/** The parameters of the proxy (shared by {@link proxyNormActivation} and {@link proxyStatistics}). */
export interface ProxyParameters {
  /** Proxy shift `betaTilde` `[C]` (init 0, weight-decayed); omitted = 0. */
  betaTilde?: tf.Tensor1D;
  /** Proxy scale offset `gammaTilde` `[C]`: the proxy's scale is `1 + gammaTilde` (init 0, weight-decayed); omitted = 0. */
  gammaTilde?: tf.Tensor1D;
  /** The activation `phi` (default `'relu'`; the paper uses relu, swish/silu and gelu). */
  activation?: ActivationName;
  /** `eps_pn` in `rsqrt(var(Z) + eps_pn)`; default 0.03. Must be > 0. */
  eps?: number;
  /** Number of proxy samples `S`; default 200. A whole number >= 2. */
  samples?: number;
}

/** Options of {@link proxyNormActivation}. */
export interface ProxyNormOptions extends ProxyParameters {
  /** Per-channel scale `[C]` of the affine transform before the activation; omitted = 1 (its initial value). */
  gamma?: tf.Tensor1D;
  /** Per-channel shift `[C]`; omitted = 0 (its initial value). */
  beta?: tf.Tensor1D;
  /**
   * Whether to scale by `s = rsqrt(var(Z) + eps)` (default `true`). The paper disables the scaling part of the
   * last proxy-normalized activation before the final mean pooling: `false` outputs `phi(gamma*x + beta) - mu`.
   */
  scale?: boolean;
}

/** Options of {@link proxyStatistics}: the affine parameters are required (they fix the channel count). */
export interface ProxyStatisticsOptions extends ProxyParameters {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

/** The proxy statistics per channel: `mean = mu = mean(Z)`, `invStd = s = rsqrt(var(Z) + eps)`. */
export interface ProxyStatistics {
  mean: tf.Tensor1D;
  invStd: tf.Tensor1D;
}

/**
 * `mu` and `s` of the proxy for `channels` channels (shape `[channels]`, or `[1]` when no parameter is given and
 * `channels` is undefined). Differentiable in every parameter. Must run inside a tidy.
 */
function proxyMoments(op: string, channels: number, gamma: tf.Tensor | undefined, beta: tf.Tensor | undefined, p: ProxyParameters): { mean: tf.Tensor; invStd: tf.Tensor } {
  const activation = p.activation ?? 'relu';
  const eps = p.eps ?? PROXY_NORM_DEFAULT_EPSILON;
  const samples = p.samples ?? PROXY_NORM_DEFAULT_SAMPLES;
  assertActivationName(op, activation);
  assertPositive(op, 'eps', eps);
  assertInteger(op, 'samples', samples, 2);
  assertChannelParam(op, 'betaTilde', p.betaTilde, channels);
  assertChannelParam(op, 'gammaTilde', p.gammaTilde, channels);
  // Y = (1 + gammaTilde) * q + betaTilde, shape [S, C] (or [S, 1] without proxy parameters).
  let y: tf.Tensor = tf.tensor2d(proxySamples(samples), [samples, 1]);
  if (p.gammaTilde !== undefined) y = tf.mul(y, tf.add(p.gammaTilde, 1));
  if (p.betaTilde !== undefined) y = tf.add(y, p.betaTilde);
  // Z = phi(gamma * Y + beta); mu = mean(Z), var = mean((Z - mu)^2) (biased), over the S samples.
  // (gamma and beta were checked by the caller against the channel count; y may still have a single column.)
  if (gamma !== undefined) y = tf.mul(y, gamma);
  if (beta !== undefined) y = tf.add(y, beta);
  const z = activate(y, activation);
  const mean = tf.mean(z, 0);
  const variance = tf.mean(tf.square(tf.sub(z, mean)), 0);
  return { mean, invStd: tf.rsqrt(tf.add(variance, eps)) };
}

/**
 * The proxy statistics of METHODS.md §3: with fixed samples `q` ({@link proxySamples}),
 * `Y = (1 + gammaTilde) * q + betaTilde`, `Z = phi(gamma * Y + beta)` per channel,
 * `mean = mean(Z)` and `invStd = rsqrt(var(Z) + eps)` (biased variance), each `[C]`.
 * Differentiable in `gamma`, `beta`, `betaTilde` and `gammaTilde`. Use it to fold a trained
 * {@link proxyNormActivation} into constants at inference, or to inspect the proxy.
 */
export function proxyStatistics(options: ProxyStatisticsOptions): ProxyStatistics {
  const op = 'proxyStatistics';
  if (!(options.gamma instanceof tf.Tensor) || options.gamma.rank !== 1) {
    throw argumentError(op, 'gamma', options.gamma instanceof tf.Tensor ? `shape [${options.gamma.shape.join(',')}]` : typeof options.gamma, 'a tf.Tensor of shape [C]');
  }
  const channels = options.gamma.shape[0];
  assertChannelParam(op, 'beta', options.beta, channels);
  if (options.beta === undefined) throw argumentError(op, 'beta', 'undefined', `a tf.Tensor of shape [${channels}]`);
  return tf.tidy(() => {
    const { mean, invStd } = proxyMoments(op, channels, options.gamma, options.beta, options);
    return { mean: mean as tf.Tensor1D, invStd: invStd as tf.Tensor1D };
  });
}

/**
 * Proxy-normalized activation, METHODS.md §3:
 * `(phi(gamma * x + beta) - mu) * s`, where `mu = mean(Z)`, `s = rsqrt(var(Z) + eps)` are the statistics of the
 * proxy `Z = phi(gamma * Y + beta)`, `Y = (1 + gammaTilde) * q + betaTilde` over the fixed samples `q`
 * ({@link proxyStatistics}). `mu` and `s` are computed in the forward pass from the parameters, so gradients flow
 * through them (this equals the official update rule). With `scale: false` the output is `phi(gamma*x + beta) - mu`.
 *
 * `x` is expected to be already normalized (e.g. by LayerNorm or GroupNorm without affine transform).
 * @param x `[B,C]` or `[B,H,W,C]`; each element is transformed on its own (no batch dependence).
 * @returns a tensor shaped like `x`, differentiable in `x`, `gamma`, `beta`, `betaTilde` and `gammaTilde`.
 */
export function proxyNormActivation(x: tf.Tensor, options: ProxyNormOptions = {}): tf.Tensor {
  const op = 'proxyNormActivation';
  assertRank(op, 'x', x, [2, 4]);
  const channels = x.shape[x.rank - 1];
  assertChannelParam(op, 'gamma', options.gamma, channels);
  assertChannelParam(op, 'beta', options.beta, channels);
  const activation = options.activation ?? 'relu';
  assertActivationName(op, activation);
  return tf.tidy(() => {
    const { mean, invStd } = proxyMoments(op, channels, options.gamma, options.beta, options);
    if (fusedKernelsActive() && fusedActivationOf(activation) !== null && fusable(x, options.gamma, options.beta)) {
      // One pass over x each way (proxy_core.ts); mu and s stay differentiable [C] tensors.
      const perChannel = (t: tf.Tensor) => (t.shape[0] === channels ? t : tf.broadcastTo(t, [channels]));
      return fusedProxyActivation(x, {
        activation, gamma: options.gamma, beta: options.beta, mean: perChannel(mean),
        invStd: options.scale === false ? undefined : perChannel(invStd),
      });
    }
    const centred = tf.sub(activate(channelAffine(op, x, options.gamma, options.beta), activation), mean);
    return options.scale === false ? centred : tf.mul(centred, invStd);
  });
}
