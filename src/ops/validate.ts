/**
 * Argument checks shared by every op. Each throws an `Error` whose message names the op, the argument,
 * what was given and what was expected, so that bad input never turns into a silent NaN.
 * @module
 */
import { tf } from '../engine.js';

/** Formats a value for an error message (shapes as `[a,b]`, numbers as written). */
function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(',')}]`;
  if (typeof value === 'string') return `'${value}'`;
  return String(value);
}

/** Throws `op: argument 'name' ...: got G, expected E`. */
export function argumentError(op: string, name: string, given: unknown, expected: string): Error {
  return new Error(`${op}: argument '${name}' is invalid: got ${show(given)}, expected ${expected}`);
}

/** Checks that `x` is a tensor whose rank is one of `ranks`. */
export function assertRank(op: string, name: string, x: tf.Tensor, ranks: readonly number[]): void {
  if (!(x instanceof tf.Tensor)) throw argumentError(op, name, typeof x, 'a tf.Tensor');
  if (!ranks.includes(x.rank)) {
    throw argumentError(op, name, `rank ${x.rank} (shape ${show(x.shape)})`,
      `rank ${ranks.join(' or ')} (${ranks.map((r) => RANK_LAYOUT[r] ?? `rank ${r}`).join(' or ')})`);
  }
}

const RANK_LAYOUT: Record<number, string> = { 2: '[B,C]', 4: '[B,H,W,C] (NHWC)' };

/** Checks a finite number greater than zero (epsilons, clipping thresholds). */
export function assertPositive(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw argumentError(op, name, v, 'a finite number > 0');
}

/** Checks a flag: `true` or `false`. */
export function assertBoolean(op: string, name: string, v: unknown): asserts v is boolean {
  if (typeof v !== 'boolean') throw argumentError(op, name, v, 'true or false');
}

/** Checks an optional flag: `true`, `false` or omitted. */
export function assertOptionalBoolean(op: string, name: string, v: unknown): void {
  if (v !== undefined) assertBoolean(op, name, v);
}

/** Checks a whole number ≥ `min`. */
export function assertInteger(op: string, name: string, v: number, min = 1): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw argumentError(op, name, v, `a whole number >= ${min}`);
}

/** Checks a per-channel parameter: a tensor of shape `[channels]` (when given). */
export function assertChannelParam(op: string, name: string, p: tf.Tensor | undefined, channels: number): void {
  if (p === undefined) return;
  if (!(p instanceof tf.Tensor)) throw argumentError(op, name, typeof p, `a tf.Tensor of shape [${channels}]`);
  if (p.rank !== 1 || p.shape[0] !== channels) throw argumentError(op, name, `shape ${show(p.shape)}`, `shape [${channels}] (one value per channel)`);
}

/** Checks a scalar parameter: a tensor with one element (shape `[]` or `[1]`), when given. */
export function assertScalarParam(op: string, name: string, p: tf.Tensor | undefined): void {
  if (p === undefined) return;
  if (!(p instanceof tf.Tensor) || p.size !== 1) {
    throw argumentError(op, name, p instanceof tf.Tensor ? `shape ${show(p.shape)}` : typeof p, 'a scalar tf.Tensor (shape [] or [1])');
  }
}

/** Checks that `groups` divides `channels`. */
export function assertGroups(op: string, name: string, groups: number, channels: number): void {
  assertInteger(op, name, groups);
  if (channels % groups !== 0) {
    throw argumentError(op, name, groups, `a divisor of the channel count ${channels} (e.g. ${divisors(channels).join(', ')})`);
  }
}

/** Checks that `v` is one of `choices`. */
export function assertOneOf<T extends string>(op: string, name: string, v: string, choices: readonly T[]): asserts v is T {
  if (!choices.includes(v as T)) throw argumentError(op, name, v, `one of ${choices.map((c) => `'${c}'`).join(', ')}`);
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

/**
 * The epsilon actually used: `eps`, raised to the backend's own epsilon on float16 backends
 * (WebGL without float32 textures has epsilon 1e-4, where FRN's 1e-6 would underflow; METHODS.md §1).
 */
export function backendSafeEpsilon(eps: number): number {
  const backend = tf.backend();
  return backend.floatPrecision() === 16 ? Math.max(eps, backend.epsilon()) : eps;
}
