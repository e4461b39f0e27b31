import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { GroupNormalization, GroupResponseNormalization, InstanceNormalization, LayerNormalizationHWC, LayerResponseNormalization } from '../../src/layers/group_norm.js';
import { groupNorm, groupResponseNorm, instanceNorm, layerNorm, layerResponseNorm } from '../../src/ops/group_norm.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { modelOf, perturbWeights, weight } from './layer_helpers.js';

/** The optional weights of a layer for an op call. */
function affineOf(layer: tfl.layers.Layer): { gamma?: tf.Tensor; beta?: tf.Tensor } {
  const has = (n: string) => layer.weights.some((w) => w.originalName.endsWith(`/${n}`));
  return { gamma: has('gamma') ? weight(layer, 'gamma') : undefined, beta: has('beta') ? weight(layer, 'beta') : undefined };
}

/** Builds `layer` on `x`, perturbs its weights, and checks its output against `op(x)` computed with them. */
function checkForward(layer: tfl.layers.Layer, x: tf.Tensor, op: (x: tf.Tensor) => tf.Tensor, seed: number): void {
  tf.dispose(layer.apply(x) as tf.Tensor);
  perturbWeights(layer, seed);
  const y = layer.apply(x) as tf.Tensor;
  const want = op(x);
  assert.deepEqual(y.shape, x.shape);
  assertClose(values(y), values(want), 1e-6, layer.name);
  tf.dispose([y, want]);
}

describe('GroupNormalization layer', () => {
  before(useCpu);

  for (const [shape, groups] of [[[2, 4, 3, 8], 4], [[3, 8], 2], [[1, 2, 2, 6], undefined]] as const) {
    it(`forward equals groupNorm with the layer's weights, input [${shape}], groups ${groups}`, () => {
      const layer = new GroupNormalization({ groups, epsilon: 1e-4 });
      checkForward(layer, tensor(randn([...shape], 1, 3, 1)), (x) => groupNorm(x, { ...affineOf(layer), groups, eps: 1e-4 }), 2);
    });
  }

  it('uses the largest divisor of C that is at most 32 when groups is omitted', () => {
    for (const [c, g] of [[64, 32], [48, 24], [16, 16], [6, 6]]) {
      const layer = new GroupNormalization();
      modelOf([2, 2, c], [layer]);
      assert.equal(layer.resolvedGroups, g, `C = ${c}`);
      assert.equal(layer.getConfig().groups, null, 'the option is saved as given');
    }
  });

  it('has no gamma/beta with center and scale off, and then equals the plain standardisation', () => {
    const layer = new GroupNormalization({ groups: 2, center: false, scale: false });
    const x = tensor(randn([2, 3, 3, 4], 3));
    const y = layer.apply(x) as tf.Tensor;
    assert.equal(layer.weights.length, 0);
    assertClose(values(y), values(groupNorm(x, { groups: 2 })), 1e-6, 'no affine');
  });

  it('rejects, at build time, a channel count that groups does not divide (naming groups)', () => {
    assert.throws(() => modelOf([4, 4, 8], [new GroupNormalization({ groups: 3 })]),
      /GroupNormalization: argument 'groups' is invalid: got 3, expected a divisor of the channel count 8 \(e\.g\. 1, 2, 4, 8\)/);
    assert.throws(() => new GroupNormalization({ groups: 0 }), /argument 'groups'.*got 0/);
    assert.throws(() => new GroupNormalization({ epsilon: -1 }), /GroupNormalization: argument 'epsilon'/);
    assert.throws(() => new GroupNormalization({ center: 1 as never }), /argument 'center'/);
    assert.throws(() => modelOf([4, 4], [new GroupNormalization()]), /argument 'inputShape'.*rank 3/);
  });

  it('is batch independent and gives the same output in training and inference calls', () => {
    const layer = new GroupNormalization({ groups: 2 });
    const a = randn([3, 3, 3, 4], 4);
    const b = { data: a.data.map((v, i) => (i < a.data.length / 3 ? v : -2 * v)), shape: a.shape };
    const first = (t: tf.Tensor) => values(t).slice(0, a.data.length / 3);
    assert.deepEqual(first(layer.apply(tensor(a)) as tf.Tensor), first(layer.apply(tensor(b)) as tf.Tensor));
    assert.deepEqual(values(layer.apply(tensor(a), { training: true }) as tf.Tensor), values(layer.apply(tensor(a)) as tf.Tensor));
  });

  it('leaks no tensor in a call', () => {
    const layer = new GroupNormalization({ groups: 2 });
    const x = tf.randomNormal([2, 3, 3, 4]);
    layer.apply(x);
    assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), 'call');
    x.dispose();
  });
});

describe('LayerNormalizationHWC and InstanceNormalization layers', () => {
  before(useCpu);

  for (const shape of [[2, 3, 4, 5], [3, 6]]) {
    it(`LayerNormalizationHWC equals layerNorm (over H, W, C) with the layer's weights, input [${shape}]`, () => {
      const layer = new LayerNormalizationHWC();
      checkForward(layer, tensor(randn(shape, 5, 2, -1)), (x) => layerNorm(x, affineOf(layer)), 6);
    });
  }

  it("differs from tf.layers.layerNormalization (last axis only) on a map", () => {
    const x = tensor(randn([2, 3, 3, 4], 7));
    const ours = values(new LayerNormalizationHWC().apply(x) as tf.Tensor);
    const theirs = values(tfl.layers.layerNormalization({ epsilon: 1e-5 }).apply(x) as tf.Tensor);
    assert.ok(ours.some((v, i) => Math.abs(v - theirs[i]) > 1e-2));
  });

  it("InstanceNormalization equals instanceNorm with the layer's weights", () => {
    const layer = new InstanceNormalization({ epsilon: 1e-3 });
    checkForward(layer, tensor(randn([2, 4, 3, 3], 8, 5)), (x) => instanceNorm(x, { ...affineOf(layer), eps: 1e-3 }), 9);
  });

  it('InstanceNormalization rejects dense inputs and 1x1 maps at build time', () => {
    assert.throws(() => modelOf([5], [new InstanceNormalization()]), /InstanceNormalization: argument 'inputShape'.*rank 2.*rank 4/);
    assert.throws(() => modelOf([1, 1, 5], [new InstanceNormalization()]), /InstanceNormalization: argument 'inputShape'.*H·W >= 2/);
  });
});

describe('GroupResponseNormalization and LayerResponseNormalization layers (GFRN / LFRN)', () => {
  before(useCpu);

  it("GFRN equals groupResponseNorm with the layer's weights", () => {
    const layer = new GroupResponseNormalization({ groups: 2 });
    checkForward(layer, tensor(randn([2, 3, 3, 6], 10, 3)), (x) => groupResponseNorm(x, { ...affineOf(layer), groups: 2 }), 11);
  });

  it("LFRN equals layerResponseNorm with the layer's weights, including a learned epsilon", () => {
    const layer = new LayerResponseNormalization({ learnedEpsilon: true, epsilon: 1e-5 });
    checkForward(layer, tensor(randn([3, 2, 2, 3], 12, 0.01)),
      (x) => layerResponseNorm(x, { ...affineOf(layer), eps: 1e-5, learnedEps: weight(layer, 'learned_epsilon') }), 13);
  });

  it("learns epsilon under 'auto' only where a group holds one value per sample", () => {
    const epsWeights = (layer: tfl.layers.Layer, shape: number[]) => {
      modelOf(shape, [layer]);
      return layer.weights.filter((w) => w.originalName.endsWith('learned_epsilon')).length;
    };
    assert.equal(epsWeights(new GroupResponseNormalization({ groups: 4 }), [4]), 1, 'dense, 1 channel per group');
    assert.equal(epsWeights(new GroupResponseNormalization({ groups: 2 }), [4]), 0, 'dense, 2 channels per group');
    assert.equal(epsWeights(new LayerResponseNormalization(), [1, 1, 1]), 1, '1x1 map, 1 channel');
    assert.equal(epsWeights(new LayerResponseNormalization(), [3, 3, 2]), 0, 'conv map');
    assert.equal(epsWeights(new LayerResponseNormalization({ learnedEpsilon: false }), [1, 1, 1]), 0, 'forced off');
  });

  it('rejects groups that do not divide C, naming groups', () => {
    assert.throws(() => modelOf([2, 2, 6], [new GroupResponseNormalization({ groups: 4 })]), /GroupResponseNormalization: argument 'groups'.*got 4/);
  });
});
