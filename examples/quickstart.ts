/**
 * The README's usage example, kept compiling and running: `npx tsx examples/quickstart.ts`.
 */
import { init, tf, tfl, ops, layers, models } from '../src/index.js';
import { fileSystem } from '../src/node.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { backend } = await init(); // fastest backend available (wasm + batchfree kernels in Node)

// Functional ops: NHWC tensors, per-channel parameters [C], differentiable in every tensor argument.
const x = tf.randomNormal([8, 16, 16, 32]);
const gamma = tf.ones([32]) as tf.Tensor1D, beta = tf.zeros([32]) as tf.Tensor1D, tau = tf.zeros([32]);
const z = ops.tlu(ops.filterResponseNorm(x, { gamma, beta }), tau); // FRN eqs. (1)-(3)
const p = ops.proxyNormActivation(ops.layerNorm(x), { gamma, beta, activation: 'relu' }); // LN + PN

// Layers: a factory builds a norm+activation pair by name.
const input = tfl.input({ shape: [28, 28, 1] });
const conv = new layers.Conv2D({ filters: 16, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as tfl.SymbolicTensor;
const h = layers.applyLayers(layers.createNormActivation('gn+pn', { groups: 8 }), conv) as tfl.SymbolicTensor;

// Ready models, saved with the Node file-system IO handler.
const model = models.buildModel('resnet', { depth: 20, norm: 'frn', inputShape: [28, 28, 1], numClasses: 10 });
const dir = mkdtempSync(join(tmpdir(), 'batchfree-quickstart-'));
await model.save(fileSystem(dir));
console.log(`backend ${backend}; FRN+TLU ${z.shape}, LN+PN ${p.shape}, GN+PN layer output ${h.shape}; ResNetV2-20 with ${model.countParams()} parameters saved to ${dir}`);
