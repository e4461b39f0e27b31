/**
 * `batchfree sweep`: normalizations × images per normalization group × seeds with one training recipe, ending in
 * `results.json` and `report.html` (see `src/experiments/sweep.ts`). A recipe file holds the training settings
 * (`train`: TrainConfig fields) and the grid (`sweep`); command-line options override both.
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runSweep, SWEEP_METHODS } from '../experiments/sweep.js';
import { findCell, type SweepResults } from '../experiments/results.js';
import { DATASET_NAMES, BACKEND_NAMES, type TrainConfig } from '../train/config.js';
import { numberIn, wholeNumber, wholeNumberList } from './parse.js';
import type { CliIO } from './program.js';

/** The JSON of a recipe file. */
export interface SweepRecipe {
  /** Title of the report. */
  title?: string;
  description?: string;
  train: Partial<TrainConfig>;
  sweep?: { mode?: 'fixed' | 'scaled'; methods?: string[]; groupSizes?: number[]; seeds?: number[]; devices?: number };
}

/** Reads and checks a recipe file. */
export function readRecipe(file: string): SweepRecipe {
  if (!fs.existsSync(file)) throw new Error(`sweep: argument '--recipe' is invalid: got '${file}', expected an existing JSON recipe file (see recipes/)`);
  const recipe = JSON.parse(fs.readFileSync(file, 'utf8')) as SweepRecipe;
  if (typeof recipe.train !== 'object' || recipe.train === null) throw new Error(`sweep: recipe '${file}' has no "train" object of training settings`);
  return recipe;
}

function methodList(value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = names.filter((n) => !(n in SWEEP_METHODS));
  if (names.length === 0 || bad.length > 0) throw new InvalidArgumentError(`Expected comma-separated methods among ${Object.keys(SWEEP_METHODS).join(', ')}${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}.`);
  return names;
}

function seedList(value: string): number[] {
  const seeds = value.split(',').map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new InvalidArgumentError('Expected comma-separated whole numbers >= 0, e.g. 0,1.');
  return seeds;
}

/** A PyTorch cross-check file (bench/torch_crosscheck.py) compared cell by cell with the sweep's results. */
export function crossCheckLines(results: SweepResults, file: string): string[] {
  const theirs = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Record<string, { mean: number; std: number; n: number }>; torch?: string; init?: string };
  const how = theirs.init === 'tfjs' ? "initialised and warmed up as batchfree (--init tfjs)" : "PyTorch's default initialisation";
  const lines: string[] = [];
  for (const [key, cell] of Object.entries(theirs.cells)) {
    const [kind, g] = key.split(':');
    const method = kind === 'bn' ? 'BN' : kind === 'frn' ? 'FRN+TLU' : kind;
    const ours = findCell(results.cells, method, g ? Number(g) : 0);
    if (!ours || !Number.isFinite(ours.mean)) continue;
    const d = ours.mean - cell.mean;
    lines.push(`Cross-check with PyTorch ${theirs.torch ?? ''} (same recipe, bench/torch_crosscheck.py, ${how}): ${method}${g ? ` at ${g} images/group` : ''}: ` +
      `batchfree ${ours.mean.toFixed(2)} ± ${ours.std.toFixed(2)} (n=${ours.n}) vs PyTorch ${cell.mean.toFixed(2)} ± ${cell.std.toFixed(2)} (n=${cell.n}): ` +
      `difference ${d >= 0 ? '+' : ''}${d.toFixed(2)} points${Math.abs(d) <= 1.5 ? ' (within 1.5)' : ' (MORE than 1.5 points apart)'}.`);
  }
  return lines;
}

/** Builds the `sweep` subcommand. */
export function sweepCommand(io: CliIO): Command {
  return new Command('sweep')
    .description('Train a grid of normalizations x images per normalization group x seeds with one recipe; write results.json and report.html. Finished runs are reused and interrupted ones resume.')
    .addOption(new Option('--recipe <file>', 'recipe JSON: {"train": {TrainConfig fields}, "sweep": {mode, methods, groupSizes, seeds}} (see recipes/)').default('recipes/main_mnist.json'))
    .addOption(new Option('--methods <list>', `methods, comma-separated: ${Object.keys(SWEEP_METHODS).join(', ')} (default: the recipe's)`).argParser(methodList))
    .addOption(new Option('--group-sizes <list>', "images per normalization group, e.g. '32,16,8,4,2' (default: the recipe's)").argParser(wholeNumberList))
    .addOption(new Option('--seeds <list>', "seeds, e.g. '0,1' (default: the recipe's, or 0)").argParser(seedList))
    .addOption(new Option('--mode <mode>', "'fixed': a fixed global batch with normalization groups inside it (PN paper); 'scaled': global batch = devices x group size with the learning rate scaled linearly (FRN paper)").choices(['fixed', 'scaled']))
    .addOption(new Option('--devices <n>', "virtual devices of the 'scaled' mode (default 8)").argParser(wholeNumber(1)))
    .addOption(new Option('--dataset <name>', "override the recipe's dataset").choices(DATASET_NAMES))
    .addOption(new Option('--data-dir <dir>', 'directory of the dataset files'))
    .addOption(new Option('--epochs <n>', "override the recipe's epochs").argParser(wholeNumber(1)))
    .addOption(new Option('--train-subset <n>', "override the recipe's training subset").argParser(wholeNumber(1)))
    .addOption(new Option('--test-subset <n>', 'evaluate on the first n test images').argParser(wholeNumber(1)))
    .addOption(new Option('--lr <rate>', "override the recipe's peak learning rate").argParser(numberIn(0)))
    .addOption(new Option('--backend <name>', 'backend').choices(BACKEND_NAMES))
    .addOption(new Option('--torch <files...>', 'bench/torch_crosscheck.py results JSON file(s) to compare with, cell by cell'))
    .addOption(new Option('--out <dir>', 'output directory').default('runs/sweep'))
    .addOption(new Option('--quiet', 'no progress bars'))
    .action(async (opts: Record<string, unknown>) => {
      const recipe = readRecipe(String(opts.recipe));
      const torchFiles = (opts.torch as string[] | undefined) ?? [];
      for (const file of torchFiles) if (!fs.existsSync(file)) throw new Error(`sweep: argument '--torch' is invalid: got '${file}', expected a results JSON written by bench/torch_crosscheck.py`);
      const base: Partial<TrainConfig> = { ...recipe.train };
      for (const key of ['dataset', 'dataDir', 'epochs', 'trainSubset', 'testSubset', 'lr', 'backend'] as const) {
        if (opts[key] !== undefined) (base as Record<string, unknown>)[key] = opts[key];
      }
      const grid = recipe.sweep ?? {};
      const out = String(opts.out);
      const results = await runSweep({
        methods: (opts.methods as string[] | undefined) ?? grid.methods ?? ['BN', 'FRN+TLU', 'GN+PN'],
        groupSizes: (opts.groupSizes as number[] | undefined) ?? grid.groupSizes ?? [32, 2],
        seeds: (opts.seeds as number[] | undefined) ?? grid.seeds ?? [0],
        mode: (opts.mode as 'fixed' | 'scaled' | undefined) ?? grid.mode ?? 'fixed',
        devices: (opts.devices as number | undefined) ?? grid.devices,
        base, out, title: recipe.title,
        notes: [`Recipe: ${path.basename(String(opts.recipe))}${recipe.description ? ` — ${recipe.description}` : ''}`],
        quiet: opts.quiet === true,
        log: (line) => io.out(`${line}\n`),
        annotate: torchFiles.length > 0 ? (r) => torchFiles.flatMap((file) => crossCheckLines(r, file)) : undefined,
      });
      for (const line of results.notes.filter((n) => n.startsWith('Cross-check'))) io.out(`${line}\n`);
    });
}
