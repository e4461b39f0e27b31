/**
 * Adaptive Gradient Clipping (Brock et al. 2021; METHODS.md §4) over a model's named gradients, as a
 * function for the training loop ({@link clipGradients}) or wrapped around an optimizer
 * ({@link withAdaptiveGradientClipping}).
 *
 * Order, as in DeepMind's `SGD_AGC`: the raw gradient is clipped first (relative to the current weights),
 * then the optimizer adds weight decay and momentum to the clipped gradient.
 * @module
 */
import { tf } from '../engine.js';
import { adaptiveGradientClip, AGC_DEFAULT_CLIPPING, AGC_DEFAULT_EPSILON } from '../ops/agc.js';
import { argumentError, assertPositive } from '../ops/validate.js';
import { NamedOptimizer, OptimizerStateEntry } from './sgd.js';
import {
  assertKnownOptions, NamedParams, NamedVariable, pairGradients, paramEntries, ParamMatcher, ParamPredicate,
  patternMatches, toPredicate,
} from './params.js';

/** Options of {@link clipGradients} and {@link withAdaptiveGradientClipping}. */
export interface GradientClippingOptions {
  /** `lambda` of AGC, > 0; default 0.01 (the paper's value for large batches; smaller batches tolerate more). */
  clipping?: number;
  /** Floor of the parameter norm, > 0; default 1e-3 (lets zero-initialised parameters move). */
  eps?: number;
  /**
   * Parameters whose gradient is passed through unclipped: the final classifier (clipping it hurt in the
   * paper's ablation). Names / prefixes / RegExps, or a predicate; see {@link ParamMatcher}. E.g.
   * `exclude: 'dense_3'` (kernel and bias, as timm does) or `exclude: 'dense_3/kernel'` (the kernel only, as
   * DeepMind's code does). A name pattern that matches no parameter is an error (a likely typo).
   * Default: nothing excluded.
   */
  exclude?: ParamMatcher;
}

const CLIP_OPTIONS = ['clipping', 'eps', 'exclude'];

interface ResolvedClipping {
  clipping: number;
  eps: number;
  exclude: ParamPredicate;
  patterns: (string | RegExp)[];
}

function resolve(op: string, options: GradientClippingOptions): ResolvedClipping {
  if (options === null || typeof options !== 'object') throw argumentError(op, 'options', typeof options, 'an options object');
  assertKnownOptions(op, options, CLIP_OPTIONS);
  const clipping = options.clipping ?? AGC_DEFAULT_CLIPPING;
  const eps = options.eps ?? AGC_DEFAULT_EPSILON;
  assertPositive(op, 'clipping', clipping);
  assertPositive(op, 'eps', eps);
  const ex = options.exclude;
  const exclude = ex === undefined ? () => false : toPredicate(op, 'exclude', ex);
  const patterns = ex === undefined || typeof ex === 'function' ? [] : typeof ex === 'string' || ex instanceof RegExp ? [ex] : [...ex];
  return { clipping, eps, exclude, patterns };
}

function checkPatterns(op: string, patterns: (string | RegExp)[], params: NamedVariable[]): void {
  for (const p of patterns) {
    if (!params.some((e) => patternMatches(p, e.name))) {
      const names = params.slice(0, 8).map((e) => `'${e.name}'`).join(', ') + (params.length > 8 ? ', ...' : '');
      throw argumentError(op, 'exclude', p instanceof RegExp ? String(p) : p, `a pattern matching some parameter (${names || 'no parameters'})`);
    }
  }
}

function clip(op: string, r: ResolvedClipping, grads: tf.NamedTensorMap, params: NamedParams): tf.NamedTensorMap {
  const entries = paramEntries(op, params);
  const pairs = pairGradients(op, grads, entries);
  checkPatterns(op, r.patterns, entries);
  const out: tf.NamedTensorMap = {};
  for (const { name, variable, grad } of pairs) {
    out[name] = r.exclude(name, variable) ? tf.clone(grad) : adaptiveGradientClip(grad, variable, { clipping: r.clipping, eps: r.eps });
  }
  return out;
}

/**
 * AGC of every gradient against its parameter, unit-wise (`adaptiveGradientClip` of `src/ops/agc.ts`), except
 * the `exclude`d parameters. Returns new tensors for every gradient given (clipped, or copies of the excluded
 * ones): the caller disposes both `grads` and the result.
 */
export function clipGradients(grads: tf.NamedTensorMap, params: NamedParams, options: GradientClippingOptions = {}): tf.NamedTensorMap {
  const op = 'clipGradients';
  return clip(op, resolve(op, options), grads, params);
}

/**
 * An optimizer that applies AGC ({@link clipGradients}) to the gradients and hands the clipped ones to
 * `optimizer` (NFNets' `SGD_AGC` = `withAdaptiveGradientClipping(new SGD({ nesterov: true, weightDecay: 2e-5,
 * decayFilter: 'no-gains-biases' }), { clipping: 0.01, exclude: <classifier kernel> })`). State, saving and
 * restoring are the wrapped optimizer's (AGC itself is stateless).
 */
export function withAdaptiveGradientClipping(optimizer: NamedOptimizer, options: GradientClippingOptions = {}): NamedOptimizer {
  const op = 'withAdaptiveGradientClipping';
  if (optimizer === null || typeof optimizer !== 'object' || typeof optimizer.applyGradients !== 'function') {
    throw argumentError(op, 'optimizer', typeof optimizer, 'an optimizer with applyGradients(grads, params, lr)');
  }
  const resolved = resolve(op, options);
  return {
    applyGradients(grads: tf.NamedTensorMap, params: NamedParams, lr: number): void {
      const clipped = clip(`${op}.applyGradients`, resolved, grads, params);
      try {
        optimizer.applyGradients(clipped, params, lr);
      } finally {
        tf.dispose(clipped);
      }
    },
    getState: (): OptimizerStateEntry[] => optimizer.getState(),
    setState: (state: readonly OptimizerStateEntry[]): void => optimizer.setState(state),
    dispose: (): void => optimizer.dispose(),
  };
}
