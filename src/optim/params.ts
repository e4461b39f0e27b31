/**
 * Named parameters as the optimizers see them, parameter predicates and matchers, and the small
 * number checks shared by `src/optim`.
 *
 * Parameters are named `tf.Variable`s: either a `Map<string, tf.Variable>` or a list of
 * `{ name, variable }` (layer weights such as `conv2d_1/kernel`, `frn_1/gamma`). Gradients are a
 * `tf.NamedTensorMap` keyed by the same names, e.g. the `grads` of `tf.variableGrads`, which keys them by
 * `variable.name` — {@link namedVariables} builds the matching list from plain variables.
 * @module
 */
import { tf } from '../engine.js';
import { argumentError } from '../ops/validate.js';

/** One named parameter. */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

/** The parameters an optimizer updates: a map from name to variable, or a list of named variables. */
export type NamedParams = ReadonlyMap<string, tf.Variable> | readonly NamedVariable[];

/** Decides something per parameter (decayed or not, clipped or not) from its name and variable. */
export type ParamPredicate = (name: string, variable: tf.Variable) => boolean;

/**
 * Selects parameters: a predicate, or name patterns. A string matches the parameter of that exact name
 * or every parameter under that prefix (`'dense_3'` matches `dense_3/kernel` and `dense_3/bias`); a
 * `RegExp` is tested against the full name. A list matches a parameter when any of its entries does.
 */
export type ParamMatcher = ParamPredicate | string | RegExp | readonly (string | RegExp)[];

/** `[{ name, variable }]` from plain variables, named by `variable.name` (the keys `tf.variableGrads` uses). */
export function namedVariables(variables: readonly tf.Variable[]): NamedVariable[] {
  return variables.map((variable) => ({ name: variable.name, variable }));
}

/**
 * The parameters as a list of `{ name, variable }`, checked: every value is a `tf.Variable` and names are
 * unique. @internal
 */
export function paramEntries(op: string, params: NamedParams): NamedVariable[] {
  let entries: NamedVariable[];
  if (params instanceof Map) {
    entries = [...params.entries()].map(([name, variable]) => ({ name, variable }));
  } else if (Array.isArray(params)) {
    entries = (params as readonly NamedVariable[]).slice();
  } else {
    throw argumentError(op, 'params', typeof params, 'a Map<string, tf.Variable> or an array of { name, variable }');
  }
  const seen = new Set<string>();
  for (const e of entries) {
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string') {
      throw argumentError(op, 'params', String(e), 'entries { name: string, variable: tf.Variable }');
    }
    if (!(e.variable instanceof tf.Variable)) throw argumentError(op, `params['${e.name}']`, typeof e.variable, 'a tf.Variable');
    if (seen.has(e.name)) throw argumentError(op, 'params', `the name '${e.name}' twice`, 'unique parameter names');
    seen.add(e.name);
  }
  return entries;
}

/**
 * Checks that every gradient belongs to a parameter and has its shape; returns the parameters that have a
 * gradient, in parameter order. @internal
 */
export function pairGradients(op: string, grads: tf.NamedTensorMap, params: NamedVariable[]): Array<NamedVariable & { grad: tf.Tensor }> {
  if (grads === null || typeof grads !== 'object') throw argumentError(op, 'grads', typeof grads, 'a NamedTensorMap keyed by parameter name');
  const byName = new Map(params.map((p) => [p.name, p]));
  for (const name of Object.keys(grads)) {
    if (!byName.has(name)) {
      throw argumentError(op, 'grads', `a gradient for '${name}'`, `gradients keyed by parameter names (${listNames(params)})`);
    }
  }
  const out: Array<NamedVariable & { grad: tf.Tensor }> = [];
  for (const p of params) {
    const grad = grads[p.name];
    if (grad === undefined || grad === null) continue;
    if (!(grad instanceof tf.Tensor)) throw argumentError(op, `grads['${p.name}']`, typeof grad, 'a tf.Tensor');
    if (!sameShape(grad.shape, p.variable.shape)) {
      throw argumentError(op, `grads['${p.name}']`, `shape [${grad.shape.join(',')}]`, `the parameter's shape [${p.variable.shape.join(',')}]`);
    }
    out.push({ ...p, grad });
  }
  return out;
}

/** Turns a {@link ParamMatcher} into a predicate (checking its type). @internal */
export function toPredicate(op: string, argName: string, matcher: ParamMatcher): ParamPredicate {
  if (typeof matcher === 'function') return matcher;
  const patterns = typeof matcher === 'string' || matcher instanceof RegExp ? [matcher] : matcher;
  if (!Array.isArray(patterns)) throw argumentError(op, argName, typeof matcher, 'a predicate (name, variable) => boolean, a string, a RegExp or an array of them');
  for (const p of patterns) {
    if (typeof p !== 'string' && !(p instanceof RegExp)) throw argumentError(op, argName, `an entry of type ${typeof p}`, 'strings and RegExps');
  }
  return (name) => patterns.some((p) => patternMatches(p, name));
}

/** Whether one name pattern (exact name or prefix `p/`, or a RegExp) matches `name`. @internal */
export function patternMatches(pattern: string | RegExp, name: string): boolean {
  if (typeof pattern === 'string') return name === pattern || name.startsWith(`${pattern}/`);
  pattern.lastIndex = 0;
  return pattern.test(name);
}

/** The name after the last `/` (`conv2d_1/kernel` → `kernel`). */
export function leafName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** Checks a finite number ≥ 0 (learning rates, weight decay). @internal */
export function assertNonNegative(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw argumentError(op, name, v, 'a finite number >= 0');
}

/** Checks a number in `[0, 1)` (momentum). @internal */
export function assertUnitInterval(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) throw argumentError(op, name, v, 'a number in [0, 1)');
}

/** Checks a boolean. @internal */
export function assertBoolean(op: string, name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw argumentError(op, name, typeof v === 'string' ? v : String(v), 'true or false');
}

/** Throws when `options` has a key not in `known` (a misspelt option would otherwise be ignored). @internal */
export function assertKnownOptions(op: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw argumentError(op, 'options', `an option '${key}'`, `only ${known.map((k) => `'${k}'`).join(', ')}`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function listNames(params: NamedVariable[]): string {
  const names = params.map((p) => `'${p.name}'`);
  return names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ') || 'none';
}
