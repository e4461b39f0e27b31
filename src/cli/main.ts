#!/usr/bin/env node
/**
 * Entry point of the `batchfree` command (`npx tsx src/cli/main.ts train ...`, or `node dist/src/cli/main.js`).
 * Exit codes: 0 success, 1 error, 2 bad option (commander), 3 training diverged.
 * @module
 */
import { CommanderError } from 'commander';
import { tf } from '../engine.js';
import { DivergenceError } from '../train/loop.js';
import { createProgram, defaultIO } from './program.js';

/** Runs the command line `argv` (as `process.argv`); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  tf.env().set('PROD', true); // silences TF.js' console banners ("Hi, looks like you are running ... in Node.js")
  const io = defaultIO();
  try {
    await createProgram(io, { exitOverride: true }).parseAsync(argv as string[]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed it
    io.err(`batchfree: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof DivergenceError ? 3 : 1;
  }
}

process.exitCode = await main(process.argv);
