/**
 * `createNormActivation`: one name for each "normalization + activation" the experiments compare, built as a
 * list of layers to apply in order, so that a network can swap BN+ReLU for FRN+TLU, GN+PN, ... by name.
 * @module
 */
import { tfl } from '../engine.js';
import { ActivationName, assertActivationName } from '../ops/activations.js';
import { argumentError, assertInteger, assertOptionalBoolean, assertPositive } from '../ops/validate.js';
import { ActivationLayer } from './activation.js';
import { BatchNormalization, BatchRenormalization } from './batch_norm.js';
import { LayerInput } from './common.js';
import { EvoNormS0 } from './evo_norm.js';
import { FilterResponseNormalization, TLU } from './filter_response_norm.js';
import { GroupNormalization, GroupResponseNormalization, InstanceNormalization, LayerNormalizationHWC, LayerResponseNormalization } from './group_norm.js';
import { ProxyNormActivation } from './proxy_norm.js';

/**
 * The names {@link createNormActivation} accepts, and what each builds (`act` = an {@link ActivationLayer} with
 * the `activation` option, ReLU by default):
 *
 * - `'bn'`: {@link BatchNormalization} (`groupSize`, eps 1e-3) → act.
 * - `'brn'`: {@link BatchRenormalization} (`groupSize`, `warmupSteps`) → act.
 * - `'gn'`: {@link GroupNormalization} (`groups`) → act.
 * - `'ln'`: {@link LayerNormalizationHWC} (statistics over H, W, C) → act.
 * - `'in'`: {@link InstanceNormalization} → act.
 *
 *   For `'bn'`, `'gn'`, `'ln'` and `'in'` with a ReLU, the ReLU is the normalization layer's own
 *   `activation: 'relu'` (one layer, the ReLU fused into the normalization's passes; same values and gradients);
 *   other activations are a layer of their own. The power decomposition of a trained network still measures the
 *   normalized output before it.
 * - `'frn'`: {@link FilterResponseNormalization} with its own TLU (`activation: 'tlu'`: the paper's pair as one
 *   layer, one fused pass; TLU *is* the activation, so the `activation` option does not apply).
 * - `'frn+relu'`: FilterResponseNormalization → act (Table 3 ablation: FRN without TLU; ReLU unless `activation`
 *   says otherwise).
 * - `'gfrn'`, `'lfrn'`: {@link GroupResponseNormalization} (`groups`) / {@link LayerResponseNormalization} → TLU
 *   (Table 3 ablations: GN / LN without mean centring).
 * - `'gn+pn'`: GroupNormalization without affine (`groups`) → {@link ProxyNormActivation} (`activation`,
 *   `scaleProxy`), whose own gamma/beta take the affine's place.
 * - `'ln+pn'`: LayerNormalizationHWC without affine → ProxyNormActivation.
 * - `'in+pn'`: InstanceNormalization without affine → ProxyNormActivation.
 * - `'evos0'`: {@link EvoNormS0} (`groups`) alone (a normalization-activation layer: `activation` does not apply).
 * - `'none'`: act alone (no normalization).
 */
export const NORM_NAMES = ['bn', 'brn', 'gn', 'ln', 'in', 'frn', 'frn+relu', 'gfrn', 'lfrn', 'gn+pn', 'ln+pn', 'in+pn', 'evos0', 'none'] as const;
/** One of {@link NORM_NAMES}. */
export type NormName = typeof NORM_NAMES[number];

/** Options of {@link createNormActivation}. Each applies only to the names that have the setting. */
export interface NormActivationOptions {
  /** The activation after the normalization, and the `phi` of Proxy Normalization; default `'relu'`. */
  activation?: ActivationName;
  /** Groups of GN, GFRN, GN+PN and EvoNorm-S0; default: each layer's `defaultGroups(C)` (largest divisor ≤ 32). */
  groups?: number;
  /** Images per normalization group of BN and BRN; default: the whole batch. */
  groupSize?: number;
  /** The normalization layer's epsilon; default: each layer's own (BN 1e-3, GN/LN/IN 1e-5, FRN 1e-6, ...). */
  epsilon?: number;
  /** The `scale` option of ProxyNormActivation (`false` in the last block before the final pooling); default true. */
  scaleProxy?: boolean;
  /** Moving-average momentum of BN and BRN (`moving = m * moving + (1 - m) * batch`); default 0.99 (Keras). PyTorch's default corresponds to 0.9. */
  momentum?: number;
  /** Warm-up steps of the Batch Renormalization clips (see {@link BatchRenormalization}); default 1000. */
  warmupSteps?: number;
  /** Base name of the layers: `${name}_norm`, `${name}_act` (`_tlu`, `_pn`); default: the layers' own names. */
  name?: string;
}

/**
 * Builds the layers of the normalization-activation `name` (see {@link NORM_NAMES} for what each name builds), to be
 * applied in order with {@link applyLayers}. Each call creates new layers (new weights).
 *
 * @throws naming `name` and listing {@link NORM_NAMES} when `name` is unknown; naming the option when an option is
 *   invalid (the layers check the rest, e.g. `groups` against the channel count, when they are built).
 */
export function createNormActivation(name: NormName, options: NormActivationOptions = {}): tfl.layers.Layer[] {
  const op = 'createNormActivation';
  if (!(NORM_NAMES as readonly string[]).includes(name)) {
    throw argumentError(op, 'name', name, `one of ${NORM_NAMES.map((n) => `'${n}'`).join(', ')}`);
  }
  const activation = options.activation ?? 'relu';
  assertActivationName(op, activation);
  if (options.groups !== undefined) assertInteger(op, 'groups', options.groups);
  if (options.groupSize !== undefined) assertInteger(op, 'groupSize', options.groupSize);
  if (options.epsilon !== undefined) assertPositive(op, 'epsilon', options.epsilon);
  assertOptionalBoolean(op, 'scaleProxy', options.scaleProxy);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) throw argumentError(op, 'name', options.name, 'a non-empty string');

  const named = (suffix: string) => (options.name === undefined ? {} : { name: `${options.name}_${suffix}` });
  const norm = { ...named('norm'), epsilon: options.epsilon };
  const act = () => new ActivationLayer({ ...named('act'), activation });
  const tluLayer = () => new TLU(named('tlu'));
  const pn = () => new ProxyNormActivation({ ...named('pn'), activation, scale: options.scaleProxy ?? true });
  const noAffine = { center: false, scale: false };
  // A ReLU after BN/GN/LN/IN is the normalization layer's own `activation` (one fused pass), any other activation a layer of its own.
  const withAct = (make: (a: { activation?: 'relu' }) => tfl.layers.Layer): tfl.layers.Layer[] =>
    (activation === 'relu' ? [make({ activation: 'relu' })] : [make({}), act()]);
  const { groups, groupSize } = options;

  switch (name) {
    case 'bn': return withAct((a) => new BatchNormalization({ ...norm, ...a, groupSize, momentum: options.momentum }));
    case 'brn': return [new BatchRenormalization({ ...norm, groupSize, momentum: options.momentum, warmupSteps: options.warmupSteps }), act()];
    case 'gn': return withAct((a) => new GroupNormalization({ ...norm, ...a, groups }));
    case 'ln': return withAct((a) => new LayerNormalizationHWC({ ...norm, ...a }));
    case 'in': return withAct((a) => new InstanceNormalization({ ...norm, ...a }));
    case 'frn': return [new FilterResponseNormalization({ ...norm, activation: 'tlu' })];
    case 'frn+relu': return [new FilterResponseNormalization(norm), act()];
    case 'gfrn': return [new GroupResponseNormalization({ ...norm, groups }), tluLayer()];
    case 'lfrn': return [new LayerResponseNormalization(norm), tluLayer()];
    case 'gn+pn': return [new GroupNormalization({ ...norm, ...noAffine, groups }), pn()];
    case 'ln+pn': return [new LayerNormalizationHWC({ ...norm, ...noAffine }), pn()];
    case 'in+pn': return [new InstanceNormalization({ ...norm, ...noAffine }), pn()];
    case 'evos0': return [new EvoNormS0({ ...norm, groups })];
    case 'none': return [act()];
  }
}

/**
 * Applies `layers` in order: `layers[n-1].apply(... layers[0].apply(x))`. Works for a symbolic input (building a
 * model) and for a concrete tensor (eager call; `kwargs`, e.g. `{ training: true }`, go to every layer). Eager
 * intermediate results are not disposed (a gradient may need them): call it inside `tf.tidy` or `tf.grad`.
 */
export function applyLayers<T extends LayerInput>(layers: readonly tfl.layers.Layer[], x: T, kwargs?: { training?: boolean }): T {
  let y: LayerInput = x;
  for (const layer of layers) {
    const out = layer.apply(y, kwargs);
    if (Array.isArray(out)) throw new Error(`applyLayers: layer '${layer.name}' returned ${out.length} outputs, expected one`);
    y = out;
  }
  return y as T;
}
