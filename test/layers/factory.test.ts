import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { NORM_NAMES, NormName, applyLayers, createNormActivation } from '../../src/layers/factory.js';
import { ProxyNormActivation } from '../../src/layers/proxy_norm.js';
import { GroupNormalization } from '../../src/layers/group_norm.js';
import { BatchNormalization, BatchRenormalization } from '../../src/layers/batch_norm.js';
import { ActivationLayer } from '../../src/layers/activation.js';
import { assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { assertRoundTrip } from './layer_helpers.js';

/** The class names (without `batchfree>`) each name must build, in order (with activation 'swish': BN/GN/LN/IN fuse only a ReLU). */
const EXPECTED: Record<NormName, string[]> = {
  'bn': ['BatchNormalization', 'Activation'],
  'brn': ['BatchRenormalization', 'Activation'],
  'gn': ['GroupNormalization', 'Activation'],
  'ln': ['LayerNormalizationHWC', 'Activation'],
  'in': ['InstanceNormalization', 'Activation'],
  'frn': ['FilterResponseNormalization'], // with its own TLU
  'frn+relu': ['FilterResponseNormalization', 'Activation'],
  'gfrn': ['GroupResponseNormalization', 'TLU'],
  'lfrn': ['LayerResponseNormalization', 'TLU'],
  'gn+pn': ['GroupNormalization', 'ProxyNormActivation'],
  'ln+pn': ['LayerNormalizationHWC', 'ProxyNormActivation'],
  'in+pn': ['InstanceNormalization', 'ProxyNormActivation'],
  'evos0': ['EvoNormS0'],
  'none': ['Activation'],
};

describe('createNormActivation', () => {
  before(useCpu);

  it('lists every name it builds', () => {
    assert.deepEqual([...NORM_NAMES].sort(), Object.keys(EXPECTED).sort());
  });

  for (const name of NORM_NAMES) {
    it(`'${name}' builds ${EXPECTED[name].join(' → ')}, usable symbolically and eagerly`, () => {
      const layers = createNormActivation(name, { groups: 4, groupSize: 2, activation: 'swish', name: `blk_${name.replace('+', '_')}` });
      assert.deepEqual(layers.map((l) => l.getClassName().replace('batchfree>', '')), EXPECTED[name]);
      assert.ok(layers.every((l, i) => l.name.startsWith(`blk_${name.replace('+', '_')}_`) && (i === 0 || l.name !== layers[0].name)));
      const input = tfl.input({ shape: [4, 4, 8] });
      const out = applyLayers(layers, input);
      assert.deepEqual(out.shape, [null, 4, 4, 8]);
      const x = tensor(randn([4, 4, 4, 8], 1, 2));
      for (const training of [true, false]) {
        const y = tf.tidy(() => applyLayers(layers, x, { training }));
        assert.deepEqual(y.shape, x.shape);
        assert.ok(values(y).every(Number.isFinite), `finite (training ${training})`);
        y.dispose();
      }
    });
  }

  it('passes its options to the right layers', () => {
    const [gn, pn] = createNormActivation('gn+pn', { groups: 2, activation: 'gelu', scaleProxy: false, epsilon: 1e-3 }) as [GroupNormalization, ProxyNormActivation];
    assert.deepEqual([gn.groups, gn.epsilon, gn.center, gn.scale], [2, 1e-3, false, false]);
    assert.deepEqual([pn.activation, pn.scale], ['gelu', false]);
    // A ReLU after BN/GN/LN/IN is the norm layer's own (fused); another activation is a layer of its own.
    const fused = createNormActivation('bn', { groupSize: 8 }) as [BatchNormalization];
    assert.equal(fused.length, 1);
    assert.deepEqual([fused[0].groupSize, fused[0].epsilon, fused[0].activation], [8, 1e-3, 'relu']);
    for (const name of ['gn', 'ln', 'in'] as const) {
      const layers = createNormActivation(name);
      assert.deepEqual(layers.map((l) => l.getConfig().activation), ['relu'], name);
    }
    // FRN's TLU is its own (whatever the activation option says: TLU is FRN's activation).
    assert.deepEqual(createNormActivation('frn', { activation: 'gelu' }).map((l) => l.getConfig().activation), ['tlu']);
    const [bn, act] = createNormActivation('bn', { groupSize: 8, activation: 'gelu' }) as [BatchNormalization, ActivationLayer];
    assert.deepEqual([bn.groupSize, bn.activation, act.activation], [8, 'linear', 'gelu']);
    const [brn] = createNormActivation('brn', { warmupSteps: 50 }) as [BatchRenormalization];
    assert.equal(brn.warmupSteps, 50);
    const [plainGn] = createNormActivation('gn') as [GroupNormalization];
    assert.deepEqual([plainGn.groups, plainGn.center, plainGn.scale], [undefined, true, true]);
  });

  it('gn+pn differs from gn with the same activation (the proxy centring and scaling)', () => {
    const x = tensor(randn([2, 3, 3, 4], 2));
    const a = values(applyLayers(createNormActivation('gn', { groups: 2 }), x));
    const b = values(applyLayers(createNormActivation('gn+pn', { groups: 2 }), x));
    const mu = 0.398451, s = 1 / Math.sqrt(0.338035 + 0.03); // initial ReLU proxy moments (METHODS.md §3)
    a.forEach((v, i) => assert.ok(Math.abs((v - mu) * s - b[i]) < 1e-4, `element ${i}`));
  });

  it('rejects unknown names, listing the known ones, and bad options, naming them', () => {
    assert.throws(() => createNormActivation('batchnorm' as NormName),
      /createNormActivation: argument 'name' is invalid: got 'batchnorm', expected one of 'bn', 'brn', 'gn', 'ln', 'in', 'frn', 'frn\+relu', 'gfrn', 'lfrn', 'gn\+pn', 'ln\+pn', 'in\+pn', 'evos0', 'none'/);
    assert.throws(() => createNormActivation('gn', { activation: 'relu6' as never }), /argument 'activation'.*'relu6'/);
    assert.throws(() => createNormActivation('gn', { groups: 2.5 }), /argument 'groups'.*2\.5/);
    assert.throws(() => createNormActivation('bn', { epsilon: 0 }), /argument 'epsilon'/);
    assert.throws(() => createNormActivation('gn+pn', { scaleProxy: 1 as never }), /argument 'scaleProxy'/);
  });

  it('reports a channel count that groups does not divide when the layers are built, naming groups', () => {
    for (const name of ['gn', 'gn+pn', 'gfrn', 'evos0'] as const) {
      assert.throws(() => applyLayers(createNormActivation(name, { groups: 3 }), tfl.input({ shape: [4, 4, 8] })), /argument 'groups'.*got 3.*channel count 8/, name);
    }
  });

  it('a model built from every name saves and loads with identical predictions', async () => {
    const input = tfl.input({ shape: [4, 4, 8] });
    let y: tfl.SymbolicTensor = input;
    for (const name of NORM_NAMES) y = applyLayers(createNormActivation(name, { groups: 4 }), y);
    const model = tfl.model({ inputs: input, outputs: y });
    const x = tensor(randn([2, 4, 4, 8], 3));
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor); // moves BN/BRN statistics off their initial values
    await assertRoundTrip(model, x, 'every norm');
  });

  it('model.fit trains every name: one SGD step moves every trainable weight', async () => {
    for (const name of NORM_NAMES) {
      const input = tfl.input({ shape: [4, 4, 8] });
      const body = applyLayers(createNormActivation(name, { groups: 4, groupSize: 2 }), input);
      const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 1 }).apply(tfl.layers.flatten().apply(body)) as tfl.SymbolicTensor });
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
      const before = model.trainableWeights.map((w) => w.read().dataSync().slice());
      const history = await model.fit(tensor(randn([4, 4, 4, 8], 4, 2)), tensor(randn([4, 1], 5)), { epochs: 1, batchSize: 4, verbose: 0 });
      assert.ok(Number.isFinite(history.history.loss[0] as number), `${name}: loss`);
      model.trainableWeights.forEach((w, i) => {
        const after = w.read().dataSync();
        assert.ok(after.some((v, j) => v !== before[i][j]), `${name}: ${w.originalName} did not move`);
      });
    }
  });

  it('leaks no tensor when applied eagerly inside tf.tidy', () => {
    const layers = createNormActivation('frn');
    const x = tf.randomNormal([2, 3, 3, 4]);
    applyLayers(layers, tfl.input({ shape: [3, 3, 4] }));
    assertNoLeak(() => tf.tidy(() => applyLayers(layers, x)).dispose(), 'frn');
    x.dispose();
  });
});
