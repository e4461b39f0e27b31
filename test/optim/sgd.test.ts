import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { SGD, SGDOptions } from '../../src/optim/sgd.js';
import { decayAll, decayedNames, decayExcept, decayKernelsOnly, decayNoGainsOrBiases } from '../../src/optim/weight_decay.js';
import { namedVariables, NamedVariable } from '../../src/optim/params.js';
import { init } from '../../src/init.js';
import { trainableParams } from '../../src/train/loop.js';
import { tfl } from '../../src/engine.js';
import { assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';

/** float64 copy of float32-rounded values (what the optimizer actually starts from). */
const f32 = (a: Float64Array): Float64Array => Float64Array.from(Float32Array.from(a));

interface RefParam { name: string; shape: number[]; w: Float64Array; decayed: boolean }

/**
 * Independent float64 SGD: per parameter, per step, `g += wd*w` (l2), `v = mu*v + g`,
 * `d = nesterov ? g + mu*v : v`, `w -= lr*d`, then `w -= lr*wd*w_old` (decoupled).
 */
function sgdReference(params: RefParam[], gradSteps: Float64Array[][], lrs: number[], o: Required<Pick<SGDOptions, 'momentum' | 'nesterov' | 'weightDecay' | 'weightDecayMode'>>): Float64Array[] {
  const w = params.map((p) => p.w.slice());
  const v = params.map((p) => new Float64Array(p.w.length));
  gradSteps.forEach((grads, s) => {
    const lr = lrs[s];
    params.forEach((p, k) => {
      for (let i = 0; i < w[k].length; i++) {
        const wOld = w[k][i];
        let g = grads[k][i];
        if (p.decayed && o.weightDecayMode === 'l2') g += o.weightDecay * wOld;
        let d = g;
        if (o.momentum > 0) {
          v[k][i] = o.momentum * v[k][i] + g;
          d = o.nesterov ? g + o.momentum * v[k][i] : v[k][i];
        }
        w[k][i] = wOld - lr * d;
        if (p.decayed && o.weightDecayMode === 'decoupled') w[k][i] -= lr * o.weightDecay * wOld;
      }
    });
  });
  return w;
}

function makeParams(specs: Array<{ name: string; shape: number[] }>, seed: number, scale: number): { list: NamedVariable[]; init: Float64Array[] } {
  const init = specs.map((s, k) => f32(randn(s.shape, seed + k, scale).data));
  const list = specs.map((s, k) => ({ name: s.name, variable: tf.variable(tf.tensor(Float32Array.from(init[k]), s.shape), true) }));
  return { list, init };
}

const SPECS = [
  { name: 'conv2d_1/kernel', shape: [2, 2, 3, 4] },
  { name: 'conv2d_1/bias', shape: [4] },
  { name: 'frn_1/gamma', shape: [4] },
  { name: 'frn_1/eps', shape: [] },
  { name: 'dense_1/kernel', shape: [4, 3] },
];

describe('SGD', () => {
  before(useCpu);

  it('follows the hand-computed momentum and Nesterov recurrences on a scalar', () => {
    // w0 = 1, g = 1 at every step, lr 0.1, mu 0.9.
    // momentum: v = 1, 1.9, 2.71  -> w = 0.9, 0.71, 0.439
    // Nesterov: d = 1.9, 2.71, 3.439 -> w = 0.81, 0.539, 0.1951
    // plain:    w = 0.9, 0.8, 0.7
    const cases: Array<[SGDOptions, number[]]> = [
      [{ momentum: 0.9 }, [0.9, 0.71, 0.439]],
      [{ momentum: 0.9, nesterov: true }, [0.81, 0.539, 0.1951]],
      [{ momentum: 0 }, [0.9, 0.8, 0.7]],
    ];
    for (const [options, expected] of cases) {
      const w = tf.variable(tf.scalar(1));
      const g = tf.scalar(1);
      const opt = new SGD(options);
      const got = expected.map(() => {
        opt.applyGradients({ w: g }, [{ name: 'w', variable: w }], 0.1);
        return w.dataSync()[0];
      });
      assertClose(got, expected, 1e-6, JSON.stringify(options));
      opt.dispose();
      tf.dispose([w, g]);
    }
  });

  const configs: Array<{ label: string; options: Required<Pick<SGDOptions, 'momentum' | 'nesterov' | 'weightDecay' | 'weightDecayMode'>> & { decayFilter?: SGDOptions['decayFilter'] }; scale: number; gradScale: number }> = [
    { label: 'plain SGD', options: { momentum: 0, nesterov: false, weightDecay: 0, weightDecayMode: 'l2' }, scale: 1, gradScale: 1 },
    { label: 'momentum 0.9', options: { momentum: 0.9, nesterov: false, weightDecay: 0, weightDecayMode: 'l2' }, scale: 1, gradScale: 1 },
    { label: 'Nesterov 0.9', options: { momentum: 0.9, nesterov: true, weightDecay: 0, weightDecayMode: 'l2' }, scale: 1, gradScale: 1 },
    { label: 'momentum + L2 decay, all', options: { momentum: 0.9, nesterov: false, weightDecay: 0.05, weightDecayMode: 'l2' }, scale: 1, gradScale: 0.1 },
    { label: 'Nesterov + L2 decay, kernels only', options: { momentum: 0.8, nesterov: true, weightDecay: 0.05, weightDecayMode: 'l2', decayFilter: 'kernels-only' }, scale: 1, gradScale: 0.1 },
    { label: 'momentum + decoupled decay, no gains/biases', options: { momentum: 0.9, nesterov: false, weightDecay: 0.1, weightDecayMode: 'decoupled', decayFilter: 'no-gains-biases' }, scale: 1, gradScale: 0.1 },
    { label: 'large weights 1e3, small gradients', options: { momentum: 0.9, nesterov: true, weightDecay: 1e-4, weightDecayMode: 'l2' }, scale: 1e3, gradScale: 1e-2 },
    { label: 'tiny weights and gradients 1e-4', options: { momentum: 0.5, nesterov: false, weightDecay: 1e-3, weightDecayMode: 'decoupled' }, scale: 1e-4, gradScale: 1e-4 },
  ];

  for (const [c, cfg] of configs.entries()) {
    it(`matches the float64 recurrence over 5 steps with a changing rate: ${cfg.label}`, () => {
      const { list, init } = makeParams(SPECS, 100 + 10 * c, cfg.scale);
      const lrs = [0.1, 0.05, 0.2, 0.0, 0.1];
      const gradSteps = lrs.map((_, s) => SPECS.map((spec, k) => f32(randn(spec.shape, 1000 + 100 * s + k + 7 * c, cfg.gradScale).data)));
      const opt = new SGD(cfg.options);
      const filter = { 'kernels-only': decayKernelsOnly, 'no-gains-biases': decayNoGainsOrBiases, all: decayAll }[(cfg.options.decayFilter ?? 'all') as string]!;
      const ref = sgdReference(SPECS.map((s, k) => ({ ...s, w: init[k], decayed: cfg.options.weightDecay > 0 && filter(s.name, list[k].variable) })), gradSteps, lrs, cfg.options);
      for (const [s, grads] of gradSteps.entries()) {
        const map: tf.NamedTensorMap = {};
        SPECS.forEach((spec, k) => { map[spec.name] = tf.tensor(Float32Array.from(grads[k]), spec.shape); });
        opt.applyGradients(map, list, lrs[s]);
        tf.dispose(map);
      }
      list.forEach((p, k) => assertClose(values(p.variable), ref[k], 1e-5, `${cfg.label}: ${p.name}`));
      // the updates did something (so the comparison is not vacuous)
      assert.ok(list.some((p, k) => values(p.variable).some((x, i) => x !== init[k][i])));
      opt.dispose();
      tf.dispose(list.map((p) => p.variable));
    });
  }

  it('accepts a Map of parameters and the gradients of tf.variableGrads (keyed by variable name)', () => {
    const a = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, 'sgd_test_map/kernel');
    const b = tf.variable(tf.tensor1d([0.5, -0.5]), true, 'sgd_test_map/bias');
    const x = tf.tensor2d([[1, -1]]);
    // loss = sum(x a + b)^2 / 2 -> dL/da = x^T (xa+b), dL/db = xa+b
    const { value, grads } = tf.variableGrads(() => tf.div(tf.sum(tf.square(tf.add(tf.matMul(x, a), b))), 2), [a, b]);
    // x a + b = [1-3+0.5, 2-4-0.5] = [-1.5, -2.5]
    const expectA = [1 - 0.1 * -1.5, 2 - 0.1 * -2.5, 3 - 0.1 * 1.5, 4 - 0.1 * 2.5];
    const expectB = [0.5 - 0.1 * -1.5, -0.5 - 0.1 * -2.5];
    const opt = new SGD({ momentum: 0 });
    opt.applyGradients(grads, new Map(namedVariables([a, b]).map((e) => [e.name, e.variable])), 0.1);
    assertClose(values(a), expectA, 1e-6, 'kernel');
    assertClose(values(b), expectB, 1e-6, 'bias');
    tf.dispose([a, b, x, value, grads]);
  });

  it('leaves parameters without a gradient and their momentum alone', () => {
    const { list, init } = makeParams(SPECS.slice(0, 2), 5, 1);
    const opt = new SGD({ momentum: 0.9 });
    const g = tf.onesLike(list[0].variable);
    opt.applyGradients({ [list[0].name]: g }, list, 0.1);
    assert.deepEqual(values(list[1].variable), init[1]);
    assert.deepEqual(opt.getState().map((e) => { e.tensor.dispose(); return e.name; }), ['conv2d_1/kernel/momentum']);
    opt.dispose();
    tf.dispose([g, ...list.map((p) => p.variable)]);
  });

  it('leaks no tensor: after the first step only the momentum buffers remain, dispose() frees them', () => {
    const { list } = makeParams(SPECS, 9, 1);
    const grads: tf.NamedTensorMap = Object.fromEntries(list.map((p) => [p.name, tf.randomNormal(p.variable.shape)]));
    const base = tf.memory().numTensors;
    for (const options of [{ momentum: 0.9, nesterov: true, weightDecay: 1e-2 }, { momentum: 0, weightDecay: 1e-2, weightDecayMode: 'decoupled' as const }]) {
      const opt = new SGD(options);
      opt.applyGradients(grads, list, 0.1);
      assert.equal(tf.memory().numTensors - base, options.momentum > 0 ? list.length : 0, 'buffers after the first step');
      assertNoLeak(() => { for (let s = 0; s < 3; s++) opt.applyGradients(grads, list, 0.05); }, 'later steps');
      assertNoLeak(() => tf.dispose(opt.getState().map((e) => e.tensor)), 'getState');
      opt.dispose();
      assert.equal(tf.memory().numTensors, base, 'after dispose');
    }
    tf.dispose([grads, ...list.map((p) => p.variable)]);
  });

  it('rejects bad options, naming the argument', () => {
    const bad: Array<[SGDOptions | Record<string, unknown>, RegExp]> = [
      [{ momentum: 1 }, /'momentum'.*got 1.*\[0, 1\)/],
      [{ momentum: -0.1 }, /'momentum'/],
      [{ momentum: Number.NaN }, /'momentum'/],
      [{ momentum: 0, nesterov: true }, /'momentum'.*nesterov/],
      [{ weightDecay: -1e-4 }, /'weightDecay'/],
      [{ weightDecayMode: 'adamw' as never }, /'weightDecayMode'.*'adamw'.*'l2', 'decoupled'/],
      [{ decayFilter: 'kernels' as never }, /'decayFilter'.*'kernels'.*'kernels-only'/],
      [{ nesterov: 'yes' as never }, /'nesterov'/],
      [{ momentun: 0.9 }, /'options'.*'momentun'/],
    ];
    for (const [options, re] of bad) assert.throws(() => new SGD(options as SGDOptions), re, JSON.stringify(options));
  });

  it('rejects bad steps: negative or non-finite rate, unknown gradient names, wrong shapes, duplicate names', () => {
    const { list } = makeParams(SPECS.slice(0, 2), 3, 1);
    const opt = new SGD();
    const g0 = tf.zerosLike(list[0].variable);
    const before = list.map((p) => values(p.variable));
    assert.throws(() => opt.applyGradients({ [list[0].name]: g0 }, list, -0.1), /SGD.applyGradients: argument 'lr'.*-0.1/);
    assert.throws(() => opt.applyGradients({ [list[0].name]: g0 }, list, Number.POSITIVE_INFINITY), /'lr'/);
    assert.throws(() => opt.applyGradients({ [list[0].name]: g0, 'conv2d_9/kernel': g0 }, list, 0.1), /'grads'.*'conv2d_9\/kernel'.*'conv2d_1\/kernel'/);
    assert.throws(() => opt.applyGradients({ [list[1].name]: g0 }, list, 0.1), /grads\['conv2d_1\/bias'\].*\[2,2,3,4\].*\[4\]/);
    assert.throws(() => opt.applyGradients({}, [list[0], { ...list[1], name: list[0].name }], 0.1), /'params'.*twice/);
    assert.throws(() => opt.applyGradients({}, [{ name: 'x', variable: tf.zeros([1]) as tf.Variable }], 0.1), /params\['x'\].*tf.Variable/);
    list.forEach((p, k) => assert.deepEqual(values(p.variable), before[k], 'no update after an error'));
    opt.dispose();
    tf.dispose([g0, ...list.map((p) => p.variable)]);
  });
});

describe('SGD state (checkpoints)', () => {
  before(useCpu);

  function gradsAt(step: number): tf.NamedTensorMap {
    return Object.fromEntries(SPECS.map((s, k) => [s.name, tf.tensor(Float32Array.from(randn(s.shape, 500 + 10 * step + k).data), s.shape)]));
  }

  function run(opt: SGD, list: NamedVariable[], from: number, to: number): void {
    for (let s = from; s < to; s++) {
      const g = gradsAt(s);
      opt.applyGradients(g, list, 0.1 / (1 + s));
      tf.dispose(g);
    }
  }

  function copyParams(list: NamedVariable[]): NamedVariable[] {
    return list.map((p) => ({ name: p.name, variable: tf.variable(p.variable.clone(), true) }));
  }

  for (const options of [{ momentum: 0.9 }, { momentum: 0.9, nesterov: true, weightDecay: 1e-3 }]) {
    it(`save/restore gives bit-identical later updates (${JSON.stringify(options)})`, () => {
      const { list: a } = makeParams(SPECS, 42, 1);
      const optA = new SGD(options);
      run(optA, a, 0, 3);

      // checkpoint: state as plain arrays, then rebuilt, as a file round trip would do
      const saved = optA.getState();
      assert.deepEqual(saved.map((e) => e.name).sort(), SPECS.map((s) => `${s.name}/momentum`).sort());
      const file = saved.map((e) => ({ name: e.name, shape: e.tensor.shape, data: Array.from(e.tensor.dataSync()) }));
      tf.dispose(saved.map((e) => e.tensor)); // the copies are the caller's: disposing them must not hurt optA
      const restored = file.map((e) => ({ name: e.name, tensor: tf.tensor(e.data, e.shape) }));

      const b = copyParams(a);
      const c = copyParams(a);
      const optB = new SGD(options);
      optB.setState(restored);
      tf.dispose(restored.map((e) => e.tensor));
      const optC = new SGD(options); // no restore: starts from zero momentum

      run(optA, a, 3, 6);
      run(optB, b, 3, 6);
      run(optC, c, 3, 6);
      a.forEach((p, k) => assert.deepEqual(values(b[k].variable), values(p.variable), `restored ${p.name}`));
      assert.ok(a.some((p, k) => values(c[k].variable).some((x, i) => x !== values(p.variable)[i])), 'without the state the updates differ');

      [optA, optB, optC].forEach((o) => o.dispose());
      tf.dispose([...a, ...b, ...c].map((p) => p.variable));
    });
  }

  it('setState replaces the whole state and checks it', () => {
    const { list } = makeParams(SPECS.slice(0, 2), 8, 1);
    const opt = new SGD({ momentum: 0.9 });
    const g = { [list[0].name]: tf.onesLike(list[0].variable), [list[1].name]: tf.onesLike(list[1].variable) };
    opt.applyGradients(g, list, 0.1);
    opt.setState([{ name: 'conv2d_1/bias/momentum', tensor: tf.tensor1d([1, 2, 3, 4]) }]);
    const state = opt.getState();
    assert.deepEqual(state.map((e) => e.name), ['conv2d_1/bias/momentum']);
    assert.deepEqual(Array.from(state[0].tensor.dataSync()), [1, 2, 3, 4]);
    tf.dispose(state.map((e) => e.tensor));

    const t = tf.zeros([4]);
    assert.throws(() => opt.setState([{ name: 'conv2d_1/bias', tensor: t }]), /SGD.setState: argument 'state'.*'conv2d_1\/bias'.*\/momentum/);
    assert.throws(() => opt.setState([{ name: 'a/momentum', tensor: t }, { name: 'a/momentum', tensor: t }]), /'state'.*twice/);
    assert.throws(() => opt.setState([{ name: 'a/momentum', tensor: [1, 2] as never }]), /state\['a\/momentum'\].tensor/);
    assert.throws(() => new SGD({ momentum: 0 }).setState([{ name: 'a/momentum', tensor: t }]), /'state'.*momentum 0/);
    // a buffer of the wrong shape is reported at the next step, which knows the parameters
    opt.setState([{ name: 'conv2d_1/bias/momentum', tensor: tf.zeros([5]) }]);
    assert.throws(() => opt.applyGradients(g, list, 0.1), /params\['conv2d_1\/bias'\].*\[4\].*momentum buffer \[5\]/);
    opt.dispose();
    tf.dispose([t, g, ...list.map((p) => p.variable)]);
  });
});

describe('weight decay filters', () => {
  before(useCpu);

  const names = ['conv2d_1/kernel', 'conv2d_1/bias', 'frn_1/gamma', 'frn_1/beta', 'frn_1/tau', 'pn_1/gammaTilde', 'ws_conv_1/gain',
    'nf_block_1/skipGain', 'nf_block_2/skip_gain', 'dense_1/kernel', 'dense_1/b'];
  const shapes: Record<string, number[]> = { 'conv2d_1/kernel': [3, 3, 2, 4], 'dense_1/kernel': [4, 3], 'nf_block_1/skipGain': [], 'nf_block_2/skip_gain': [] };

  function params(): NamedVariable[] {
    return names.map((name) => ({ name, variable: tf.variable(tf.fill(shapes[name] ?? [4], 2)) }));
  }

  const cases: Array<[string, SGDOptions['decayFilter'], string[]]> = [
    ['all', 'all', names],
    ['kernels-only', 'kernels-only', ['conv2d_1/kernel', 'dense_1/kernel']],
    ['no-gains-biases', 'no-gains-biases', ['conv2d_1/kernel', 'frn_1/tau', 'pn_1/gammaTilde', 'dense_1/kernel']],
    ['decayExcept(RegExp)', decayExcept(/\/(bias|beta|gamma|tau)$/), ['conv2d_1/kernel', 'pn_1/gammaTilde', 'ws_conv_1/gain', 'nf_block_1/skipGain', 'nf_block_2/skip_gain', 'dense_1/kernel', 'dense_1/b']],
    ['decayExcept(prefixes)', decayExcept(['frn_1', 'dense_1']), ['conv2d_1/kernel', 'conv2d_1/bias', 'pn_1/gammaTilde', 'ws_conv_1/gain', 'nf_block_1/skipGain', 'nf_block_2/skip_gain']],
    ['predicate', (name, v) => v.rank === 1 && name.startsWith('frn'), ['frn_1/gamma', 'frn_1/beta', 'frn_1/tau']],
  ];

  for (const [label, filter, decayed] of cases) {
    it(`decays exactly the selected parameters: ${label}`, () => {
      for (const mode of ['l2', 'decoupled'] as const) {
        const list = params();
        assert.deepEqual(decayedNames(filter!, list), decayed);
        const opt = new SGD({ momentum: 0, weightDecay: 0.1, weightDecayMode: mode, decayFilter: filter });
        const zeros = Object.fromEntries(list.map((p) => [p.name, tf.zerosLike(p.variable)]));
        opt.applyGradients(zeros, list, 0.5);
        for (const p of list) {
          const want = decayed.includes(p.name) ? 2 * (1 - 0.5 * 0.1) : 2;
          assertClose(values(p.variable), new Float64Array(p.variable.size).fill(want), 1e-7, `${label} ${mode} ${p.name}`);
        }
        tf.dispose([zeros, ...list.map((p) => p.variable)]);
      }
    });
  }

  it('L2 decay goes through the momentum buffer, decoupled decay does not', () => {
    // zero gradients, w0 = 1, lr 0.1, wd 0.1, mu 0.5:
    // l2:        v1 = 0.1, w1 = 0.99;  v2 = 0.05 + 0.099 = 0.149, w2 = 0.99 - 0.0149 = 0.9751
    // decoupled: w1 = 0.99, w2 = 0.9801 (v stays 0)
    for (const [mode, expected] of [['l2', [0.99, 0.9751]], ['decoupled', [0.99, 0.9801]]] as const) {
      const w = tf.variable(tf.tensor2d([[1]]));
      const g = tf.zeros([1, 1]);
      const opt = new SGD({ momentum: 0.5, weightDecay: 0.1, weightDecayMode: mode });
      const got = expected.map(() => { opt.applyGradients({ w: g }, [{ name: 'w', variable: w }], 0.1); return w.dataSync()[0]; });
      assertClose(got, expected, 1e-6, mode);
      opt.dispose();
      tf.dispose([w, g]);
    }
  });

  it('decayExcept rejects a bad matcher', () => {
    assert.throws(() => decayExcept(42 as never), /decayExcept: argument 'excluded'/);
    assert.throws(() => decayExcept(['ok', 3] as never), /'excluded'.*number/);
    assert.throws(() => decayedNames('none' as never, []), /'decayFilter'.*'none'/);
  });
});

describe('SGD directly on the wasm heap', () => {
  before(async () => {
    await init({ backend: 'wasm' });
  });
  after(useCpu);

  const settings: SGDOptions[] = [
    { momentum: 0 },
    { momentum: 0.9 },
    { momentum: 0.9, nesterov: true, weightDecay: 3e-3 },
    { momentum: 0.8, weightDecay: 1e-2, weightDecayMode: 'decoupled', decayFilter: 'kernels-only' },
  ];

  it('computes the update without tensor ops, bit-identical to the tensor ops (the cpu backend runs those)', async () => {
    for (const options of settings) {
      const label = JSON.stringify(options);
      const shapes: Array<[string, number[]]> = [['dense/kernel', [7, 5]], ['dense/bias', [5]]];
      const run = async (backend: string): Promise<{ weights: Float32Array[]; state: Float32Array[]; kernels: string[]; newBuffers: boolean }> => {
        await tf.setBackend(backend);
        const tensors0 = tf.memory().numTensors;
        const params: NamedVariable[] = shapes.map(([name, shape], k) => {
          const initial = tensor(randn(shape, 10 + k));
          const variable = tf.variable(initial, true, `${name}-${Math.random()}`);
          initial.dispose();
          return { name, variable };
        });
        const ids = params.map((p) => p.variable.dataId);
        const opt = new SGD(options);
        const kernels: string[] = [];
        for (let step = 0; step < 4; step++) {
          const grads = shapes.map(([, shape], k) => tensor(randn(shape, 100 * step + k, 0.5)));
          const named = Object.fromEntries(params.map((p, k) => [p.name, grads[k]]));
          const info = await tf.profile(() => opt.applyGradients(named, params, 0.05 * (step + 1)));
          kernels.push(...info.kernels.map((k) => k.name));
          tf.dispose(grads);
        }
        const weights = params.map((p) => p.variable.dataSync().slice() as Float32Array);
        const entries = opt.getState();
        const state = entries.map((e) => e.tensor.dataSync().slice() as Float32Array);
        tf.dispose(entries.map((e) => e.tensor));
        const newBuffers = params.every((p, k) => p.variable.dataId !== ids[k]);
        params.forEach((p) => p.variable.dispose());
        opt.dispose();
        assert.equal(tf.memory().numTensors, tensors0, `${label} ${backend}: no tensor left behind`);
        return { weights, state, kernels, newBuffers };
      };
      const direct = await run('wasm'), ops = await run('cpu');
      assert.deepEqual(direct.kernels.filter((k) => ['Multiply', 'Sub', 'Add', 'AddV2'].includes(k)), [], `${label}: no arithmetic kernels on wasm`);
      assert.ok(ops.kernels.includes('Multiply'), `${label}: the cpu backend ran the tensor ops`);
      assert.ok(direct.newBuffers, `${label}: each parameter was assigned a new tensor, not written in place`);
      const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
      direct.weights.forEach((w, k) => assert.deepEqual(bits(w), bits(ops.weights[k]), `${label} weights ${k}`));
      assert.equal(direct.state.length, options.momentum === 0 ? 0 : 2);
      direct.state.forEach((v, k) => assert.deepEqual(bits(v), bits(ops.state[k]), `${label} momentum ${k}`));
    }
    await tf.setBackend('wasm');
  });

  it('a dense layer computes with the updated weights (XNNPACK caches packed weights per tensor)', async () => {
    await tf.setBackend('wasm');
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 5, inputShape: [7], useBias: true })] });
    const x = tensor(randn([3, 7], 31));
    const before = model.predict(x) as tf.Tensor; // builds and caches the layer's XNNPACK operator
    const params = trainableParams(model);
    const grads = Object.fromEntries(params.map((p, k) => [p.name, tensor(randn(p.variable.shape, 40 + k))]));
    new SGD({ momentum: 0 }).applyGradients(grads, params, 0.5);
    const after = model.predict(x) as tf.Tensor;
    // The same layer rebuilt from the updated weights' values.
    const fresh = tfl.sequential({ layers: [tfl.layers.dense({ units: 5, inputShape: [7], useBias: true })] });
    const values = model.getWeights().map((w) => tf.tensor(w.dataSync().slice(), w.shape));
    fresh.setWeights(values);
    const expected = fresh.predict(x) as tf.Tensor;
    assertClose(after.dataSync(), expected.dataSync(), 1e-6, 'predictions after the update');
    const change = tf.tidy(() => tf.max(tf.abs(tf.sub(after, before))).dataSync()[0]);
    assert.ok(change > 1e-3, 'the update changed the predictions');
    tf.dispose([x, before, after, expected, ...values, ...Object.values(grads)]);
    model.dispose();
    fresh.dispose();
  });

  it('applyGradientValues: the update of applyGradients from float32 values (in place on wasm, through tensors on cpu); bad arrays named', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const tensors0 = tf.memory().numTensors;
      const make = (): NamedVariable[] => [['conv/kernel', [3, 4]], ['conv/bias', [4]]].map(([name, shape], k) => {
        const initial = tensor(randn(shape as number[], 20 + k));
        const variable = tf.variable(initial, true, `${name as string}-${Math.random()}`);
        initial.dispose();
        return { name: name as string, variable };
      });
      const a = make(), b = make();
      const optA = new SGD({ momentum: 0.9, weightDecay: 1e-2 }), optB = new SGD({ momentum: 0.9, weightDecay: 1e-2 });
      for (let step = 0; step < 3; step++) {
        const values = a.map((p, k) => Float32Array.from(randn(p.variable.shape, 50 + 10 * step + k).data));
        optA.applyGradientValues(values, a, 0.1);
        const grads = Object.fromEntries(b.map((p, k) => [p.name, tf.tensor(values[k], p.variable.shape)]));
        optB.applyGradients(grads, b, 0.1);
        tf.dispose(grads);
      }
      a.forEach((p, k) => assert.deepEqual(p.variable.dataSync(), b[k].variable.dataSync(), `${backend} ${p.name}`));
      assert.throws(() => optA.applyGradientValues([new Float32Array(12)], a, 0.1), /SGD\.applyGradientValues.*'grads'.*1 arrays.*one Float32Array per parameter \(2\)/);
      assert.throws(() => optA.applyGradientValues([new Float32Array(12), new Float32Array(5)], a, 0.1), /'grads\[1\]'.*5 values.*4 values.*'conv\/bias'/);
      for (const p of [...a, ...b]) p.variable.dispose();
      optA.dispose();
      optB.dispose();
      assert.equal(tf.memory().numTensors, tensors0, `${backend}: no tensor left behind`);
    }
    await tf.setBackend('wasm');
  });

  it('does not write into a momentum buffer a saved state still shares', () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]));
    const opt = new SGD({ momentum: 0.9 });
    const params = [{ name: 'w', variable: w }];
    const g = tf.tensor1d([1, 1, 1]);
    opt.applyGradients({ w: g }, params, 0.1);
    const state = opt.getState(); // a clone of the buffer: shares it until the next update
    opt.applyGradients({ w: g }, params, 0.1);
    assert.deepEqual(Array.from(state[0].tensor.dataSync()), [1, 1, 1]);
    assertClose(w.dataSync(), [1 - 0.1 - 0.19, 2 - 0.1 - 0.19, 3 - 0.1 - 0.19], 1e-6);
    tf.dispose([g, w, state[0].tensor]);
    opt.dispose();
  });
});
