/**
 * `batchfree diagnose`: the Proxy Normalization paper's power decomposition (eq. 5) — power plots of random nets
 * (Definition 1) for several normalizations, or, with `--run`, of a trained checkpoint's normalization layers.
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { tf, tfl } from '../engine.js';
import { randomNetPowerPlot, RANDOM_NET_NORMS, type RandomNetNorm } from '../diagnostics/random_nets.js';
import { trainedPowerDecomposition } from '../diagnostics/trained.js';
import type { PowerPlot } from '../diagnostics/power_decomposition.js';
import { renderPowerReport } from '../experiments/report.js';
import { fileSystem } from '../io/file_system.js';
import { checkpointDir, readCheckpointState } from '../train/checkpoint.js';
import { defaultDependencies, prepareData } from '../train/run.js';
import { resolveTrainConfig, type TrainConfig } from '../train/config.js';
import { standardize } from '../data/transforms.js';
import { init } from '../init.js';
import { wholeNumber, numberIn } from './parse.js';
import type { CliIO } from './program.js';

function normList(value: string): RandomNetNorm[] {
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(RANDOM_NET_NORMS as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) throw new InvalidArgumentError(`Expected comma-separated norms among ${RANDOM_NET_NORMS.join(', ')}.`);
  return names as RandomNetNorm[];
}

/** Builds the `diagnose` subcommand. */
export function diagnoseCommand(io: CliIO): Command {
  return new Command('diagnose')
    .description('Power decomposition (PN paper eq. 5): power plots of random nets by depth for several norms, or of a trained run (--run).')
    .addOption(new Option('--norms <list>', `random nets: norms, comma-separated among ${RANDOM_NET_NORMS.join(', ')}`).argParser(normList).default([...RANDOM_NET_NORMS]))
    .addOption(new Option('--depth <n>', 'random nets: layers').argParser(wholeNumber(1)).default(50))
    .addOption(new Option('--width <n>', 'random nets: channels per layer (the paper: 1024)').argParser(wholeNumber(1)).default(32))
    .addOption(new Option('--size <px>', 'random nets: side of the square feature maps').argParser(wholeNumber(2)).default(8))
    .addOption(new Option('--inputs <n>', 'random nets: inputs in the set D / trained run: test images').argParser(wholeNumber(2)).default(32))
    .addOption(new Option('--realisations <n>', 'random nets: independent draws (mean and 95% interval; the paper: 50)').argParser(wholeNumber(1)).default(10))
    .addOption(new Option('--groups <n>', "random nets: groups of 'gn' and 'gn+pn'").argParser(wholeNumber(1)).default(8))
    .addOption(new Option('--param-std <s>', 'random nets: std of gamma around 1 and beta around 0 (paper 0.2)').argParser(numberIn(0)).default(0.2))
    .addOption(new Option('--seed <n>', 'seed').argParser(wholeNumber(0)).default(0))
    .addOption(new Option('--run <dir>', 'decompose the normalization layers of the trained run in <dir> (its checkpoint/) on test images instead'))
    .addOption(new Option('--backend <name>', 'backend').choices(['auto', 'wasm', 'cpu']).default('auto'))
    .addOption(new Option('--out <dir>', 'output directory (power.json, power.html)').default('runs/diagnose'))
    .action(async (opts: Record<string, unknown>) => {
      await init({ backend: opts.backend as 'auto' | 'wasm' | 'cpu' });
      const out = String(opts.out);
      fs.mkdirSync(out, { recursive: true });
      if (typeof opts.run === 'string') {
        await diagnoseRun(opts.run, Number(opts.inputs), out, io);
        return;
      }
      const plots: PowerPlot[] = [];
      const line = (cells: string[]) => io.out(`${cells.map((c, i) => (i === 0 ? c.padEnd(7) : c.padStart(9))).join(' ')}\n`);
      const depth = Number(opts.depth);
      const marks = [1, Math.ceil(depth / 2), depth].filter((v, i, a) => a.indexOf(v) === i);
      line(['norm', ...marks.map((l) => `(1)@${l}`), ...marks.map((l) => `(2+4)@${l}`), 'linearity']);
      for (const norm of opts.norms as RandomNetNorm[]) {
        const p = randomNetPowerPlot({
          norm, depth, width: Number(opts.width), size: Number(opts.size), inputs: Number(opts.inputs),
          realisations: Number(opts.realisations), groups: Number(opts.groups), paramStd: Number(opts.paramStd), seed: Number(opts.seed),
        });
        plots.push(p);
        line([norm, ...marks.map((l) => p.shares[0].mean[l - 1].toFixed(3)), ...marks.map((l) => (p.shares[1].mean[l - 1] + p.shares[3].mean[l - 1]).toFixed(3)), p.linearity.mean[depth - 1].toFixed(3)]);
      }
      const notes = [`Random nets of Definition 1: ${opts.realisations} realisations, depth ${depth}, width ${opts.width}, ${opts.size}x${opts.size} maps with periodic padding, ${opts.inputs} Gaussian inputs, gamma ~ N(1, ${opts.paramStd}^2), beta ~ N(0, ${opts.paramStd}^2), ReLU; intervals are 95% over realisations.`];
      fs.writeFileSync(path.join(out, 'power.json'), JSON.stringify({ notes, plots }, null, 1));
      fs.writeFileSync(path.join(out, 'power.html'), await renderPowerReport(plots, notes));
      io.out(`wrote ${path.join(out, 'power.json')} and ${path.join(out, 'power.html')}\n`);
    });
}

async function diagnoseRun(runDir: string, images: number, out: string, io: CliIO): Promise<void> {
  const dir = await checkpointDir(runDir);
  const state = await readCheckpointState<{ config: TrainConfig }>(runDir);
  if (dir === null || state === null) throw new Error(`diagnose: argument '--run' is invalid: got '${runDir}', expected a run directory with a checkpoint/ (written by batchfree train)`);
  const model = await tfl.loadLayersModel(fileSystem(dir));
  const config = resolveTrainConfig({ ...state.config, testSubset: images });
  const { evaluation, stats } = prepareData(config, defaultDependencies.loadData(config));
  const n = Math.min(images, evaluation.count);
  const { height: H, width: W, channels: C, images: pixels } = standardize(evaluation, stats);
  const x = tf.tensor4d(pixels.subarray(0, n * H * W * C), [n, H, W, C]);
  const layers = trainedPowerDecomposition(model, x);
  x.dispose();
  io.out(`${'layer'.padEnd(36)} ${['(1)', '(2)', '(3)', '(4)'].map((s) => s.padStart(7)).join(' ')}\n`);
  for (const l of layers) io.out(`${l.layer.padEnd(36)} ${l.shares.map((v) => v.toFixed(3).padStart(7)).join(' ')}\n`);
  fs.writeFileSync(path.join(out, 'power_trained.json'), JSON.stringify({ run: runDir, images: n, layers }, null, 1));
  io.out(`wrote ${path.join(out, 'power_trained.json')}\n`);
}
