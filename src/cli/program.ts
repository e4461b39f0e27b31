/**
 * The `batchfree` command: a commander program with one subcommand per file (`train.ts`, `sweep.ts`,
 * `diagnose.ts`; a new one adds a file exporting a {@link CommandFactory} and one entry in {@link COMMANDS}).
 * @module
 */
import '../kernels/relaxed_simd_node.js'; // fused multiply-adds in the SIMD kernels on Node 20
import { Command, CommanderError } from 'commander';
import { tf } from '../engine.js';
import { DivergenceError } from '../train/loop.js';
import { benchCommand } from './bench.js';
import { diagnoseCommand } from './diagnose.js';
import { sweepCommand } from './sweep.js';
import { trainCommand } from './train.js';
import { VERSION } from './version.js';

/** Where a command writes (replaceable in tests). */
export interface CliIO {
  /** Normal output (summaries, epoch lines). */
  out: (text: string) => void;
  /** Errors and warnings. */
  err: (text: string) => void;
}

/** Builds one subcommand. */
export type CommandFactory = (io: CliIO) => Command;

/** The subcommands of `batchfree`, in help order. */
export const COMMANDS: readonly CommandFactory[] = [trainCommand, sweepCommand, diagnoseCommand, benchCommand];

export { VERSION } from './version.js';

/**
 * The `batchfree` program. With `exitOverride`, commander throws a `CommanderError` instead of exiting (tests);
 * help and errors are written through `io`.
 */
export function createProgram(io: CliIO = defaultIO(), options: { exitOverride?: boolean } = {}): Command {
  const program = new Command('batchfree')
    .description('Batch-independent normalization (FRN+TLU, Proxy Normalization, normalizer-free nets) for TensorFlow.js: training and experiments.')
    .version(VERSION)
    .showHelpAfterError('(add --help for the options)')
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  for (const make of COMMANDS) {
    const cmd = make(io).showHelpAfterError('(add --help for the options)').configureOutput({ writeOut: io.out, writeErr: io.err });
    if (options.exitOverride === true) cmd.exitOverride();
    program.addCommand(cmd);
  }
  if (options.exitOverride === true) program.exitOverride();
  return program;
}

/** `process.stdout` / `process.stderr`. */
export function defaultIO(): CliIO {
  return { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
}

/**
 * Runs the command line `argv` (as `process.argv`: node, script, arguments...) and resolves to the exit code:
 * 0 success (and `--help`), 1 error, 2 bad option or usage (commander printed it), 3 training diverged.
 * Errors are printed through `io.err` as `batchfree: <message>`.
 */
export async function runCli(argv: readonly string[], io: CliIO = defaultIO()): Promise<number> {
  tf.env().set('PROD', true); // silences TF.js' console banners ("Hi, looks like you are running ... in Node.js")
  try {
    await createProgram(io, { exitOverride: true }).parseAsync(argv as string[]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    io.err(`batchfree: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof DivergenceError ? 3 : 1;
  }
}
