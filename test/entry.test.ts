import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';

/** Every module reachable from `entry` through relative static imports, with the bare specifiers each imports. */
function importGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const stack = [path.resolve(entry)];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const bare: string[] = [];
    // static imports and re-exports (type-only ones are erased and do not count)
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.')) stack.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else bare.push(spec);
    }
    seen.set(file, bare);
  }
  return seen;
}

describe('entry points', () => {
  it('the main entry imports no Node module, directly or through its modules (it must run in a browser)', () => {
    const graph = importGraph('src/index.ts');
    assert.ok(graph.size > 30, `walked ${graph.size} modules`);
    const nodeOnly = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    for (const [file, specs] of graph) {
      for (const s of specs) assert.ok(!nodeOnly.has(s) && !s.startsWith('node:'), `${path.relative('.', file)} imports '${s}'`);
    }
  });

  it('exports the namespaces, and gradients work with nothing but batchfree imported', async () => {
    const bf = await import('../src/index.js');
    for (const ns of ['ops', 'layers', 'models', 'optim', 'data', 'train', 'diagnostics', 'experiments'] as const) assert.equal(typeof bf[ns], 'object', ns);
    await bf.tf.setBackend('cpu');
    const g = bf.tf.grad((x: import('@tensorflow/tfjs-core').Tensor) => bf.tf.sum(bf.ops.filterResponseNorm(x)))(bf.tf.reshape(bf.tf.range(1, 13), [1, 2, 2, 3]));
    assert.equal(g.shape.join(','), '1,2,2,3');
    const node = await import('../src/node.js');
    assert.equal(typeof node.fileSystem, 'function');
    assert.equal(typeof node.runTraining, 'function');
    assert.equal(node.ops, bf.ops, 'the Node entry re-exports the main entry');
  });
});
