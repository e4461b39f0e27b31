/**
 * Argument parsers shared by the `batchfree` subcommands: each throws commander's `InvalidArgumentError` with
 * what was expected, so that commander prints `error: option '--x <n>' argument 'v' is invalid. <expected>`.
 * @module
 */
import { InvalidArgumentError } from 'commander';

/** A whole number ≥ `min`. */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isInteger(v) || v < min) throw new InvalidArgumentError(`Expected a whole number >= ${min}.`);
    return v;
  };
}

/** A finite number in `[lo, hi]` (or `[lo, hi)` when `hiOpen`). */
export function numberIn(lo: number, hi = Infinity, hiOpen = false): (value: string) => number {
  return (value) => {
    const v = Number(value);
    const ok = value.trim() !== '' && Number.isFinite(v) && v >= lo && (hiOpen ? v < hi : v <= hi);
    if (!ok) {
      const range = hi === Infinity ? `>= ${lo}` : `in [${lo}, ${hi}${hiOpen ? ')' : ']'}`;
      throw new InvalidArgumentError(`Expected a number ${range}.`);
    }
    return v;
  };
}

/** A comma-separated list of whole numbers ≥ 1, e.g. `16,32,64`. */
export function wholeNumberList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const out = parts.map(Number);
  if (parts.length === 0 || parts.some((p) => p === '') || out.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new InvalidArgumentError('Expected comma-separated whole numbers >= 1, e.g. 16,32,64.');
  }
  return out;
}

/** A fraction in (0, 1) or a whole number ≥ 1. */
export function countOrFraction(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !(Number.isFinite(v) && ((v > 0 && v < 1) || (Number.isInteger(v) && v >= 1)))) {
    throw new InvalidArgumentError('Expected a fraction in (0, 1) or a whole number >= 1.');
  }
  return v;
}

/** `camelCase` → `--kebab-case`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
