/**
 * Data-parallel training throughput of the PEERS.md reference network at batch 64 (FRN+TLU, BN+ReLU, GN+ReLU):
 * in-process on the main thread (`wasm`) against `createParallelTrainer` with 1 and 2 workers, measured in
 * interleaved rounds (medians; the slowest worker's compute, barrier waits, thread CPU and runnable-wait times):
 * `batchfree bench --only train` with those engines (the measuring code is in `src/bench/train.ts`). Options of
 * `batchfree bench` may follow and override these (e.g. `--norms frn --rounds 8`).
 *
 *   npx tsx bench/parallel.ts [batchfree bench options]
 *
 * Prints a table and writes `.bench/parallel.json`.
 */
import { runCli } from '../src/cli/program.js';

process.exitCode = await runCli(['node', 'batchfree', 'bench', '--only', 'train', '--models', 'reference', '--norms', 'frn,bn,gn',
  '--engines', 'wasm,w1,w2', '--steps', '30', '--rounds', '5', '--out', '.bench/parallel.json', ...process.argv.slice(2)]);
