/**
 * The self-contained `report.html` of a sweep: the FRN paper's Table 2 layout (methods × images per normalization
 * group, with the delta to BN), its Figure 1 (accuracy against group size), training curves, and optionally the
 * PN paper's power plots. Charts are Vega-Lite specifications rendered to inline SVG by Vega (no network needed to
 * read the report). Browser-safe apart from nothing: Vega runs in both.
 * @module
 */
import * as vega from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';
import { type RunRecord, SweepResults, tableAxes, tableColumns, columnLabel, findCell, formatCell } from './results.js';
import type { PowerPlot } from '../diagnostics/power_decomposition.js';

/** Renders a Vega-Lite specification to an SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Accuracy against images per normalization group, one line per method, with ±std bands (FRN paper Fig. 1). */
export function accuracyChartSpec(results: SweepResults): TopLevelSpec {
  const { methods, groupSizes } = tableAxes(results.cells);
  const cols = groupSizes.filter((g) => g > 0);
  const values = methods.flatMap((m) => cols.map((g) => {
    const c = findCell(results.cells, m, g);
    return c && Number.isFinite(c.mean) ? { method: m, groupSize: g, mean: c.mean, low: c.mean - c.std, high: c.mean + c.std } : null;
  }).filter((v) => v !== null));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Top-1 accuracy vs images per normalization group (${results.dataset}, ${results.model})`,
    width: 520, height: 320,
    data: { values },
    encoding: {
      x: { field: 'groupSize', type: 'quantitative', title: 'images per normalization group', scale: { type: 'log', base: 2, reverse: true }, axis: { values: cols } },
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
    layer: [
      { mark: { type: 'errorband', opacity: 0.15 }, encoding: { y: { field: 'low', type: 'quantitative', title: 'test accuracy (%)', scale: { zero: false } }, y2: { field: 'high' } } },
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'mean', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

/** The run-identifying fields of a chart row: one line per run, one panel per group size. */
function runFields(r: RunRecord): { run: string; method: string; groupSize: number | string } {
  return { run: `${r.method} g${r.groupSize} s${r.seed}`, method: r.method, groupSize: r.groupSize > 0 ? r.groupSize : 'any' };
}

/** Lines of `y` against `x`, one per run, coloured by method, in panels by group size (three per row). */
function runLinesSpec(title: string, values: object[], x: { field: string; title: string }, y: { field: string; title: string; scale: object }, point: boolean): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values },
    facet: { field: 'groupSize', type: 'ordinal', title: 'images per normalization group' },
    columns: 3,
    spec: {
      width: 230, height: 190,
      mark: { type: 'line', point, opacity: 0.75 },
      encoding: {
        x: { ...x, type: 'quantitative' },
        y: { ...y, type: 'quantitative' },
        color: { field: 'method', type: 'nominal' },
        detail: { field: 'run', type: 'nominal' },
      },
    },
  } as TopLevelSpec;
}

/** Test accuracy by epoch for every run (seeds as separate lines), faceted by group size. */
export function curvesChartSpec(results: SweepResults): TopLevelSpec {
  const values = results.runs.flatMap((r) => r.curve.map((p) => ({ ...runFields(r), epoch: p.epoch, accuracy: 100 * p.testAccuracy })));
  return runLinesSpec('Training curves (test accuracy by epoch; one line per run)', values,
    { field: 'epoch', title: 'epoch' }, { field: 'accuracy', title: 'test accuracy (%)', scale: { zero: false } }, true);
}

/** Training loss by step, one line per run, faceted by group size. */
export function lossChartSpec(results: SweepResults): TopLevelSpec {
  const values = results.runs.flatMap((r) => (r.lossCurve ?? []).map((p) => ({ ...runFields(r), step: p.step, loss: p.loss })));
  return runLinesSpec('Training loss by step (logged steps; one line per run)', values,
    { field: 'step', title: 'step' }, { field: 'loss', title: 'training loss', scale: { type: 'log' } }, false);
}

const TERM_NAMES = ['(1) dataset-scale', '(2) instance-mean variability', '(3) instance scale', '(4) instance-spread variability'];

/** Stacked shares of the four power terms by depth, one panel per normalization (PN paper Fig. 2). */
export function powerPlotSpec(plots: PowerPlot[]): TopLevelSpec {
  const values = plots.flatMap((p) => p.shares.flatMap((s, term) => s.mean.map((v, l) => ({ norm: p.norm, layer: l + 1, term: TERM_NAMES[term], share: v }))));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Power plots of random nets (share of each term of eq. 5 by depth)',
    data: { values },
    facet: { field: 'norm', type: 'nominal', title: null },
    columns: 4,
    spec: {
      width: 170, height: 160,
      mark: { type: 'area' },
      encoding: {
        x: { field: 'layer', type: 'quantitative', title: 'depth' },
        y: { field: 'share', type: 'quantitative', stack: 'normalize', title: 'share of power' },
        color: { field: 'term', type: 'nominal', sort: TERM_NAMES, title: 'term' },
      },
    },
  } as TopLevelSpec;
}

/** The methods × group sizes table as HTML, with the delta to the baseline method. */
export function tableHtml(results: SweepResults): string {
  const { methods } = tableAxes(results.cells);
  const cols = tableColumns(results.cells);
  const head = `<tr><th>method</th>${cols.map((g) => `<th>${columnLabel(g)}</th>`).join('')}</tr>`;
  const rows = methods.map((m) => {
    const tds = cols.map((g) => {
      const c = findCell(results.cells, m, g);
      const b = findCell(results.cells, results.baseline, g);
      let delta = '';
      if (m !== results.baseline && c && b && Number.isFinite(c.mean) && Number.isFinite(b.mean)) {
        const d = c.mean - b.mean;
        delta = ` <span class="${d >= 0 ? 'up' : 'down'}">(${d >= 0 ? '+' : ''}${d.toFixed(2)})</span>`;
      }
      return `<td>${escapeHtml(formatCell(c))}${delta}</td>`;
    });
    return `<tr><th>${escapeHtml(m)}</th>${tds.join('')}</tr>`;
  });
  return `<table><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Renders the whole report as one self-contained HTML document. */
export async function renderReport(results: SweepResults, options: { powerPlots?: PowerPlot[] } = {}): Promise<string> {
  const charts = [await renderSvg(accuracyChartSpec(results))];
  if (results.runs.some((r) => r.curve.length > 0)) charts.push(await renderSvg(curvesChartSpec(results)));
  if (results.runs.some((r) => (r.lossCurve ?? []).length > 0)) charts.push(await renderSvg(lossChartSpec(results)));
  if (options.powerPlots && options.powerPlots.length > 0) charts.push(await renderSvg(powerPlotSpec(options.powerPlots)));
  const failed = results.runs.filter((r) => r.status !== 'done');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(results.title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.35em .7em;text-align:right}
th:first-child{text-align:left}.up{color:#1a7f37}.down{color:#c0392b}figure{margin:1.5em 0}
</style></head><body>
<h1>${escapeHtml(results.title)}</h1>
<p>Dataset <b>${escapeHtml(results.dataset)}</b>, model <b>${escapeHtml(results.model)}</b>, ${results.epochs} epoch(s),
mode <b>${results.mode === 'fixed' ? 'fixed global batch, normalization groups inside it (PN paper)' : 'global batch = devices × group size, learning rate scaled linearly (FRN paper; with a fixed number of epochs this also changes the number of steps)'}</b>.</p>
<ul>${results.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
<h2>Top-1 test accuracy (%) by images per normalization group</h2>
<p>Mean ± sample standard deviation over seeds; in parentheses the difference to ${escapeHtml(results.baseline)} at the same group size.
Methods that do not depend on the group size were run once and stand in every column.</p>
${tableHtml(results)}
${failed.length ? `<p><b>Runs that did not finish:</b> ${failed.map((r) => escapeHtml(`${r.method} g${r.groupSize} seed ${r.seed}: ${r.status}${r.message ? ` (${r.message})` : ''}`)).join('; ')}</p>` : ''}
${charts.map((svg) => `<figure>${svg}</figure>`).join('\n')}
</body></html>
`;
}

/** Channel-wise linearity of the activation by depth, one line per normalization with its interval. */
export function linearityChartSpec(plots: PowerPlot[]): TopLevelSpec {
  const values = plots.flatMap((p) => p.linearity.mean.map((v, l) => ({ norm: p.norm, layer: l + 1, linearity: v, low: p.linearity.low[l], high: p.linearity.high[l] })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Channel-wise linearity of the activation by depth (1 = acts as an affine map)',
    width: 520, height: 260,
    data: { values },
    encoding: { x: { field: 'layer', type: 'quantitative', title: 'depth' }, color: { field: 'norm', type: 'nominal' } },
    layer: [
      { mark: { type: 'errorband', opacity: 0.15 }, encoding: { y: { field: 'low', type: 'quantitative', title: 'R² of the best affine fit', scale: { zero: false } }, y2: { field: 'high' } } },
      { mark: 'line', encoding: { y: { field: 'linearity', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

/** A self-contained HTML page of random-net power plots (PN paper Fig. 2, top row) with a table of shares. */
export async function renderPowerReport(plots: PowerPlot[], notes: string[] = []): Promise<string> {
  const depth = Math.max(...plots.map((p) => p.depth));
  const at = [1, Math.ceil(depth / 4), Math.ceil(depth / 2), depth].filter((v, i, a) => a.indexOf(v) === i);
  const rows = plots.map((p) => `<tr><th>${escapeHtml(p.norm)}</th>${at.map((l) => `<td>${p.shares[0].mean[l - 1]?.toFixed(3) ?? '–'}</td>`).join('')}` +
    `${at.map((l) => `<td>${((p.shares[1].mean[l - 1] ?? NaN) + (p.shares[3].mean[l - 1] ?? NaN)).toFixed(3)}</td>`).join('')}<td>${p.linearity.mean[p.depth - 1].toFixed(3)}</td></tr>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Power plots</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}th:first-child{text-align:left}</style></head><body>
<h1>Power decomposition of random nets</h1>
<ul>${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
<table><thead><tr><th rowspan="2">norm</th><th colspan="${at.length}">share of term (1), dataset-scale, at depth</th><th colspan="${at.length}">share of terms (2)+(4), instance variability</th><th rowspan="2">linearity at depth ${depth}</th></tr>
<tr>${at.map((l) => `<th>${l}</th>`).join('')}${at.map((l) => `<th>${l}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<figure>${await renderSvg(powerPlotSpec(plots))}</figure>
<figure>${await renderSvg(linearityChartSpec(plots))}</figure>
</body></html>
`;
}
