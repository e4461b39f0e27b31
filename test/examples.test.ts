import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

describe('examples', () => {
  it('the README quick start (examples/quickstart.ts) runs and saves a model', { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /FRN\+TLU 8,16,16,32, LN\+PN 8,16,16,32, GN\+PN layer output ,28,28,16; ResNetV2-20 with \d+ parameters saved/);
  });
});
