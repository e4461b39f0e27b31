import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { FilterResponseNormalization, TLU } from '../../src/layers/filter_response_norm.js';
import { affineTlu, filterResponseNorm, prelu, tlu } from '../../src/ops/filter_response_norm.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { assertRoundTrip, modelOf, perturbWeights, weight, weightValues } from './layer_helpers.js';

describe('FilterResponseNormalization layer', () => {
  before(useCpu);

  for (const shape of [[2, 4, 3, 5], [3, 6], [2, 1, 1, 4]]) {
    it(`forward equals filterResponseNorm with the layer's weights, input [${shape}]`, () => {
      const layer = new FilterResponseNormalization({ epsilon: 1e-3 });
      const x = tensor(randn(shape, 1, 2));
      layer.apply(x); // builds
      perturbWeights(layer, 10);
      const y = layer.apply(x) as tf.Tensor;
      const learned = shape.length === 2 || (shape[1] === 1 && shape[2] === 1);
      const want = filterResponseNorm(x, {
        gamma: weight(layer, 'gamma') as tf.Tensor1D, beta: weight(layer, 'beta') as tf.Tensor1D, eps: 1e-3,
        learnedEps: learned ? weight(layer, 'learned_epsilon') : undefined,
      });
      assert.deepEqual(y.shape, shape);
      assertClose(values(y), values(want), 1e-6, 'forward');
      // The perturbed weights matter: the default-initialised op gives something else.
      assert.ok(values(tf.sub(y, filterResponseNorm(x, { eps: 1e-3 }))).some((v) => Math.abs(v) > 1e-3));
      tf.dispose([x, y, want]);
    });
  }

  it("learnedEpsilon 'auto' learns it for dense inputs and 1x1 maps only; true/false force it", () => {
    const names = (inputShape: number[], learnedEpsilon?: boolean | 'auto') => {
      const l = new FilterResponseNormalization({ learnedEpsilon });
      modelOf(inputShape, [l]);
      return l.weights.map((w) => w.originalName.split('/').pop());
    };
    assert.deepEqual(names([4, 4, 3]), ['gamma', 'beta']);
    assert.deepEqual(names([1, 1, 3]), ['gamma', 'beta', 'learned_epsilon']);
    assert.deepEqual(names([7]), ['gamma', 'beta', 'learned_epsilon']);
    assert.deepEqual(names([4, 4, 3], true), ['gamma', 'beta', 'learned_epsilon']);
    assert.deepEqual(names([7], false), ['gamma', 'beta']);
    // Maps of unknown size are treated as conv maps.
    const l = new FilterResponseNormalization();
    l.apply(tfl.input({ shape: [null, null, 3] as unknown as number[] }));
    assert.equal(l.weights.length, 2);
    // Initial values of the paper: gamma 1, beta 0, eps_l 1e-4; all trainable.
    const d = new FilterResponseNormalization();
    modelOf([3], [d]);
    assert.deepEqual([...weightValues(d, 'gamma')], [1, 1, 1]);
    assert.deepEqual([...weightValues(d, 'beta')], [0, 0, 0]);
    assertClose(weightValues(d, 'learned_epsilon'), [1e-4], 1e-6, 'eps_l init');
    assert.ok(d.weights.every((w) => w.trainable));
  });

  it('trains its learned epsilon on a dense input (gradient reaches every weight)', () => {
    const layer = new FilterResponseNormalization();
    const x = tensor(randn([4, 3], 2, 0.01)); // |x| ~ eps_l: the learned epsilon matters
    layer.apply(x);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, tensor(randn([4, 3], 3)))) as tf.Scalar,
      layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
    assert.equal(Object.keys(grads).length, 3);
    for (const g of Object.values(grads)) assert.ok(values(g).some((v) => v !== 0) && values(g).every(Number.isFinite));
    tf.dispose([x, ...Object.values(grads)]);
  });

  it('is independent of the other samples of the batch', () => {
    const layer = new FilterResponseNormalization();
    const a = randn([3, 3, 3, 2], 4);
    const b = { data: a.data.map((v, i) => (i < a.data.length / 3 ? v : v * 5 + 1)), shape: a.shape };
    const [ya, yb] = [a, b].map((t) => values(layer.apply(tensor(t)) as tf.Tensor).slice(0, a.data.length / 3));
    assert.deepEqual(ya, yb);
  });

  it('round-trips through getConfig/fromConfig and model.save/loadLayersModel', async () => {
    const layer = new FilterResponseNormalization({ epsilon: 2e-5, learnedEpsilon: true, name: 'frn_cfg' });
    const config = layer.getConfig();
    assert.equal(config.epsilon, 2e-5);
    assert.equal(config.learnedEpsilon, true);
    const copy = tf.serialization.SerializationMap.getMap().classNameMap[FilterResponseNormalization.className];
    assert.ok(copy, 'registered under batchfree>FilterResponseNormalization');
    for (const [inputShape, seed] of [[[5, 4, 3], 1], [[6], 2]] as const) {
      const l = new FilterResponseNormalization();
      const model = modelOf([...inputShape], [l]);
      perturbWeights(l, 20 + seed);
      const x = tensor(randn([2, ...inputShape], seed));
      await assertRoundTrip(model, x, `frn ${inputShape}`);
    }
  });

  it('rejects bad options and inputs with errors naming the argument', () => {
    assert.throws(() => new FilterResponseNormalization({ epsilon: 0 }), /FilterResponseNormalization: argument 'epsilon'.*got 0/);
    assert.throws(() => new FilterResponseNormalization({ learnedEpsilon: 'yes' as never }), /argument 'learnedEpsilon'.*'yes'/);
    assert.throws(() => new FilterResponseNormalization().apply(tf.zeros([2, 3, 4])), /argument 'inputShape'.*rank 3.*rank 2 or 4/);
  });

  it('leaks no tensor in a call', () => {
    const layer = new FilterResponseNormalization();
    const x = tf.randomNormal([2, 3, 3, 4]);
    layer.apply(x);
    assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), 'call');
    assertNoLeak(() => (layer.apply(x, { training: true }) as tf.Tensor).dispose(), 'training call');
    x.dispose();
  });
});

describe('TLU layer', () => {
  before(useCpu);

  const ops = {
    tlu: (x: tf.Tensor, l: tfl.layers.Layer) => tlu(x, weight(l, 'tau')),
    prelu: (x: tf.Tensor, l: tfl.layers.Layer) => prelu(x, weight(l, 'k')),
    affine: (x: tf.Tensor, l: tfl.layers.Layer) => affineTlu(x, weight(l, 'k'), weight(l, 'tau')),
  };
  for (const variant of ['tlu', 'prelu', 'affine'] as const) {
    for (const shape of [[2, 3, 3, 4], [5, 4]]) {
      it(`variant '${variant}' forward equals its op with the layer's weights, input [${shape}]`, () => {
        const layer = new TLU({ variant });
        const x = tensor(randn(shape, 5));
        layer.apply(x);
        perturbWeights(layer, 30);
        const y = layer.apply(x) as tf.Tensor;
        assertClose(values(y), values(ops[variant](x, layer)), 1e-7, variant);
        assert.ok(values(tf.sub(y, tf.relu(x))).some((v) => Math.abs(v) > 1e-3), 'differs from relu');
      });
    }
  }

  it('initialises tau to 0 and the slope k to 0.25 (prelu) / 0 (affine) unless slopeInit says otherwise', () => {
    const init = (args: ConstructorParameters<typeof TLU>[0]) => {
      const l = new TLU(args);
      modelOf([3], [l]);
      return Object.fromEntries(l.weights.map((w) => [w.originalName.split('/').pop(), [...w.read().dataSync()]]));
    };
    assert.deepEqual(init({}), { tau: [0, 0, 0] });
    assert.deepEqual(init({ variant: 'prelu' }), { k: [0.25, 0.25, 0.25] });
    assert.deepEqual(init({ variant: 'affine' }), { tau: [0, 0, 0], k: [0, 0, 0] });
    assert.deepEqual(init({ variant: 'prelu', slopeInit: 0.5 }), { k: [0.5, 0.5, 0.5] });
  });

  it('round-trips through model.save/loadLayersModel for every variant', async () => {
    for (const [i, variant] of (['tlu', 'prelu', 'affine'] as const).entries()) {
      const l = new TLU({ variant, slopeInit: 0.1 });
      const model = modelOf([3, 3, 4], [l]);
      perturbWeights(l, 40 + i);
      await assertRoundTrip(model, tensor(randn([2, 3, 3, 4], i)), variant);
    }
  });

  it('rejects an unknown variant, naming the argument and the choices', () => {
    assert.throws(() => new TLU({ variant: 'relu' as never }), /TLU: argument 'variant'.*'relu'.*'tlu', 'prelu', 'affine'/);
    assert.throws(() => new TLU({ slopeInit: Number.NaN }), /argument 'slopeInit'/);
  });

  it('leaks no tensor in a call', () => {
    const layer = new TLU({ variant: 'affine' });
    const x = tf.randomNormal([2, 3, 3, 4]);
    layer.apply(x);
    assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), 'call');
    x.dispose();
  });
});
