import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
await tf.setBackend('cpu');
try { const g = tf.grad(x => tf.sum(tf.mul(x, x)))(tf.ones([2])); g.print(); } catch (e) { console.log('ERR', e.message); }
