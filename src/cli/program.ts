/**
 * The `batchfree` command: a commander program with one subcommand per file (`train.ts`; later `bench`,
 * `sweep`, `diagnose` add a file exporting a {@link CommandFactory} and one entry in {@link COMMANDS}).
 * @module
 */
import { Command } from 'commander';
import { trainCommand } from './train.js';

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
export const COMMANDS: readonly CommandFactory[] = [trainCommand];

/** Version printed by `batchfree --version`. */
export const VERSION = '0.1.0';

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
