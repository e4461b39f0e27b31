#!/usr/bin/env node
// The `batchfree` command. Runs the compiled CLI (`npm run build` → dist/), or else the TypeScript sources
// through tsx (a devDependency: a development checkout). package.json maps "bin": { "batchfree": "bin/batchfree.js" }.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
if (existsSync(fileURLToPath(compiled))) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
