/** Version printed by `batchfree --version` and recorded in benchmark reports. */
export const VERSION = '0.1.0';
