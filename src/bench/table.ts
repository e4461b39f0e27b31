/**
 * Plain-text tables of `batchfree bench`.
 * @module
 */

/**
 * `header` and `rows` as aligned columns separated by two spaces, with a dashed line under the header: the
 * columns `left` names left-aligned (labels: a count = the first columns, or a list of column indices), the others
 * right-aligned (figures). Ends with a newline.
 */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, left: number | readonly number[] = 1): string {
  const all = [header, ...rows];
  const widths = header.map((_h, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const isLeft = (i: number): boolean => (typeof left === 'number' ? i < left : left.includes(i));
  const line = (r: readonly string[]): string =>
    widths.map((w, i) => (isLeft(i) ? (r[i] ?? '').padEnd(w) : (r[i] ?? '').padStart(w))).join('  ').trimEnd();
  return `${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`;
}

/** `v` with `digits` decimals, `'-'` when undefined or not finite. */
export function fixed(v: number | undefined, digits = 1): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

/** A ratio as `12.3x` (`'-'` when undefined): 2 significant digits below 0.1, 2 decimals below 10, 1 below 100, none above. */
export function times(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  if (v > 0 && v < 0.1) return `${v.toPrecision(2)}x`;
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}x`;
}
