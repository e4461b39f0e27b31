#!/usr/bin/env node
/**
 * Entry point of the `batchfree` command (`npx tsx src/cli/main.ts train ...`, or `node dist/src/cli/main.js`).
 * Exit codes: 0 success, 1 error, 2 bad option, 3 training diverged (see `runCli`).
 * @module
 */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);
