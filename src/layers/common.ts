/**
 * Plumbing shared by batchfree's `tf.layers` classes: the types TF.js does not export by name, input-shape
 * checks with batchfree's error messages, clean default layer names and serialization registration.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { argumentError } from '../ops/validate.js';

/** The options every `tf.layers.Layer` accepts (`name`, `trainable`, `inputShape`, `batchInputShape`, `dtype`, ...). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
/** The keyword arguments TF.js passes to `Layer.call` (`training`, `mask`). */
export type Kwargs = Parameters<tfl.layers.Layer['call']>[1];
/** A TF.js layers shape: dimensions, `null` where unknown (the batch). */
export type Shape = Array<number | null>;
/** A weight created by `Layer.addWeight`. */
export type LayerVariable = tfl.LayerVariable;
/** A TF.js layers initializer. */
export type Initializer = ReturnType<typeof tfl.initializers.ones>;
/** A layer input: a concrete tensor (eager call) or a symbolic one (model building). */
export type LayerInput = tf.Tensor | tfl.SymbolicTensor;

/** Prefix of every batchfree class name in serialized models, so that none collides with TF.js' own classes. */
export const CLASS_PREFIX = 'batchfree>';

/** A class with the static `className` TF.js serialization needs. */
type Registrable = Parameters<typeof tf.serialization.registerClass>[0];

/** Registers a layer class for `model.save` / `tf.loadLayersModel` under its `className` (`batchfree>Name`). */
export function registerLayer<T extends Registrable>(cls: T): T {
  tf.serialization.registerClass(cls);
  return cls;
}

const nameCounts = new Map<string, number>();

/**
 * `args` with a default `name` (`snake_case_N`, as TF.js names its own layers) when none is given. Without it TF.js
 * would derive the name from the class name and put `batchfree>` into every layer and weight name.
 */
export function withDefaultName<T extends { name?: string | null }>(args: T | undefined, base: string): T {
  const a = (args ?? {}) as T;
  if (a.name != null && a.name !== '') return a;
  const n = (nameCounts.get(base) ?? 0) + 1;
  nameCounts.set(base, n);
  return { ...a, name: `${base}_${n}` };
}

/** The one shape of a single-input layer (TF.js passes `Shape | Shape[]`). */
export function oneShape(inputShape: Shape | Shape[]): Shape {
  if (inputShape.length > 0 && Array.isArray(inputShape[0])) {
    const shapes = inputShape as Shape[];
    if (shapes.length !== 1) throw new Error(`expected one input, got ${shapes.length}`);
    return shapes[0];
  }
  return inputShape as Shape;
}

/** The one tensor of a single-input layer call. */
export function oneTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) throw new Error(`expected one input tensor, got ${inputs.length}`);
    return inputs[0];
  }
  return inputs;
}

/**
 * Checks the input shape of a layer at build time (rank among `ranks`, channel axis defined) and returns the
 * channel count `C` (last axis, NHWC).
 */
export function channelsOf(layer: string, inputShape: Shape | Shape[], ranks: readonly number[] = [2, 4]): number {
  const shape = oneShape(inputShape);
  const show = `[${shape.map((d) => (d === null ? 'null' : d)).join(',')}]`;
  if (!ranks.includes(shape.length)) {
    const layouts = ranks.map((r) => (r === 2 ? '[B,C]' : r === 4 ? '[B,H,W,C] (NHWC)' : `rank ${r}`)).join(' or ');
    throw argumentError(layer, 'inputShape', `rank ${shape.length} (shape ${show})`, `rank ${ranks.join(' or ')} (${layouts})`);
  }
  const c = shape[shape.length - 1];
  if (c === null || c === undefined || c < 1) throw argumentError(layer, 'inputShape', show, 'a defined channel count on the last axis');
  return c;
}

/**
 * Reads an option that may come back as `null` from a saved model (TF.js serializes `undefined` as `null`):
 * `null`/`undefined` give `fallback`.
 */
export function opt<T>(value: T | null | undefined, fallback: T): T {
  return value === null || value === undefined ? fallback : value;
}

/** `value`, or `undefined` when it is `null` (a saved model's way of writing "not given"). */
export function optional<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}

/** Checks a boolean option (the ops' check, re-exported for the layers). */
export { assertBoolean } from '../ops/validate.js';

/** Checks a number in [lo, hi] (inclusive). */
export function assertInRange(layer: string, name: string, v: number, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw argumentError(layer, name, v, `a number in [${lo}, ${hi}]`);
}

/** The `[C]` weights of per-channel layers, read as 1-D tensors. */
export function read1d(v: LayerVariable): tf.Tensor1D {
  return v.read() as tf.Tensor1D;
}

/** `tfl.initializers.constant({value})`. */
export function constantInit(value: number): Initializer {
  return tfl.initializers.constant({ value });
}

/** The name a layer uses in error messages: its class name without the `batchfree>` prefix. */
export function opName(layer: { getClassName(): string }): string {
  const name = layer.getClassName();
  return name.startsWith(CLASS_PREFIX) ? name.slice(CLASS_PREFIX.length) : name;
}

/** A layer that ends with an activation of its own (`activation` other than `'linear'`) and can give its output before it. */
export interface OwnActivationLayer {
  readonly activation: string;
  /** The layer's output before its own activation (inference mode). */
  preActivation(x: tf.Tensor): tf.Tensor;
}

/**
 * Whether `layer` ends with an activation of its own: batchfree's BN/BRN/GN/LN/IN with `activation: 'relu'` and
 * FRN with `activation: 'tlu'`.
 */
export function endsWithOwnActivation(layer: tfl.layers.Layer): layer is tfl.layers.Layer & OwnActivationLayer {
  const l = layer as Partial<OwnActivationLayer>;
  return typeof l.preActivation === 'function' && typeof l.activation === 'string' && l.activation !== 'linear';
}
