/**
 * Node-only entry of batchfree (`import { fileSystem } from 'batchfree/node'`): file-system model storage.
 * Everything browser-safe is in the main entry; this module adds only what needs Node's `fs`.
 * @module
 */
export { FILE_SCHEME, MODEL_JSON, WEIGHTS_BIN, fileSystem, fileSystemRouter, registerFileSystemRouter } from './io/file_system.js';
