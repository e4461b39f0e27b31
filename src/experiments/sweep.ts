/**
 * `batchfree sweep`: a grid of normalizations × images per normalization group × seeds, trained with the same
 * recipe, summarised as mean ± std per cell, written to `results.json` and a self-contained `report.html`.
 * Finished runs are reused and interrupted ones resume from their checkpoint. Node-only (file system).
 *
 * Two designs (METHODS.md §5):
 * - `'fixed'` (the PN paper's isolating design): one global batch; BN/BRN normalise groups of `g` images inside
 *   it. Methods that do not depend on `g` are trained once and stand for every column.
 * - `'scaled'` (the FRN paper's): `devices` virtual devices of `g` images, global batch `devices·g`, learning rate
 *   scaled linearly with the global batch. Every method is trained at every `g`; with a fixed number of epochs the
 *   number of steps changes too.
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { argumentError } from '../ops/validate.js';
import { runTraining, type RunOptions } from '../train/run.js';
import { DivergenceError } from '../train/loop.js';
import type { TrainConfig } from '../train/config.js';
import { METRICS_FILE } from '../train/metrics.js';
import { summarizeRuns, formatTable, type RunRecord, type SweepResults, type CurvePoint } from './results.js';
import { renderReport } from './report.js';

/** A method of the sweep: how it maps onto training settings. */
export interface SweepMethod {
  /** The factory name of the norm+activation. */
  norm: string;
  /** A model other than the sweep's (the NF methods use 'nf-resnet'). */
  model?: string;
  /** AGC clipping factor (NF-ResNet + AGC). */
  agc?: number;
  /** Whether the method's training statistics depend on the images per normalization group (BN, BRN). */
  groupDependent: boolean;
}

/** The methods a sweep knows, by the label used in tables. */
export const SWEEP_METHODS: Readonly<Record<string, SweepMethod>> = Object.freeze({
  'BN': { norm: 'bn', groupDependent: true },
  'BRN': { norm: 'brn', groupDependent: true },
  'GN': { norm: 'gn', groupDependent: false },
  'LN': { norm: 'ln', groupDependent: false },
  'IN': { norm: 'in', groupDependent: false },
  'FRN+TLU': { norm: 'frn', groupDependent: false },
  'FRN+ReLU': { norm: 'frn+relu', groupDependent: false },
  'GN+PN': { norm: 'gn+pn', groupDependent: false },
  'LN+PN': { norm: 'ln+pn', groupDependent: false },
  'EvoNorm-S0': { norm: 'evos0', groupDependent: false },
  'NF-ResNet': { norm: 'none', model: 'nf-resnet', groupDependent: false },
  'NF-ResNet+AGC': { norm: 'none', model: 'nf-resnet', agc: 0.01, groupDependent: false },
});

/** Options of {@link runSweep}. */
export interface SweepOptions {
  /** Method labels (keys of {@link SWEEP_METHODS}). */
  methods: string[];
  /** Images per normalization group, e.g. `[32, 16, 8, 4, 2]`. */
  groupSizes: number[];
  seeds: number[];
  mode: 'fixed' | 'scaled';
  /** Virtual devices of the 'scaled' mode; default 8 (the FRN paper's 8 GPUs). */
  devices?: number;
  /** The training recipe shared by every run (dataset, model, depth, batch size, epochs, learning rate, ...). */
  base: Partial<TrainConfig>;
  /** Output directory: `runs/<key>/`, `results.json`, `report.html`. */
  out: string;
  title?: string;
  /** Extra lines for the report's notes. */
  notes?: string[];
  /** More note lines computed from the results (e.g. comparisons with another implementation), added on every write. */
  annotate?: (results: SweepResults) => string[];
  quiet?: boolean;
  log?: (line: string) => void;
  /** Passed to every run (tests replace the data/model loaders). */
  runOptions?: Pick<RunOptions, 'deps'>;
}

/** One run to do: its key, label and full settings. */
export interface SweepCell { key: string; method: string; groupSize: number; seed: number; settings: Partial<TrainConfig> }

/** The runs of a sweep, in order (group-independent methods once per seed in the 'fixed' mode). */
export function planSweep(options: SweepOptions): SweepCell[] {
  const op = 'planSweep';
  const { methods, groupSizes, seeds, mode, base } = options;
  if (methods.length === 0) throw argumentError(op, 'methods', '[]', `one or more of ${Object.keys(SWEEP_METHODS).join(', ')}`);
  for (const m of methods) if (!(m in SWEEP_METHODS)) throw argumentError(op, 'methods', m, `one of ${Object.keys(SWEEP_METHODS).join(', ')}`);
  if (groupSizes.length === 0 || groupSizes.some((g) => !Number.isInteger(g) || g < 1)) throw argumentError(op, 'groupSizes', `[${groupSizes}]`, 'whole numbers >= 1');
  if (seeds.length === 0) throw argumentError(op, 'seeds', '[]', 'at least one seed');
  const devices = options.devices ?? 8;
  const batch = base.batchSize ?? 32;
  if (mode === 'fixed') {
    for (const g of groupSizes) if (batch % g !== 0) throw argumentError(op, 'groupSizes', g, `divisors of the global batch ${batch}`);
  }
  const cells: SweepCell[] = [];
  for (const method of methods) {
    const spec = SWEEP_METHODS[method];
    const sizes = mode === 'fixed' && !spec.groupDependent ? [0] : groupSizes;
    for (const g of sizes) {
      for (const seed of seeds) {
        const settings: Partial<TrainConfig> = { ...base, norm: spec.norm, seed };
        if (spec.model) settings.model = spec.model;
        if (!spec.groupDependent) delete settings.bnMomentum; // only BN/BRN have moving statistics
        if (spec.agc !== undefined) settings.agc = spec.agc;
        if (mode === 'fixed') {
          if (g > 0) settings.groupSize = g;
        } else {
          settings.batchSize = devices * g;
          settings.groupSize = g;
          settings.lr = (base.lr ?? 0.1) * (devices * g) / batch;
        }
        const key = `${method.replace(/[^A-Za-z0-9]+/g, '-')}_g${g || 'any'}_s${seed}`.toLowerCase();
        cells.push({ key, method, groupSize: g, seed, settings });
      }
    }
  }
  return cells;
}

/** The epoch lines of a run's metrics file as curve points, and the training loss of its step lines. */
export function readCurve(runDir: string): { curve: CurvePoint[]; lossCurve: Array<{ step: number; loss: number }> } {
  const file = path.join(runDir, METRICS_FILE);
  if (!fs.existsSync(file)) return { curve: [], lossCurve: [] };
  const points: CurvePoint[] = [];
  const losses = new Map<number, number>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as Record<string, number | string>;
    if (m.type === 'step') losses.set(Number(m.step), Number(m.loss));
    if (m.type !== 'epoch') continue;
    points.push({ epoch: Number(m.epoch), step: Number(m.step), trainLoss: Number(m.trainLoss), testLoss: Number(m.evalLoss), testAccuracy: Number(m.evalAccuracy) });
  }
  // a resumed run may repeat an epoch or step line: keep the last of each
  const byEpoch = new Map(points.map((p) => [p.epoch, p]));
  return {
    curve: [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch),
    lossCurve: [...losses].map(([step, loss]) => ({ step, loss })).sort((a, b) => a.step - b.step),
  };
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Runs (or reuses) every cell of the sweep, then writes `results.json` and `report.html` — also after each run,
 * so a long sweep can be watched. A run that diverges is recorded as such and the sweep goes on.
 */
export async function runSweep(options: SweepOptions): Promise<SweepResults> {
  const cells = planSweep(options);
  const log = options.log ?? ((line: string) => { if (!options.quiet) console.log(line); });
  fs.mkdirSync(path.join(options.out, 'runs'), { recursive: true });
  const runs: RunRecord[] = [];
  const base = options.base;
  const summary = (): SweepResults => ({
    title: options.title ?? `Normalization sweep: ${base.dataset ?? 'mnist'}, ${base.model ?? 'resnet'}-${base.depth ?? ''}`,
    dataset: String(base.dataset ?? 'mnist'),
    model: `${base.model ?? 'resnet'}${base.depth ? `-${base.depth}` : ''}`,
    mode: options.mode,
    epochs: base.epochs ?? 3,
    notes: [
      ...(options.notes ?? []),
      `Seeds ${options.seeds.join(', ')}; global batch ${options.mode === 'fixed' ? base.batchSize ?? 32 : `${options.devices ?? 8} × group size`}; peak learning rate ${base.lr ?? 0.1}${options.mode === 'scaled' ? ` at batch ${base.batchSize ?? 32}, scaled linearly` : ''}.`,
      ...(base.trainSubset ? [`Training subset: ${base.trainSubset} images (seeded, class-stratified); evaluation on the ${base.testSubset ?? 'full'} test set.`] : []),
    ],
    runs,
    cells: summarizeRuns(runs),
    baseline: options.methods.includes('BN') ? 'BN' : options.methods[0],
  });
  const results = (): SweepResults => {
    const r = summary();
    if (options.annotate) r.notes.push(...options.annotate(r));
    return r;
  };

  const save = async (): Promise<void> => {
    const r = results();
    writeAtomically(path.join(options.out, 'results.json'), JSON.stringify(r, null, 1));
    writeAtomically(path.join(options.out, 'report.html'), await renderReport(r));
  };
  for (const [i, cell] of cells.entries()) {
    const runDir = path.join(options.out, 'runs', cell.key);
    const recordFile = path.join(runDir, 'record.json');
    if (fs.existsSync(recordFile)) {
      const saved = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as RunRecord;
      const wanted = { ...cell.settings, out: runDir };
      if (JSON.stringify(saved.config) !== JSON.stringify(wanted)) {
        throw new Error(`sweep: ${recordFile} was trained with other settings (${JSON.stringify(saved.config)}) than this sweep asks for (${JSON.stringify(wanted)}): use another --out, or delete that run`);
      }
      runs.push(Object.assign(saved, readCurve(runDir)));
      log(`[${i + 1}/${cells.length}] ${cell.method} g=${cell.groupSize || 'any'} seed ${cell.seed}: reused`);
      continue;
    }
    log(`[${i + 1}/${cells.length}] ${cell.method} g=${cell.groupSize || 'any'} seed ${cell.seed}`);
    const record: RunRecord = {
      key: cell.key, method: cell.method, groupSize: cell.groupSize, seed: cell.seed, config: { ...cell.settings, out: runDir },
      curve: [], status: 'done', testAccuracy: NaN, testLoss: NaN, seconds: 0, imagesPerSecond: 0,
    };
    try {
      const resume = fs.existsSync(path.join(runDir, 'checkpoint'));
      const summary = await runTraining({ ...cell.settings, out: runDir }, { resume, quiet: options.quiet ?? false, ...options.runOptions });
      record.testAccuracy = summary.evaluation.accuracy;
      record.testLoss = summary.evaluation.loss;
      record.seconds = summary.elapsedMs / 1000;
      record.imagesPerSecond = summary.imagesPerSecond;
      log(`    test accuracy ${(100 * summary.evaluation.accuracy).toFixed(2)}%  (${record.seconds.toFixed(0)} s, ${summary.imagesPerSecond.toFixed(0)} img/s)`);
    } catch (e) {
      if (!(e instanceof DivergenceError)) throw e;
      record.status = 'diverged';
      record.message = e.message;
      log(`    diverged: ${e.message}`);
    }
    Object.assign(record, readCurve(runDir));
    writeAtomically(recordFile, JSON.stringify(record, null, 1));
    runs.push(record);
    await save();
  }
  await save();
  const final = results();
  log(`\n${formatTable(final)}\n\nwrote ${path.join(options.out, 'results.json')} and ${path.join(options.out, 'report.html')}`);
  return final;
}
