/**
 * Per-op speed of the normalizations at x = 64×32×32×64 float32, forward and forward+backward, composite vs
 * fused, on `wasm` and `cpu`, next to the memory floor and PyTorch's figures: `batchfree bench --only ops` on both
 * backends (the measuring code is in `src/bench/ops.ts`). Options of `batchfree bench` may follow and override
 * these (e.g. `--ops frn_tlu,gn32`, `--op-backends wasm`, `--iters 30`).
 *
 *   npx tsx bench/norm_ops.ts [batchfree bench options]
 *
 * Prints a table and writes `.bench/norm_ops.json`.
 */
import { runCli } from '../src/cli/program.js';

process.exitCode = await runCli(['node', 'batchfree', 'bench', '--only', 'ops', '--op-backends', 'wasm,cpu', '--out', '.bench/norm_ops.json',
  ...process.argv.slice(2)]);
