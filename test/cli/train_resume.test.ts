/**
 * `batchfree train` end to end: a run killed with SIGKILL mid-run and resumed ends with the same parameters, bit
 * for bit, as an uninterrupted run with the same seed (cpu backend); exit codes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { type CliIO, runCli } from '../../src/cli/program.js';
import { readCheckpointState } from '../../src/train/checkpoint.js';
import type { MetricsLine } from '../../src/train/metrics.js';
import type { RunState } from '../../src/train/run.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const root = mkdtempSync(join(tmpdir(), 'batchfree-resume-'));

/**
 * A tiny ResNet-8 with BatchNorm over groups of 2 (moving statistics in the checkpoint), augmentation, mixup and
 * label smoothing (random draws every step) on 8x8 synthetic images: 6 steps per epoch, 12 in all, a checkpoint
 * every 4 steps (4: mid-epoch 1, 8: mid-epoch 2) and at each epoch end.
 */
const RUN = ['train', '--dataset', 'synthetic', '--synthetic-train', '24', '--synthetic-test', '16', '--batch-size', '4', '--group-size', '2',
  '--model', 'resnet', '--depth', '8', '--widths', '4,8,8', '--norm', 'bn', '--epochs', '2', '--lr', '0.05', '--warmup-epochs', '0.5',
  '--augment', 'crop+flip', '--mixup', '0.4', '--label-smoothing', '0.1', '--seed', '7', '--backend', 'cpu', '--checkpoint-every', '4',
  '--log-every', '2', '--quiet'];
const TOTAL_STEPS = 12;

function cli(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join('src', 'cli', 'main.ts'), ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((res) => {
    child.on('close', (code, signal) => res({ code, signal, out, err }));
  });
  return { child, done };
}

async function checkpointStep(out: string): Promise<number> {
  try {
    return (await readCheckpointState<RunState>(out))?.step ?? -1;
  } catch {
    return -1; // between the renames of a save
  }
}

const lines = (out: string): MetricsLine[] => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsLine);
const timeless = (l: MetricsLine): Record<string, unknown> => {
  const { elapsedMs: _a, imagesPerSecond: _b, evalMs: _c, ...rest } = l;
  return rest;
};

describe('batchfree train (end to end)', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  test('killed with SIGKILL mid-run and resumed: the same final parameters as an uninterrupted run', async () => {
    const killedOut = join(root, 'killed');
    const straightOut = join(root, 'straight');
    // The uninterrupted run and the one to kill run side by side (two processes).
    const straight = cli([...RUN, '--out', straightOut]);
    const killed = cli([...RUN, '--out', killedOut]);
    // Kill once a mid-epoch checkpoint exists.
    const deadline = Date.now() + 60_000;
    let exited = false;
    void killed.done.then(() => { exited = true; });
    while (!exited && (await checkpointStep(killedOut)) < 4) {
      assert.ok(Date.now() < deadline, 'the run wrote no checkpoint within 60 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    killed.child.kill('SIGKILL');
    const k = await killed.done;
    assert.equal(k.signal, 'SIGKILL', `the run was killed (it exited with ${k.code}: ${k.err})`);
    const atKill = await readCheckpointState<RunState>(killedOut);
    assert.ok(atKill !== null && atKill.step >= 4 && atKill.step < TOTAL_STEPS, `killed before the end (checkpoint at step ${atKill?.step})`);
    const s = await straight.done;
    assert.equal(s.code, 0, s.err);

    const resumed = cli(['train', '--out', killedOut, '--resume', '--backend', 'cpu', '--quiet']);
    const r = await resumed.done;
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`2 epochs, ${TOTAL_STEPS} steps \\(resumed at step ${atKill.step}\\)`));

    const bin = (out: string, file: string): Buffer => readFileSync(join(out, 'checkpoint', file));
    assert.ok(bin(killedOut, 'weights.bin').equals(bin(straightOut, 'weights.bin')), 'final weights (and BN moving statistics) bit-identical');
    assert.ok(bin(killedOut, 'optimizer.bin').equals(bin(straightOut, 'optimizer.bin')), 'final momentum bit-identical');
    const pick = (out: string): Record<string, unknown>[] => lines(out).filter((l) => l.type === 'step' || l.type === 'epoch').map(timeless);
    assert.deepEqual(pick(killedOut), pick(straightOut), 'the same metrics, once each');
  });

  test('exit codes: 0 after --help, 2 for a bad option, 1 for an error, 3 when training diverges', async () => {
    let err = '';
    const io: CliIO = { out: () => undefined, err: (t) => { err += t; } };
    assert.equal(await runCli(['node', 'batchfree', 'train', '--help'], io), 0);
    assert.equal(await runCli(['node', 'batchfree', 'train', '--epochs', '0'], io), 2);
    assert.match(err, /option '--epochs <n>' argument '0' is invalid/);
    err = '';
    assert.equal(await runCli(['node', 'batchfree', 'train', '--model', 'nf-resnet', '--norm', 'bn', '--out', join(root, 'nf')], io), 1);
    assert.match(err, /^batchfree: option '--norm' is invalid: got 'bn', expected one of 'none' for model 'nf-resnet'/);
    err = '';
    const out = join(root, 'diverged');
    const code = await runCli(['node', 'batchfree', ...RUN, '--lr', '1e6', '--warmup-epochs', '0', '--out', out], io);
    assert.equal(code, 3, err);
    assert.match(err, /^batchfree: training diverged at step \d+: .*; (the last good checkpoint \(step \d+\) is kept in|no checkpoint had been written yet)/);
  });
});
