/**
 * Training-step speed of the PEERS.md reference network at batch 64 (BN+ReLU, FRN+TLU) on the stock `cpu`
 * backend, `cpu` with batchfree's kernels, the stock `wasm` backend (fails: no `Conv2DBackpropFilter`) and `wasm`
 * with batchfree's kernels: `batchfree bench --only train` with those engines (the measuring code is in
 * `src/bench/`). Options of `batchfree bench` may follow and override these (e.g. `--profile`, `--stock-steps 2`).
 *
 *   npx tsx bench/train_step.ts [batchfree bench options]
 *
 * Prints a table and writes `.bench/train_step.json`.
 */
import { runCli } from '../src/cli/program.js';

process.exitCode = await runCli(['node', 'batchfree', 'bench', '--only', 'train', '--models', 'reference', '--norms', 'bn,frn',
  '--engines', 'cpu-stock,cpu,wasm-stock,wasm', '--out', '.bench/train_step.json', ...process.argv.slice(2)]);
