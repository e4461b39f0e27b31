import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CommanderError } from 'commander';
import { type CliIO, createProgram } from '../../src/cli/program.js';
import { formatDuration, settingsFrom } from '../../src/cli/train.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/config.js';

const root = mkdtempSync(join(tmpdir(), 'batchfree-cli-'));

/** Runs `batchfree ...args` in-process; returns what it wrote and the error it ended with. */
async function run(...args: string[]): Promise<{ out: string; err: string; error?: unknown }> {
  let out = '', err = '';
  const io: CliIO = { out: (t) => { out += t; }, err: (t) => { err += t; } };
  try {
    await createProgram(io, { exitOverride: true }).parseAsync(['node', 'batchfree', ...args]);
    return { out, err };
  } catch (error) {
    return { out, err, error };
  }
}

/** Every option of the issue's `batchfree train` synopsis. */
const SYNOPSIS = ['--dataset', '--data-dir', '--model', '--depth', '--norm', '--batch-size', '--group-size', '--epochs', '--lr', '--momentum',
  '--nesterov', '--weight-decay', '--warmup-epochs', '--schedule', '--agc', '--label-smoothing', '--mixup', '--dropout', '--stochastic-depth',
  '--train-subset', '--seed', '--backend', '--out', '--resume', '--checkpoint-every', '--quiet'];

describe('batchfree train: options', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  test('--help explains every option, with its default', async () => {
    const r = await run('train', '--help');
    assert.ok(r.error instanceof CommanderError && r.error.exitCode === 0, 'help exits with 0');
    for (const flag of SYNOPSIS) {
      // Option lines are indented by two spaces; wrapped description lines by more.
      const line = r.out.split('\n').find((l) => l.startsWith(`  ${flag} `));
      assert.ok(line !== undefined, `${flag} listed`);
      assert.match(line, new RegExp(`${flag}( <[^>]+>)?\\s{2,}\\S`), `${flag} has a description`);
    }
    const flat = r.out.replace(/\s+/g, ' '); // independent of the terminal width
    assert.match(flat, /--batch-size <n> images per step \(default: 32\)/);
    assert.match(flat, /--dataset <name> dataset to train on \(choices: "mnist", "fashion-mnist", "cifar10", "synthetic", default: "mnist"\)/);
    assert.match(flat, /--schedule <name> decay after the warm-up.*?default: "cosine"\) --agc/);
    assert.match(flat, /--out <dir> [^(]*\(default: runs\/<dataset>-<model><depth>-<norm>-seed<seed>\)/);
    const top = await run('--help');
    assert.match(top.out, /train \[options\]/, 'the top-level help lists the train command');
  });

  test('bad option values are rejected with the option and what was expected', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--batch-size', '0'], /option '--batch-size <n>' argument '0' is invalid\. Expected a whole number >= 1/],
      [['--dataset', 'imagenet'], /option '--dataset <name>' argument 'imagenet' is invalid\. Allowed choices are mnist, fashion-mnist, cifar10, synthetic/],
      [['--lr', 'fast'], /option '--lr <rate>' argument 'fast' is invalid\. Expected a number >= 0/],
      [['--momentum', '1'], /option '--momentum <m>' argument '1' is invalid\. Expected a number in \[0, 1\)/],
      [['--widths', '16,x,64'], /option '--widths <list>' argument '16,x,64' is invalid/],
      [['--validation', '0'], /option '--validation <n>'.*Expected a fraction in \(0, 1\) or a whole number >= 1/],
      [['--backend', 'gpu'], /option '--backend <name>' argument 'gpu' is invalid/],
      [['--bogus'], /unknown option '--bogus'/],
    ];
    for (const [args, expected] of cases) {
      const r = await run('train', ...args);
      assert.ok(r.error instanceof CommanderError && r.error.exitCode !== 0, `${args.join(' ')}: a commander error`);
      assert.match(r.err, expected, args.join(' '));
    }
  });

  test('settings that conflict are reported with the CLI flag, before anything is written', async () => {
    const out = join(root, 'conflict');
    const r = await run('train', '--batch-size', '32', '--group-size', '3', '--out', out, '--quiet');
    assert.ok(r.error instanceof Error);
    assert.match(r.error.message, /option '--group-size' is invalid: got 3, expected a divisor of the batch size 32/);
    const w = await run('train', '--epochs', '2', '--warmup-epochs', '3', '--out', out);
    assert.match((w.error as Error).message, /option '--warmup-epochs' is invalid/);
    const resume = await run('train', '--resume', '--out', out);
    assert.match((resume.error as Error).message, /option '--resume' is invalid.*none in/);
    assert.ok(!existsSync(out), 'nothing written');
  });

  test('only options given on the command line become settings; --out is derived when omitted', () => {
    const program = createProgram({ out: () => undefined, err: () => undefined }, { exitOverride: true });
    const train = program.commands.find((c) => c.name() === 'train');
    assert.ok(train !== undefined);
    train.action(() => undefined);
    program.parse(['node', 'batchfree', 'train', '--norm', 'gn+pn', '--lr', '0.2', '--nesterov', '--synthetic-size', '12', '--quiet']);
    const { settings, resume, quiet } = settingsFrom(train);
    assert.deepEqual(settings, {
      norm: 'gn+pn', lr: 0.2, nesterov: true, synthetic: { ...DEFAULT_TRAIN_CONFIG.synthetic, size: 12 }, out: 'runs/mnist-resnet20-gn_pn-seed0',
    });
    assert.equal(resume, false);
    assert.equal(quiet, true);
  });

  test('durations', () => {
    assert.equal(formatDuration(1234), '1.2s');
    assert.equal(formatDuration(83_456), '1m23s');
    assert.equal(formatDuration(3_723_000), '1h02m03s');
  });
});
