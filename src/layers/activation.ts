/**
 * Activation layers: the named activations of `ops/activations` (the same functions Proxy Normalization uses),
 * plain and variance-preserving ("scaled", for normalizer-free networks, METHODS.md §4).
 * @module
 */
import { tf, tfl } from '../engine.js';
import { ActivationName, activate, assertActivationName, scaledActivation, scaledActivationGain } from '../ops/activations.js';
import { Kwargs, LayerArgs, Shape, oneTensor, opName, opt, registerLayer, withDefaultName } from './common.js';

/** Options of {@link ActivationLayer} and {@link ScaledActivation}. */
export interface ActivationLayerArgs extends LayerArgs {
  /** `'relu'` (default), `'gelu'` (exact, erf), `'silu'`/`'swish'`, `'tanh'`, `'elu'`, `'selu'` or `'identity'`. */
  activation?: ActivationName;
}

/** Shared options and config of the two activation layers. */
abstract class NamedActivationLayer extends tfl.layers.Layer {
  readonly activation: ActivationName;

  protected constructor(args: ActivationLayerArgs, defaultName: string) {
    super(withDefaultName(args, defaultName));
    const activation = opt<string>(args.activation, 'relu');
    assertActivationName(opName(this), activation);
    this.activation = activation;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), activation: this.activation };
  }
}

/**
 * `phi(x)` for a named activation, elementwise, any input shape. Unlike `tf.layers.activation`, `'gelu'` is the
 * exact erf form and the names are batchfree's (the ones {@link ProxyNormActivation} accepts), so that a plain
 * and a proxy-normalized network use the same nonlinearity.
 */
export class ActivationLayer extends NamedActivationLayer {
  static className = 'batchfree>Activation';

  constructor(args: ActivationLayerArgs = {}) {
    super(args, 'activation');
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return activate(oneTensor(inputs), this.activation);
  }
}
registerLayer(ActivationLayer);

/**
 * Scaled activation of normalizer-free networks (Brock et al. 2021): `gamma_phi * phi(x)` with
 * `gamma_phi = scaledActivationGain(activation)`, so that `Var(gamma_phi * phi(z)) = 1` for `z ~ N(0, 1)`
 * (ReLU: `sqrt(2 / (1 - 1/pi)) = 1.71286`). No weights.
 */
export class ScaledActivation extends NamedActivationLayer {
  static className = 'batchfree>ScaledActivation';

  constructor(args: ActivationLayerArgs = {}) {
    super(args, 'scaled_activation');
  }

  /** The fixed gain `gamma_phi` of this layer's activation. */
  get gain(): number {
    return scaledActivationGain(this.activation);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return scaledActivation(oneTensor(inputs), this.activation);
  }
}
registerLayer(ScaledActivation);
