/**
 * Stochastic gradient descent with (Nesterov) momentum and filtered weight decay, on named parameters, with
 * its state exposed for checkpoints.
 * @module
 */
import { tf } from '../engine.js';
import { exclusiveHeapValues, float32TensorOf, readValues } from '../kernels/backend_access.js';
import { argumentError, assertOneOf } from '../ops/validate.js';
import {
  assertBoolean, assertKnownOptions, assertNonNegative, assertUnitInterval, NamedParams, type NamedVariable, pairGradients, paramEntries,
  ParamPredicate,
} from './params.js';
import { DecayFilter, resolveDecayFilter } from './weight_decay.js';

/** One tensor of an optimizer's state, named `<parameter name>/<slot>` (e.g. `conv2d_1/kernel/momentum`). */
export interface OptimizerStateEntry {
  name: string;
  tensor: tf.Tensor;
}

/**
 * What the training loop needs from an optimizer: apply one step's gradients with the step's learning
 * rate, and save / restore the state exactly. Implemented by {@link SGD} and by the AGC wrapper
 * (`withAdaptiveGradientClipping`).
 */
export interface NamedOptimizer {
  /**
   * Updates `params` in place from `grads` (keyed by parameter name; parameters without a gradient are left
   * alone) with learning rate `lr`. Does not dispose `grads`; leaves no tensor behind except its own state.
   */
  applyGradients(grads: tf.NamedTensorMap, params: NamedParams, lr: number): void;
  /**
   * Optional: the same update with the gradients given as float32 values, `grads[i]` for `params[i]` (for
   * example views of shared memory: read during the call only), without making tensors of them where the
   * optimizer can. {@link SGD} has it; the AGC wrapper does not (it needs the gradient tensors' norms).
   */
  applyGradientValues?(grads: readonly Float32Array[], params: readonly NamedVariable[], lr: number): void;
  /** Copies of the state tensors (the caller owns and disposes them). */
  getState(): OptimizerStateEntry[];
  /** Replaces the whole state by copies of `state` (as returned by {@link getState}). */
  setState(state: readonly OptimizerStateEntry[]): void;
  /** Frees the state tensors. The optimizer can still be used: it starts again from an empty state. */
  dispose(): void;
}

/** How weight decay enters the update. */
export const WEIGHT_DECAY_MODES = ['l2', 'decoupled'] as const;
/** See {@link SGDOptions.weightDecayMode}. */
export type WeightDecayMode = (typeof WEIGHT_DECAY_MODES)[number];

/** Options of {@link SGD}. */
export interface SGDOptions {
  /** Momentum `mu` in `[0, 1)`; default `0.9` (the value of the FRN, PN and NF papers). `0` = plain SGD, no state. */
  momentum?: number;
  /** Nesterov momentum; default `false`. (NFNets use Nesterov; the FRN and PN papers plain momentum.) */
  nesterov?: boolean;
  /** Weight decay coefficient `wd` ≥ 0; default `0`. Reference configs: 1e-4 (ResNet-50 on ImageNet, TF TPU ResNet and DeepMind), 2e-5 (NFNets, DeepMind). */
  weightDecay?: number;
  /**
   * - `'l2'` (default; what the FRN, PN and NF papers' code does): `g <- g + wd * w` before momentum, the
   *   gradient of `wd/2 * ||w||^2` — TensorFlow's `wd * l2_loss(w)`, PyTorch's and DeepMind's `weight_decay`.
   * - `'decoupled'` (Loshchilov & Hutter's SGDW, scaled by the rate as in PyTorch's AdamW):
   *   `w <- w - lr * wd * w`, outside the momentum buffer. With momentum `mu` the L2 form decays by about
   *   `lr * wd / (1 - mu)` per step, the decoupled one by `lr * wd`.
   */
  weightDecayMode?: WeightDecayMode;
  /**
   * Which parameters are decayed: `'all'` (default), `'kernels-only'`, `'no-gains-biases'`, or a predicate
   * `(name, variable) => boolean`. See `weight_decay.ts` for what each paper excluded.
   */
  decayFilter?: DecayFilter;
}

const SGD_OPTIONS = ['momentum', 'nesterov', 'weightDecay', 'weightDecayMode', 'decayFilter'];
const MOMENTUM_SLOT = '/momentum';

/**
 * SGD with momentum, the PyTorch / TensorFlow / DeepMind form (no dampening). Per parameter `w` with
 * gradient `g`, at learning rate `lr`:
 * ```
 * g <- g + wd * w                      (weight decay 'l2', decayed parameters only)
 * v <- mu * v + g                      (v starts at 0, so the first step has v = g)
 * d = nesterov ? g + mu * v : v        (mu = 0: d = g, no state)
 * w <- w - lr * d  [- lr * wd * w]     (the bracket: weight decay 'decoupled')
 * ```
 * The rate is given to each step (a number from a schedule), so it may change every step; the momentum
 * buffer holds gradients, not rate-scaled steps (as in PyTorch and TF), so a rate change takes effect at once.
 *
 * State: one momentum buffer per parameter, created at its first update, named `<name>/momentum` in
 * {@link getState} / {@link setState}.
 */
export class SGD implements NamedOptimizer {
  /** The options in effect, defaults filled in. */
  readonly config: Readonly<{ momentum: number; nesterov: boolean; weightDecay: number; weightDecayMode: WeightDecayMode; decayFilter: DecayFilter }>;
  private readonly decay: ParamPredicate;
  private readonly buffers = new Map<string, tf.Tensor>();
  /** Where {@link updateDirect} computes a parameter's new values (grown to the largest parameter). */
  private scratch = new Float32Array(0);

  constructor(options: SGDOptions = {}) {
    const op = 'SGD';
    if (options === null || typeof options !== 'object') throw argumentError(op, 'options', typeof options, 'an options object');
    assertKnownOptions(op, options, SGD_OPTIONS);
    const momentum = options.momentum ?? 0.9;
    const nesterov = options.nesterov ?? false;
    const weightDecay = options.weightDecay ?? 0;
    const weightDecayMode = options.weightDecayMode ?? 'l2';
    const decayFilter = options.decayFilter ?? 'all';
    assertUnitInterval(op, 'momentum', momentum);
    assertBoolean(op, 'nesterov', nesterov);
    if (nesterov && momentum === 0) throw argumentError(op, 'momentum', 0, 'a momentum in (0, 1) when nesterov is true');
    assertNonNegative(op, 'weightDecay', weightDecay);
    assertOneOf(op, 'weightDecayMode', weightDecayMode, WEIGHT_DECAY_MODES);
    this.decay = resolveDecayFilter(op, decayFilter);
    this.config = Object.freeze({ momentum, nesterov, weightDecay, weightDecayMode, decayFilter });
  }

  /** Applies one update in place; see the class description for the formulas. */
  applyGradients(grads: tf.NamedTensorMap, params: NamedParams, lr: number): void {
    const op = 'SGD.applyGradients';
    assertNonNegative(op, 'lr', lr);
    const pairs = pairGradients(op, grads, paramEntries(op, params));
    this.checkBufferShapes(op, pairs);
    const { momentum: mu, nesterov, weightDecay: wd, weightDecayMode } = this.config;
    for (const { name, variable, grad } of pairs) {
      const decayed = wd > 0 && this.decay(name, variable);
      if (grad.dtype === 'float32' && this.updateDirect(name, variable, () => readValues(grad) as Float32Array, lr, decayed)) continue;
      const old = this.buffers.get(name);
      const next = tf.tidy(() => {
        let g = grad.dtype === 'float32' ? grad : tf.cast(grad, 'float32');
        if (decayed && weightDecayMode === 'l2') g = tf.add(g, tf.mul(variable, wd));
        let direction = g;
        let v: tf.Tensor | undefined;
        if (mu > 0) {
          v = old === undefined ? tf.clone(g) : tf.add(tf.mul(old, mu), g);
          direction = nesterov ? tf.add(g, tf.mul(v, mu)) : v;
        }
        let w = tf.sub(variable, tf.mul(direction, lr));
        if (decayed && weightDecayMode === 'decoupled') w = tf.sub(w, tf.mul(variable, lr * wd));
        variable.assign(w);
        return v;
      });
      if (next !== undefined) {
        old?.dispose();
        this.buffers.set(name, next);
      }
    }
  }

  /**
   * {@link applyGradients} with the gradients as float32 values, `grads[i]` (of `params[i]`'s size) read during
   * the call only: directly where {@link updateDirect} applies (no gradient tensor made), else through a tensor copy.
   */
  applyGradientValues(grads: readonly Float32Array[], params: readonly NamedVariable[], lr: number): void {
    const op = 'SGD.applyGradientValues';
    assertNonNegative(op, 'lr', lr);
    const entries = paramEntries(op, params);
    if (!Array.isArray(grads) || grads.length !== entries.length) {
      throw argumentError(op, 'grads', Array.isArray(grads) ? `${grads.length} arrays` : typeof grads, `one Float32Array per parameter (${entries.length})`);
    }
    entries.forEach((p, i) => {
      const g = grads[i];
      if (!(g instanceof Float32Array) || g.length !== p.variable.size) {
        throw argumentError(op, `grads[${i}]`, g instanceof Float32Array ? `${g.length} values` : typeof g, `a Float32Array of ${p.variable.size} values (the size of '${p.name}')`);
      }
    });
    this.checkBufferShapes(op, entries);
    const wd = this.config.weightDecay;
    entries.forEach(({ name, variable }, i) => {
      if (this.updateDirect(name, variable, () => grads[i], lr, wd > 0 && this.decay(name, variable))) return;
      const grad = float32TensorOf(grads[i], variable.shape);
      try {
        this.applyGradients({ [name]: grad }, [{ name, variable }], lr);
      } finally {
        grad.dispose();
      }
    });
  }

  /** Throws when a parameter's momentum buffer (restored state) has another shape than the parameter. */
  private checkBufferShapes(op: string, params: readonly NamedVariable[]): void {
    for (const { name, variable } of params) {
      const buf = this.buffers.get(name);
      if (buf !== undefined && !sameShape(buf.shape, variable.shape)) {
        throw argumentError(op, `params['${name}']`, `shape [${variable.shape.join(',')}]`,
          `the shape of its momentum buffer [${buf.shape.join(',')}] (restored state from another model?)`);
      }
    }
  }

  /**
   * The update of one parameter computed straight from the values on the `wasm` heap, when its momentum buffer
   * (if any) is the only tensor on its buffer ({@link exclusiveHeapValues}): the same float32 operations in the
   * same order as the tensor ops of {@link applyGradients} (bit-identical results), without their ~2-4 kernel
   * calls and temporaries. The momentum buffer is updated in place (only this optimizer reads it); the parameter
   * gets a new tensor (one copy from {@link scratch}) that it is assigned, as with the tensor ops: its buffer is
   * never written in place, because the wasm backend's XNNPACK operators (dense layers, stock convolutions) cache
   * their packed weights per tensor, assuming tensors never change (updated in place, a dense layer kept computing
   * with its old weights). `gradient` gives the float32 gradient values (called after the last allocation).
   * Returns false (nothing done) where it does not apply.
   */
  private updateDirect(name: string, variable: tf.Variable, gradient: () => Float32Array, lr: number, decayed: boolean): boolean {
    if (tf.getBackend() !== 'wasm' || variable.dtype !== 'float32') return false;
    const { momentum, nesterov, weightDecay, weightDecayMode } = this.config;
    let buffer = this.buffers.get(name);
    if (buffer !== undefined && exclusiveHeapValues(buffer) === undefined) return false;
    const first = momentum > 0 && buffer === undefined;
    if (first) {
      buffer = tf.keep(tf.zeros(variable.shape)); // allocate before taking the heap views
      this.buffers.set(name, buffer);
    }
    const n = variable.size;
    if (this.scratch.length < n) this.scratch = new Float32Array(n);
    const out = this.scratch;
    const w = readValues(variable) as Float32Array;
    const v = buffer === undefined ? undefined : exclusiveHeapValues(buffer) as Float32Array;
    const g = gradient();
    // The tensor ops' scalars are float32 tensors.
    const f = Math.fround, rate = f(lr), mu = f(momentum), l2 = decayed && weightDecayMode === 'l2' ? f(weightDecay) : 0;
    const decoupled = decayed && weightDecayMode === 'decoupled' ? f(lr * weightDecay) : 0;
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      let gi = g[i];
      if (l2 !== 0) gi = f(gi + f(wi * l2));
      let d = gi;
      if (v !== undefined) {
        const vi = first ? gi : f(f(v[i] * mu) + gi);
        v[i] = vi;
        d = nesterov ? f(gi + f(vi * mu)) : vi;
      }
      let next = f(wi - f(d * rate));
      if (decoupled !== 0) next = f(next - f(wi * decoupled));
      out[i] = next;
    }
    const next = float32TensorOf(out.subarray(0, n), variable.shape); // the heap views are not used after this
    variable.assign(next);
    next.dispose();
    return true;
  }

  /** Copies of the momentum buffers, named `<parameter name>/momentum` (empty when momentum is 0). */
  getState(): OptimizerStateEntry[] {
    return [...this.buffers].map(([name, t]) => ({ name: `${name}${MOMENTUM_SLOT}`, tensor: tf.clone(t) }));
  }

  /**
   * Replaces every momentum buffer by a copy of the given ones (entries named `<parameter name>/momentum`;
   * parameters not listed start from an empty buffer). A buffer whose shape differs from its parameter's is
   * reported at the next {@link applyGradients}, which knows the parameters.
   */
  setState(state: readonly OptimizerStateEntry[]): void {
    const op = 'SGD.setState';
    if (!Array.isArray(state)) throw argumentError(op, 'state', typeof state, 'an array of { name, tensor }');
    const seen = new Set<string>();
    for (const e of state) {
      const name = e?.name;
      if (typeof name !== 'string' || !name.endsWith(MOMENTUM_SLOT) || name.length === MOMENTUM_SLOT.length) {
        throw argumentError(op, 'state', `an entry named ${typeof name === 'string' ? `'${name}'` : String(name)}`, "entries named '<parameter name>/momentum'");
      }
      if (this.config.momentum === 0) throw argumentError(op, 'state', `an entry '${name}'`, 'no entries: SGD with momentum 0 has no state');
      if (!(e.tensor instanceof tf.Tensor)) throw argumentError(op, `state['${name}'].tensor`, typeof e.tensor, 'a tf.Tensor');
      if (seen.has(name)) throw argumentError(op, 'state', `the name '${name}' twice`, 'unique names');
      seen.add(name);
    }
    this.dispose();
    for (const e of state) {
      this.buffers.set(e.name.slice(0, -MOMENTUM_SLOT.length), tf.tidy(() => tf.cast(e.tensor, 'float32').clone()));
    }
  }

  /** Frees the momentum buffers (the optimizer then starts again from zero momentum). */
  dispose(): void {
    for (const t of this.buffers.values()) t.dispose();
    this.buffers.clear();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
