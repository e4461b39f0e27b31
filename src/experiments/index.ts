/**
 * Browser-safe part of the experiments: sweep result records and summaries, and the self-contained HTML reports
 * (Vega-Lite charts rendered to SVG). The sweep runner itself is Node-only (`batchfree/node`).
 * @module
 */
export { summarizeRuns, tableAxes, findCell, formatCell, formatTable } from './results.js';
export type { CurvePoint, RunRecord, CellSummary, SweepResults } from './results.js';
export {
  renderReport, renderPowerReport, renderSvg, accuracyChartSpec, curvesChartSpec, lossChartSpec, powerPlotSpec, linearityChartSpec, tableHtml,
} from './report.js';
