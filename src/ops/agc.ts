/**
 * Adaptive Gradient Clipping (Brock et al. 2021, NFNets; METHODS.md §4): each unit's gradient is clipped
 * relative to the norm of the unit's weights.
 * @module
 */
import { tf } from '../engine.js';
import { argumentError, assertPositive } from './validate.js';

/** Default clipping threshold `lambda` (the paper's value for large batches). */
export const AGC_DEFAULT_CLIPPING = 0.01;
/** Default floor `eps` of the parameter norm (so that zero-initialised parameters can still move). */
export const AGC_DEFAULT_EPSILON = 1e-3;
/** Floor of the gradient norm in the clipping ratio (avoids 0/0; only reached when nothing needs clipping). */
const GRAD_NORM_FLOOR = 1e-6;

/** Options of {@link adaptiveGradientClip}. */
export interface AdaptiveGradientClipOptions {
  /** `lambda`: a unit's gradient norm may be at most `clipping * max(||W_i||, eps)`; default 0.01. Must be > 0. */
  clipping?: number;
  /** Floor of the parameter norm; default 1e-3. Must be > 0. */
  eps?: number;
}

/**
 * The unit-wise Frobenius norm of AGC (METHODS.md §4): per output unit, over every other axis, with dims kept so
 * that the result broadcasts against `t`.
 * - conv kernel `[kh,kw,in,out]` → `[1,1,1,out]` (norm over kh, kw, in);
 * - dense kernel `[in,out]` → `[1,out]` (norm over in); any rank >= 2 likewise reduces all axes but the last;
 * - vectors and scalars (rank <= 1): the norm of the whole tensor, shape `[1]` or `[]`.
 */
export function unitwiseNorm(t: tf.Tensor): tf.Tensor {
  if (!(t instanceof tf.Tensor)) throw argumentError('unitwiseNorm', 't', typeof t, 'a tf.Tensor');
  return tf.tidy(() => {
    const axes = t.rank <= 1 ? undefined : Array.from({ length: t.rank - 1 }, (_, i) => i);
    return tf.sqrt(tf.sum(tf.square(t), axes, true));
  });
}

/**
 * Adaptive Gradient Clipping of one parameter's gradient (METHODS.md §4). For each unit `i`
 * ({@link unitwiseNorm}): `p = max(||W_i||, eps)`, `limit = clipping * p`, and
 * `G_i <- G_i * limit / max(||G_i||, 1e-6)` where `||G_i|| > limit`; other units are returned unchanged.
 * The paper does not apply it to the final classifier layer: leave that parameter out.
 *
 * @param grad the gradient, same shape as `param`.
 * @param param the parameter's current value.
 * @returns the clipped gradient (a new tensor; the inputs are not disposed).
 */
export function adaptiveGradientClip(grad: tf.Tensor, param: tf.Tensor, options: AdaptiveGradientClipOptions = {}): tf.Tensor {
  const op = 'adaptiveGradientClip';
  const clipping = options.clipping ?? AGC_DEFAULT_CLIPPING;
  const eps = options.eps ?? AGC_DEFAULT_EPSILON;
  if (!(param instanceof tf.Tensor)) throw argumentError(op, 'param', typeof param, 'a tf.Tensor');
  if (!(grad instanceof tf.Tensor)) throw argumentError(op, 'grad', typeof grad, 'a tf.Tensor');
  if (grad.rank !== param.rank || grad.shape.some((d, i) => d !== param.shape[i])) {
    throw argumentError(op, 'grad', `shape [${grad.shape.join(',')}]`, `the shape of 'param' [${param.shape.join(',')}]`);
  }
  assertPositive(op, 'clipping', clipping);
  assertPositive(op, 'eps', eps);
  return tf.tidy(() => {
    const limit = tf.mul(tf.maximum(unitwiseNorm(param), eps), clipping);
    const gradNorm = unitwiseNorm(grad);
    const ratio = tf.div(limit, tf.maximum(gradNorm, GRAD_NORM_FLOOR));
    const factor = tf.where(tf.greater(gradNorm, limit), ratio, tf.onesLike(ratio));
    return tf.mul(grad, factor);
  });
}
