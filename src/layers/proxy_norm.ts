/**
 * `tf.layers` wrapper of Proxy Normalization (Labatie et al. 2021), METHODS.md §3.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { ActivationName, assertActivationName } from '../ops/activations.js';
import { PROXY_NORM_DEFAULT_EPSILON, PROXY_NORM_DEFAULT_SAMPLES, proxyNormActivation } from '../ops/proxy_norm.js';
import { argumentError, assertInteger, assertPositive } from '../ops/validate.js';
import { Kwargs, LayerArgs, LayerVariable, Shape, assertBoolean, channelsOf, oneTensor, opt, read1d, registerLayer, withDefaultName } from './common.js';

/** Options of {@link ProxyNormActivation}. */
export interface ProxyNormActivationArgs extends LayerArgs {
  /** The activation `phi`: `'relu'` (default), `'swish'`/`'silu'`, `'gelu'`, ... (see `ActivationName`). */
  activation?: ActivationName;
  /** `eps_pn` in `rsqrt(var(Z) + eps_pn)`; default 0.03 (smaller values hurt in the paper). */
  epsilon?: number;
  /** Number of fixed proxy samples `S` (`q_i = Phi^-1((i + 0.5) / S)`); default 200. */
  samples?: number;
  /**
   * Learn the proxy's own shift and scale offset `betaTilde`, `gammaTilde` `[C]` (init 0); default true. Without
   * them the proxy stays `N(0, 1)` (slightly worse in the paper).
   */
  proxyTilde?: boolean;
  /**
   * Scale by `s = rsqrt(var(Z) + eps)`; default true. The paper turns it off in the last proxy-normalized
   * activation before the final mean pooling.
   */
  scale?: boolean;
  /**
   * L2 penalty `proxyWeightDecay * sum(t^2)` on `betaTilde` and `gammaTilde`, added to the model's losses (the
   * paper weight-decays them, pulling the proxy back to N(0, 1)); default 0 (none: leave it to the optimizer).
   */
  proxyWeightDecay?: number;
}

/**
 * Proxy-normalized activation layer: `(phi(gamma * x + beta) - mu) * s`, where `mu` and `s = rsqrt(var + eps)` are
 * the mean and variance of the proxy `phi(gamma * ((1 + gammaTilde) * q + betaTilde) + beta)` over fixed samples
 * `q` of N(0, 1). Put it after a normalization without affine transform (`GroupNormalization({center: false,
 * scale: false})` or `LayerNormalizationHWC`): it replaces "affine → activation". `mu` and `s` depend only on the
 * weights, so training and inference compute the same thing and there is no batch dependence.
 * Weights: `gamma` `[C]` (init 1), `beta` `[C]` (init 0), and with `proxyTilde` `beta_tilde`, `gamma_tilde` `[C]`
 * (init 0).
 */
export class ProxyNormActivation extends tfl.layers.Layer {
  static className = 'batchfree>ProxyNormActivation';
  readonly activation: ActivationName;
  readonly epsilon: number;
  readonly samples: number;
  readonly proxyTilde: boolean;
  readonly scale: boolean;
  readonly proxyWeightDecay: number;
  private gamma?: LayerVariable;
  private beta?: LayerVariable;
  private betaTilde?: LayerVariable;
  private gammaTilde?: LayerVariable;

  constructor(args: ProxyNormActivationArgs = {}) {
    super(withDefaultName(args, 'proxy_norm_activation'));
    const op = 'ProxyNormActivation';
    const activation = opt<string>(args.activation, 'relu');
    assertActivationName(op, activation);
    this.activation = activation;
    this.epsilon = opt(args.epsilon, PROXY_NORM_DEFAULT_EPSILON);
    assertPositive(op, 'epsilon', this.epsilon);
    this.samples = opt(args.samples, PROXY_NORM_DEFAULT_SAMPLES);
    assertInteger(op, 'samples', this.samples, 2);
    this.proxyTilde = opt(args.proxyTilde, true);
    assertBoolean(op, 'proxyTilde', this.proxyTilde);
    this.scale = opt(args.scale, true);
    assertBoolean(op, 'scale', this.scale);
    this.proxyWeightDecay = opt(args.proxyWeightDecay, 0);
    if (typeof this.proxyWeightDecay !== 'number' || !Number.isFinite(this.proxyWeightDecay) || this.proxyWeightDecay < 0) {
      throw argumentError(op, 'proxyWeightDecay', this.proxyWeightDecay, 'a finite number >= 0');
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('ProxyNormActivation', inputShape);
    this.gamma = this.addWeight('gamma', [c], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tfl.initializers.zeros());
    if (this.proxyTilde) {
      const reg = this.proxyWeightDecay > 0 ? tfl.regularizers.l2({ l2: this.proxyWeightDecay }) : undefined;
      this.betaTilde = this.addWeight('beta_tilde', [c], 'float32', tfl.initializers.zeros(), reg);
      this.gammaTilde = this.addWeight('gamma_tilde', [c], 'float32', tfl.initializers.zeros(), reg);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => proxyNormActivation(oneTensor(inputs), {
      gamma: read1d(this.gamma!), beta: read1d(this.beta!),
      betaTilde: this.betaTilde && read1d(this.betaTilde), gammaTilde: this.gammaTilde && read1d(this.gammaTilde),
      activation: this.activation, eps: this.epsilon, samples: this.samples, scale: this.scale,
    }));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(), activation: this.activation, epsilon: this.epsilon, samples: this.samples,
      proxyTilde: this.proxyTilde, scale: this.scale, proxyWeightDecay: this.proxyWeightDecay,
    };
  }
}
registerLayer(ProxyNormActivation);
