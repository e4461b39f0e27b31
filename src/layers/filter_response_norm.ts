/**
 * `tf.layers` wrappers of Filter Response Normalization and the Thresholded Linear Unit (Singh & Krishnan 2020),
 * with TLU's Table 5 ablation variants. METHODS.md §1.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { FRN_DEFAULT_EPSILON, FRN_LEARNED_EPSILON_INIT, type FilterResponseNormOptions, affineTlu, filterResponseNorm, filterResponseNormTlu, prelu, tlu } from '../ops/filter_response_norm.js';
import { argumentError, assertOneOf, assertPositive } from '../ops/validate.js';
import { Kwargs, LayerArgs, LayerVariable, Shape, channelsOf, constantInit, oneShape, oneTensor, opt, read1d, registerLayer, withDefaultName } from './common.js';

/** Options of {@link FilterResponseNormalization}. */
export interface FilterResponseNormalizationArgs extends LayerArgs {
  /** Fixed epsilon added to `nu2`; default `1e-6` (paper). */
  epsilon?: number;
  /**
   * Whether to learn the epsilon `eps_l` (a scalar weight initialised to 1e-4; effective epsilon `eps + |eps_l|`).
   * Default `'auto'`: learned when the layer is built for a dense input `[B,C]` or a map whose H and W are both
   * known to be 1 (N = 1, where FRN without it degenerates to `sign(x)` with vanishing gradients), fixed otherwise
   * (including maps of unknown size). `true`/`false` force it.
   */
  learnedEpsilon?: boolean | 'auto';
  /**
   * `'tlu'`: the layer ends with its own Thresholded Linear Unit, eq. (3), `z = max(y, tau)` with a learned
   * threshold `tau` `[C]` (init 0), computed in FRN's own passes forward and backward (the fused kernel of
   * `filterResponseNormTlu` on wasm and cpu; the same values and gradients as a separate {@link TLU} layer).
   * Default `'linear'` (the normalized output `y`).
   */
  activation?: 'linear' | 'tlu';
}

/**
 * Filter Response Normalization layer, eqs. (1)–(2): `y = gamma * x * rsqrt(mean_{h,w}(x^2) + eps) + beta`, per
 * sample and channel, for `[B,H,W,C]` maps and dense `[B,C]` activations (see `learnedEpsilon`); with
 * `activation: 'tlu'`, FRN+TLU in one layer, eqs. (1)–(3).
 *
 * Weights: `gamma` `[C]` (init 1), `beta` `[C]` (init 0), when the epsilon is learned `learned_epsilon` `[]`
 * (init 1e-4), and with the TLU `tau` `[C]` (init 0). No batch statistics: training and inference compute the
 * same thing. Without its own TLU it is usually followed by a {@link TLU} layer.
 */
export class FilterResponseNormalization extends tfl.layers.Layer {
  static className = 'batchfree>FilterResponseNormalization';
  readonly epsilon: number;
  readonly learnedEpsilon: boolean | 'auto';
  readonly activation: 'linear' | 'tlu';
  private gamma?: LayerVariable;
  private beta?: LayerVariable;
  private epsL?: LayerVariable;
  private tau?: LayerVariable;

  constructor(args: FilterResponseNormalizationArgs = {}) {
    super(withDefaultName(args, 'filter_response_normalization'));
    const op = 'FilterResponseNormalization';
    this.epsilon = opt(args.epsilon, FRN_DEFAULT_EPSILON);
    assertPositive(op, 'epsilon', this.epsilon);
    this.learnedEpsilon = opt(args.learnedEpsilon, 'auto');
    if (this.learnedEpsilon !== 'auto' && typeof this.learnedEpsilon !== 'boolean') {
      throw argumentError(op, 'learnedEpsilon', this.learnedEpsilon, "true, false or 'auto'");
    }
    const activation = opt<string>(args.activation, 'linear');
    assertOneOf(op, 'activation', activation, ['linear', 'tlu'] as const);
    this.activation = activation;
  }

  /** Whether a layer built for `inputShape` learns its epsilon (resolves `'auto'`). */
  static learnsEpsilon(learnedEpsilon: boolean | 'auto', inputShape: Shape): boolean {
    if (learnedEpsilon !== 'auto') return learnedEpsilon;
    return inputShape.length === 2 || (inputShape[1] === 1 && inputShape[2] === 1);
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('FilterResponseNormalization', inputShape);
    this.gamma = this.addWeight('gamma', [c], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tfl.initializers.zeros());
    if (FilterResponseNormalization.learnsEpsilon(this.learnedEpsilon, oneShape(inputShape))) {
      this.epsL = this.addWeight('learned_epsilon', [], 'float32', constantInit(FRN_LEARNED_EPSILON_INIT));
    }
    if (this.activation === 'tlu') this.tau = this.addWeight('tau', [c], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs);
      if (this.tau === undefined) return this.preActivation(x);
      return filterResponseNormTlu(x, { ...this.frnOptions(), tau: read1d(this.tau) });
    });
  }

  /** The normalized output `y` before the layer's own TLU (what the power decomposition of a trained net measures). */
  preActivation(x: tf.Tensor): tf.Tensor {
    return filterResponseNorm(x, this.frnOptions());
  }

  private frnOptions(): FilterResponseNormOptions {
    return { gamma: read1d(this.gamma!), beta: read1d(this.beta!), eps: this.epsilon, learnedEps: this.epsL?.read() };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon, learnedEpsilon: this.learnedEpsilon, activation: this.activation };
  }
}
registerLayer(FilterResponseNormalization);

/** The TLU variants of the FRN paper's Table 5. */
export type TLUVariant = 'tlu' | 'prelu' | 'affine';
/** The accepted {@link TLUVariant}s. */
export const TLU_VARIANTS: readonly TLUVariant[] = ['tlu', 'prelu', 'affine'];

/** Options of {@link TLU}. */
export interface TLUArgs extends LayerArgs {
  /**
   * `'tlu'` (default): `max(x, tau)`, eq. (3); `'prelu'`: `max(x, k*x)`; `'affine'`: `max(x, k*x + tau)` (Table 5).
   */
  variant?: TLUVariant;
  /**
   * Initial slope `k` of the `'prelu'` and `'affine'` variants. Default 0.25 for `'prelu'` (He et al.'s PReLU init)
   * and 0 for `'affine'` (so that Affine-TLU starts as a TLU). Ignored by `'tlu'`.
   */
  slopeInit?: number;
}

/**
 * Thresholded Linear Unit layer, eq. (3): `z = max(x, tau)` with a learned per-channel threshold `tau` `[C]` (init 0),
 * or one of the Table 5 variants (`variant`). Weights: `tau` (`'tlu'`, `'affine'`), `k` `[C]` (`'prelu'`, `'affine'`).
 */
export class TLU extends tfl.layers.Layer {
  static className = 'batchfree>TLU';
  readonly variant: TLUVariant;
  readonly slopeInit: number;
  private tau?: LayerVariable;
  private k?: LayerVariable;

  constructor(args: TLUArgs = {}) {
    super(withDefaultName(args, 'tlu'));
    const op = 'TLU';
    const variant = opt<string>(args.variant, 'tlu');
    assertOneOf(op, 'variant', variant, TLU_VARIANTS);
    this.variant = variant;
    this.slopeInit = opt(args.slopeInit, variant === 'prelu' ? 0.25 : 0);
    if (typeof this.slopeInit !== 'number' || !Number.isFinite(this.slopeInit)) throw argumentError(op, 'slopeInit', this.slopeInit, 'a finite number');
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('TLU', inputShape);
    if (this.variant !== 'prelu') this.tau = this.addWeight('tau', [c], 'float32', tfl.initializers.zeros());
    if (this.variant !== 'tlu') this.k = this.addWeight('k', [c], 'float32', constantInit(this.slopeInit));
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs);
      switch (this.variant) {
        case 'tlu': return tlu(x, this.tau!.read());
        case 'prelu': return prelu(x, this.k!.read());
        case 'affine': return affineTlu(x, this.k!.read(), this.tau!.read());
      }
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), variant: this.variant, slopeInit: this.slopeInit };
  }
}
registerLayer(TLU);
