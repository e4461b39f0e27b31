/**
 * The one place batchfree imports TensorFlow.js from.
 *
 * - Importing `@tensorflow/tfjs-layers` also registers the gradients of every core op, which
 *   `@tensorflow/tfjs-core` alone does not: a user who imports only batchfree can call `tf.grad` on every op.
 * - The `cpu` backend is registered as the always-available fallback (it runs in browsers and Node alike).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';

export { tf, tfl };
