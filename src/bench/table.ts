/**
 * Plain-text tables of `batchfree bench`.
 * @module
 */

/**
 * `header` and `rows` as aligned columns separated by two spaces, with a dashed line under the header: the first
 * `leftColumns` columns left-aligned (labels), the others right-aligned (figures). Ends with a newline.
 */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, leftColumns = 1): string {
  const all = [header, ...rows];
  const widths = header.map((_h, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    widths.map((w, i) => (i < leftColumns ? (r[i] ?? '').padEnd(w) : (r[i] ?? '').padStart(w))).join('  ').trimEnd();
  return `${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`;
}

/** `v` with `digits` decimals, `'-'` when undefined or not finite. */
export function fixed(v: number | undefined, digits = 1): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

/** A ratio as `12.3x` (`'-'` when undefined): 2 decimals below 10, 1 below 100, none above. */
export function times(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}x`;
}
