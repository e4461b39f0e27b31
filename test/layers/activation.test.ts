import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { ActivationLayer, ScaledActivation } from '../../src/layers/activation.js';
import { ACTIVATION_NAMES, activate } from '../../src/ops/activations.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { assertRoundTrip, modelOf } from './layer_helpers.js';

describe('ActivationLayer and ScaledActivation', () => {
  before(useCpu);

  for (const name of ACTIVATION_NAMES) {
    it(`'${name}': ActivationLayer = activate, ScaledActivation = gain * activate with the unit-variance gain`, () => {
      const x = tensor(randn([2, 3, 3, 2], 1, 2));
      const plain = values(activate(x, name));
      assertClose(values(new ActivationLayer({ activation: name }).apply(x) as tf.Tensor), plain, 1e-7, 'plain');
      const scaled = new ScaledActivation({ activation: name });
      assertClose(values(scaled.apply(x) as tf.Tensor), plain.map((v) => v * scaled.gain), 1e-6, 'scaled');
      assert.ok(scaled.gain > 0.99 && scaled.gain < 2, `gain ${scaled.gain}`); // selu is already ~1
    });
  }

  it('ScaledActivation of ReLU uses sqrt(2 / (1 - 1/pi))', () => {
    assertClose([new ScaledActivation().gain], [Math.sqrt(2 / (1 - 1 / Math.PI))], 1e-7, 'relu gain');
  });

  it('defaults to relu, round-trips through save/load, and rejects unknown names', async () => {
    assert.equal(new ActivationLayer().activation, 'relu');
    const x = tensor(randn([3, 4], 2));
    await assertRoundTrip(modelOf([4], [new ActivationLayer({ activation: 'gelu' }), new ScaledActivation({ activation: 'silu' })]), x, 'activations');
    assert.throws(() => new ActivationLayer({ activation: 'relu6' as never }), /Activation: argument 'activation'.*'relu6'.*'relu'/);
    assert.throws(() => new ScaledActivation({ activation: 'mish' as never }), /ScaledActivation: argument 'activation'/);
  });

  it('leaks no tensor in a call', () => {
    const x = tf.randomNormal([2, 3]);
    for (const layer of [new ActivationLayer({ activation: 'identity' }), new ScaledActivation({ activation: 'gelu' })]) {
      assertNoLeak(() => (layer.apply(x) as tf.Tensor).dispose(), layer.name);
    }
    x.dispose();
  });
});
