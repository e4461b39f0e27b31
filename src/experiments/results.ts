/**
 * The records a sweep writes to `results.json`, and their summaries (mean ± std over seeds per cell).
 * Browser-safe: plain data and arithmetic.
 * @module
 */

/** One evaluation point of a run's training curve. */
export interface CurvePoint {
  epoch: number;
  step: number;
  trainLoss: number;
  testLoss: number;
  /** Top-1 accuracy in [0, 1]. */
  testAccuracy: number;
}

/** One training run of a sweep: a (method, images per normalization group, seed) cell. */
export interface RunRecord {
  /** Stable identifier of the cell, used to reuse finished runs. */
  key: string;
  /** Method label as shown in the report (e.g. 'BN', 'FRN+TLU', 'GN+PN'). */
  method: string;
  /** Images per normalization group (only BN/BRN depend on it). */
  groupSize: number;
  seed: number;
  /** The full training configuration. */
  config: Record<string, unknown>;
  curve: CurvePoint[];
  /** Training loss at the logged steps (a smoothed view of the optimisation). */
  lossCurve?: Array<{ step: number; loss: number }>;
  status: 'done' | 'diverged' | 'failed';
  /** Final test accuracy in [0, 1] (NaN when the run did not finish). */
  testAccuracy: number;
  testLoss: number;
  seconds: number;
  imagesPerSecond: number;
  message?: string;
}

/** Mean and sample standard deviation of one cell's final accuracies over seeds. */
export interface CellSummary {
  method: string;
  groupSize: number;
  /** Mean top-1 accuracy in percent. */
  mean: number;
  /** Sample standard deviation in percent (0 with one seed). */
  std: number;
  /** Number of finished runs in the cell. */
  n: number;
  /** Runs of the cell that diverged or failed. */
  failed: number;
}

/** Everything a sweep produced. */
export interface SweepResults {
  title: string;
  dataset: string;
  model: string;
  /** 'fixed': normalization groups inside a fixed global batch (PN paper); 'scaled': global batch = devices × group size (FRN paper). */
  mode: 'fixed' | 'scaled';
  epochs: number;
  /** Free-form facts about the setup, printed in the report (subset sizes, learning rates, machine, ...). */
  notes: string[];
  runs: RunRecord[];
  cells: CellSummary[];
  /** The method whose cells the report's deltas are taken against (default 'BN'). */
  baseline: string;
}

/** Groups finished runs by (method, group size) and computes mean ± std of their final accuracy in percent. */
export function summarizeRuns(runs: RunRecord[]): CellSummary[] {
  const cells = new Map<string, { method: string; groupSize: number; values: number[]; failed: number }>();
  for (const r of runs) {
    const k = `${r.method}@${r.groupSize}`;
    const cell = cells.get(k) ?? { method: r.method, groupSize: r.groupSize, values: [], failed: 0 };
    if (r.status === 'done' && Number.isFinite(r.testAccuracy)) cell.values.push(100 * r.testAccuracy);
    else cell.failed++;
    cells.set(k, cell);
  }
  return [...cells.values()].map(({ method, groupSize, values, failed }) => {
    const n = values.length;
    const mean = n > 0 ? values.reduce((a, b) => a + b, 0) / n : NaN;
    const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
    return { method, groupSize, mean, std, n, failed };
  });
}

/** Methods in first-seen order and group sizes in decreasing order (the FRN paper's Table 2 layout). */
export function tableAxes(cells: CellSummary[]): { methods: string[]; groupSizes: number[] } {
  const methods: string[] = [];
  for (const c of cells) if (!methods.includes(c.method)) methods.push(c.method);
  const groupSizes = [...new Set(cells.map((c) => c.groupSize))].sort((a, b) => b - a);
  return { methods, groupSizes };
}

/**
 * The columns of a table: the group sizes in decreasing order, or one column `0` ("any") when no method of the
 * sweep depends on the group size.
 */
export function tableColumns(cells: CellSummary[]): number[] {
  const cols = tableAxes(cells).groupSizes.filter((g) => g > 0);
  return cols.length > 0 ? cols : [0];
}

/** Column heading of a group size (`0` = any). */
export function columnLabel(groupSize: number, suffix = ''): string {
  return groupSize > 0 ? `${groupSize}${suffix}` : 'any group size';
}

/**
 * The cell of `method` at `groupSize`; methods that do not depend on the group size (everything but BN/BRN) are
 * run once and stand for every column: their single cell is returned for any group size.
 */
export function findCell(cells: CellSummary[], method: string, groupSize: number): CellSummary | undefined {
  const own = cells.filter((c) => c.method === method);
  return own.find((c) => c.groupSize === groupSize) ?? (own.length === 1 && own[0].groupSize === 0 ? own[0] : undefined);
}

/** Formats `mean ± std` with `digits` decimals, or '–' for a missing cell. */
export function formatCell(cell: CellSummary | undefined, digits = 2): string {
  if (!cell || !Number.isFinite(cell.mean)) return cell && cell.failed > 0 ? 'diverged' : '–';
  return cell.n > 1 ? `${cell.mean.toFixed(digits)} ± ${cell.std.toFixed(digits)}` : cell.mean.toFixed(digits);
}

/** A plain-text table of the cells (methods × group sizes, with the delta to the baseline in parentheses). */
export function formatTable(results: Pick<SweepResults, 'cells' | 'baseline'>): string {
  const { methods } = tableAxes(results.cells);
  const cols = tableColumns(results.cells);
  const header = ['method', ...cols.map((g) => columnLabel(g, ' img/group'))];
  const rows = methods.map((m) => [m, ...cols.map((g) => {
    const cell = findCell(results.cells, m, g);
    const base = findCell(results.cells, results.baseline, g);
    const text = formatCell(cell);
    if (m === results.baseline || !cell || !base || !Number.isFinite(cell.mean) || !Number.isFinite(base.mean)) return text;
    const d = cell.mean - base.mean;
    return `${text} (${d >= 0 ? '+' : ''}${d.toFixed(2)})`;
  })]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
