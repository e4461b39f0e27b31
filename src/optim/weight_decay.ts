/**
 * Which parameters weight decay applies to.
 *
 * What the papers did (all with SGD + momentum 0.9 and *coupled* L2 decay, `g + wd * w` before momentum):
 * - FRN (Singh & Krishnan 2020), with Google's TF TPU ResNet code: `wd * sum(||w||^2) / 2` added to the loss
 *   (wd 1e-4), normalisation variables excluded by name (that code skips `batch_normalization` and
 *   `evonorm` variables). The paper's text gives no exclusion list for FRN's gamma/beta/tau.
 * - Proxy Normalization (Labatie et al. 2021), Graphcore's code: decay on every trainable variable (the
 *   proxy parameters `betaTilde`, `gammaTilde` included: decay pulls the proxy back to N(0,1)).
 * - NF-ResNets / NFNets (Brock et al. 2021), DeepMind's code: no decay on gains and biases (names `gain*`,
 *   `*bias*`, `b`, norm `scale`/`offset`), decay elsewhere (2e-5 in the NFNet config).
 * @module
 */
import { assertOneOf } from '../ops/validate.js';
import { leafName, NamedParams, paramEntries, ParamMatcher, ParamPredicate, toPredicate } from './params.js';

/** Decays every parameter. */
export const decayAll: ParamPredicate = () => true;

/**
 * Decays kernels only: parameters of rank ≥ 2 (conv `[kh,kw,in,out]`, dense `[in,out]`). Skips every
 * vector and scalar — biases, gammas/betas, FRN `tau` and learned epsilon, PN's `betaTilde`/`gammaTilde`,
 * NF gains and `skipGain` — whatever their names.
 */
export const decayKernelsOnly: ParamPredicate = (_name, variable) => variable.rank >= 2;

/**
 * DeepMind's NF rule, by name: no decay on gains and biases. A parameter is skipped when its last name
 * component (after the last `/`) contains `gain` or `bias` (any case: `gain`, `skipGain`, `skip_gain`,
 * `bias`) or is `b`, `scale`, `offset`, `gamma` or `beta`.
 */
export const decayNoGainsOrBiases: ParamPredicate = (name) => {
  const leaf = leafName(name);
  return !/gain|bias/i.test(leaf) && !NORM_AFFINE_LEAVES.includes(leaf);
};

const NORM_AFFINE_LEAVES = ['b', 'scale', 'offset', 'gamma', 'beta'];

/**
 * A filter that decays every parameter except those `excluded` selects (names, prefixes, RegExps or a
 * predicate; see {@link ParamMatcher}). E.g. `decayExcept(/\/(bias|beta|gamma|tau)$/)`.
 */
export function decayExcept(excluded: ParamMatcher): ParamPredicate {
  const match = toPredicate('decayExcept', 'excluded', excluded);
  return (name, variable) => !match(name, variable);
}

/** The preset names accepted wherever a decay filter is expected. */
export const DECAY_PRESETS = ['all', 'kernels-only', 'no-gains-biases'] as const;
/** A preset name: `'all'` ({@link decayAll}), `'kernels-only'` ({@link decayKernelsOnly}), `'no-gains-biases'` ({@link decayNoGainsOrBiases}). */
export type DecayPreset = (typeof DECAY_PRESETS)[number];
/** A decay filter: a preset name or a predicate returning `true` for the parameters to decay. */
export type DecayFilter = DecayPreset | ParamPredicate;

/** The predicate of a {@link DecayFilter} (unknown preset names throw). @internal */
export function resolveDecayFilter(op: string, filter: DecayFilter): ParamPredicate {
  if (typeof filter === 'function') return filter;
  assertOneOf(op, 'decayFilter', filter, DECAY_PRESETS);
  return { all: decayAll, 'kernels-only': decayKernelsOnly, 'no-gains-biases': decayNoGainsOrBiases }[filter];
}

/** The names a filter decays, for logging what a run actually did. */
export function decayedNames(filter: DecayFilter, params: NamedParams): string[] {
  const pred = resolveDecayFilter('decayedNames', filter);
  return paramEntries('decayedNames', params).filter((e) => pred(e.name, e.variable)).map((e) => e.name);
}
