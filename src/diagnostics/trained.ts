/**
 * Power decomposition of a trained network (PN paper Fig. 2, bottom row): the outputs of each normalization layer
 * of a model on a set of inputs, decomposed with eq. 5, layer by layer in model order. Browser-safe.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { argumentError } from '../ops/validate.js';
import { endsWithOwnActivation } from '../layers/common.js';
import { powerDecomposition } from './power_decomposition.js';

/** Class names of the layers whose outputs are measured: batchfree's normalization layers and TF.js' BN. */
export const NORMALIZATION_CLASS_NAMES: readonly string[] = [
  'batchfree>BatchNormalization', 'batchfree>BatchRenormalization', 'batchfree>GroupNormalization',
  'batchfree>LayerNormalizationHWC', 'batchfree>InstanceNormalization', 'batchfree>FilterResponseNormalization',
  'batchfree>GroupResponseNormalization', 'batchfree>LayerResponseNormalization', 'batchfree>EvoNormS0', 'BatchNormalization',
];

/** One measured layer. */
export interface LayerPower {
  layer: string;
  className: string;
  /** Shares of the four terms of eq. 5, averaged over channels. */
  shares: [number, number, number, number];
}

/**
 * Decomposes the power of every rank-4 normalization-layer output of `model` on `inputs` (inference mode).
 * The layers' outputs include their affine transform, when they have one (PN's norms have none), and not the
 * activation a layer may end with (BN/GN/LN/IN's ReLU, FRN's TLU: measured before it, as with a separate
 * activation layer): a trained
 * network's `gamma`, `beta` act per channel, which moves term (1) but not the collapse the paper describes.
 * @param inputs `[N,H,W,C]`, N ≥ 2, standardized as in training.
 */
export function trainedPowerDecomposition(model: tfl.LayersModel, inputs: tf.Tensor4D): LayerPower[] {
  const norms = model.layers.filter((l) => NORMALIZATION_CLASS_NAMES.includes(l.getClassName()));
  const maps = norms.filter((l) => (l.output as tfl.SymbolicTensor).shape.length === 4);
  if (maps.length === 0) throw argumentError('trainedPowerDecomposition', 'model', model.name, 'a model with normalization layers on feature maps');
  // A layer that ends with its own activation is measured before it: its input is probed and normalized without it.
  const probe = tfl.model({ inputs: model.inputs, outputs: maps.map((l) => (endsWithOwnActivation(l) ? l.input : l.output) as tfl.SymbolicTensor) });
  const outs = probe.predict(inputs) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(outs) ? outs : [outs];
  try {
    return list.map((t, i) => {
      const layer = maps[i];
      const shares = tf.tidy(() => powerDecomposition(endsWithOwnActivation(layer) ? layer.preActivation(t) : t).shares);
      return { layer: layer.name, className: layer.getClassName(), shares };
    });
  } finally {
    tf.dispose(list);
  }
}
