/**
 * Fused forward/backward normalization kernels for the `wasm` and `cpu` backends: each normalization (and the
 * proxy-normalized activation) runs in about two passes over its input forward and two backward, instead of
 * one pass per TF.js elementwise op. Importing this module registers the kernels and their gradients; the ops
 * in `src/ops/` route through {@link fusedNorm} / {@link fusedProxyActivation} when
 * {@link fusedKernelsActive} (and keep their composite form on other backends: webgl, webgpu, tensorflow).
 *
 * Layout and loops: `simd_module.ts` (WebAssembly SIMD), math: `norm_core.ts`, `proxy_core.ts`, TF.js glue:
 * `kernels.ts`.
 * @module
 */
import { tf } from '../../engine.js';
import {
  FUSED_NORM_KERNELS, FUSED_PROXY_KERNEL, FUSED_RELU_GRAD_KERNEL, FUSED_TLU_KERNEL, FusedNormKernel, MOVING_AVERAGE_KERNEL, ROW_MEAN_KERNEL,
  fusedActivationOf, fusedConfig, fusedKernelsActive, registerFusedKernels,
} from './kernels.js';

export { FUSED_NORM_KERNELS, FUSED_PROXY_KERNEL, FUSED_RELU_GRAD_KERNEL, FUSED_TLU_KERNEL, MOVING_AVERAGE_KERNEL, ROW_MEAN_KERNEL, fusedActivationOf, fusedConfig, fusedKernelsActive };
export type { FusedNormKernel };
export { FUSED_ACTIVATIONS } from './simd_module.js';
export type { FusedActivation } from './simd_module.js';

registerFusedKernels();

/** Options of {@link fusedNorm}. */
export interface FusedNormOptions {
  /** Channel groups `G` per unit (divides `C`): `C` for FRN, IN and BN, the group count for GN, 1 for LN. */
  groups: number;
  /** Rows (`C`-vectors) per statistics unit: `H·W` per sample, `groupSize·H·W` for BN, 1 for dense FRN. */
  unitRows: number;
  /** Subtract the mean (GN/LN/IN/BN) or use the uncentred second moment (FRN, GFRN, LFRN). */
  center: boolean;
  /** Fixed epsilon inside the square root (the caller applies `backendSafeEpsilon`). */
  eps: number;
  /** Per-channel scale `[C]`; omitted = 1. */
  gamma?: tf.Tensor;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor;
  /** TLU threshold `[C]` (`max(y, tau)`); omitted = no TLU. */
  tau?: tf.Tensor;
  /** Learned epsilon (scalar tensor): effective epsilon `eps + |learnedEps|`; omitted = 0. */
  learnedEps?: tf.Tensor;
}

/** Result of {@link fusedNorm}: the output and the statistics per unit and group, `[U, G]`. */
export interface FusedNormResult {
  y: tf.Tensor;
  mean: tf.Tensor2D;
  variance: tf.Tensor2D;
  rstd: tf.Tensor2D;
}

/** Whether every tensor is float32 and `x` is non-empty (what the fused kernels accept). */
export function fusable(x: tf.Tensor, ...params: Array<tf.Tensor | undefined>): boolean {
  return x.dtype === 'float32' && x.size > 0 && params.every((p) => p === undefined || p.dtype === 'float32');
}

/**
 * The fused normalization (arguments already checked by the calling op): per unit of `unitRows` rows and
 * group `g` of channels, `mu = mean x` (0 when uncentred), `var = mean (x - mu)^2`,
 * `rstd = 1 / sqrt(var + eps + |learnedEps|)`, `y = max(gamma (x - mu) rstd + beta, tau)`.
 * Differentiable in `x`, `gamma`, `beta`, `tau`, `learnedEps` through all four outputs.
 */
export function fusedNorm(kernel: FusedNormKernel, x: tf.Tensor, o: FusedNormOptions): FusedNormResult {
  const channels = x.shape[x.rank - 1];
  return tf.tidy(() => {
    const inputs = {
      x,
      gamma: o.gamma ?? tf.ones([channels]),
      beta: o.beta ?? tf.zeros([channels]),
      tau: o.tau ?? tf.fill([channels], -Infinity),
      learnedEps: o.learnedEps ?? tf.scalar(0),
    };
    const attrs = { groups: o.groups, unitRows: o.unitRows, center: o.center, eps: o.eps };
    const [y, mean, variance, rstd] = tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return { y, mean: mean as tf.Tensor2D, variance: variance as tf.Tensor2D, rstd: rstd as tf.Tensor2D };
  });
}

/** Options of {@link fusedProxyActivation}. */
export interface FusedProxyOptions {
  /** The activation (a name accepted by {@link fusedActivationOf}). */
  activation: string;
  /** Per-channel scale `[C]`; omitted = 1. */
  gamma?: tf.Tensor;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor;
  /** Proxy mean `mu` `[C]`. */
  mean: tf.Tensor;
  /** Proxy inverse standard deviation `s` `[C]`; omitted = 1 (no scaling). */
  invStd?: tf.Tensor;
}

/**
 * The fused proxy-normalized activation `(phi(gamma x + beta) - mu) s` (arguments already checked by the
 * calling op). Differentiable in `x`, `gamma`, `beta`, `mean` and `invStd`.
 * @throws if the activation has no fused kernel (check {@link fusedActivationOf} first).
 */
export function fusedProxyActivation(x: tf.Tensor, o: FusedProxyOptions): tf.Tensor {
  const activation = fusedActivationOf(o.activation);
  if (activation === null) throw new Error(`fusedProxyActivation: argument 'activation' is invalid: got '${o.activation}', expected an activation with a fused kernel`);
  const channels = x.shape[x.rank - 1];
  return tf.tidy(() => {
    const inputs = {
      x,
      gamma: o.gamma ?? tf.ones([channels]),
      beta: o.beta ?? tf.zeros([channels]),
      mean: o.mean,
      invStd: o.invStd ?? tf.ones([channels]),
    };
    return tf.engine().runKernel(FUSED_PROXY_KERNEL, inputs, { activation } as unknown as tf.NamedAttrMap) as tf.Tensor;
  });
}

/**
 * The fused TLU `max(x, tau)` (eq. 3 of Singh & Krishnan; arguments already checked by the calling op): one pass
 * forward, one backward. Differentiable in `x` and `tau` (the gradient goes to `tau` where `x = tau`).
 */
export function fusedTlu(x: tf.Tensor, tau: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(FUSED_TLU_KERNEL, { x, tau }) as tf.Tensor;
}

/**
 * The mean over the rows of a float32 `[R, C]` tensor, as a constant (zero gradient), on a fused backend: the
 * statistics BatchNorm feeds its moving averages.
 */
export function fusedRowMean(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(ROW_MEAN_KERNEL, { x }, { shape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** `moving · momentum + value · (1 - momentum)` in one call (zero gradient), float32 `[C]` tensors on a fused backend. */
export function fusedMovingAverage(moving: tf.Tensor, value: tf.Tensor, momentum: number): tf.Tensor {
  return tf.engine().runKernel(MOVING_AVERAGE_KERNEL, { moving, value }, { momentum } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** `dy · [x > 0]` in one pass (the ReLU gradient), for float32 `x` and `dy` of the same shape on a fused backend. */
export function fusedReluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(FUSED_RELU_GRAD_KERNEL, { dy, x }) as tf.Tensor;
}
