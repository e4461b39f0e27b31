/**
 * A minimal WebAssembly binary writer: enough to emit a module of numeric functions (i32/f32 scalars and
 * 128-bit SIMD) that imports one linear memory and exports its functions. Used to generate batchfree's SIMD
 * kernels at run time (no build step, no toolchain), which then work directly on the `wasm` backend's heap.
 *
 * Reference: the WebAssembly core specification, binary format (sections 5.x) and the fixed-width SIMD
 * proposal (opcodes `0xFD xx`).
 * @module
 */

/** Value types. */
export const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function name(s: string, out: number[]): void {
  const bytes = new TextEncoder().encode(s);
  uleb(bytes.length, out);
  out.push(...bytes);
}

/** Natural alignment (log2 bytes) of each memory access we emit. */
const ALIGN = { i32: 2, f32: 2, v128: 4 } as const;

/**
 * The body of one function: a stack-machine instruction stream. Methods append instructions and return
 * `this` so that code reads like the WebAssembly text format.
 */
export class Code {
  readonly bytes: number[] = [];
  private readonly localTypes: ValType[] = [];

  constructor(readonly params: ValType[], readonly results: ValType[] = []) {}

  /** Declares a local (after the parameters) and returns its index. */
  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  private op(...b: number[]): this { this.bytes.push(...b); return this; }
  private simd(code: number): this { this.bytes.push(0xfd); uleb(code, this.bytes); return this; }
  private mem(align: number, offset: number): this { uleb(align, this.bytes); uleb(offset, this.bytes); return this; }

  // control
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if_(): this { return this.op(0x04, 0x40); }
  else_(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { this.op(0x0c); uleb(depth, this.bytes); return this; }
  brIf(depth: number): this { this.op(0x0d); uleb(depth, this.bytes); return this; }
  // variables
  get(i: number): this { this.op(0x20); uleb(i, this.bytes); return this; }
  set(i: number): this { this.op(0x21); uleb(i, this.bytes); return this; }
  tee(i: number): this { this.op(0x22); uleb(i, this.bytes); return this; }
  // i32
  i32(v: number): this { this.op(0x41); sleb(v | 0, this.bytes); return this; }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32Shl(): this { return this.op(0x74); }
  i32Eqz(): this { return this.op(0x45); }
  i32Ne(): this { return this.op(0x47); }
  i32LtS(): this { return this.op(0x48); }
  i32GtS(): this { return this.op(0x4a); }
  i32Load(offset = 0): this { return this.op(0x28).mem(ALIGN.i32, offset); }
  i32Store(offset = 0): this { return this.op(0x36).mem(ALIGN.i32, offset); }
  // f32
  f32(v: number): this { this.op(0x43); this.bytes.push(...new Uint8Array(Float32Array.of(v).buffer)); return this; }
  f32Load(offset = 0): this { return this.op(0x2a).mem(ALIGN.f32, offset); }
  f32Store(offset = 0): this { return this.op(0x38).mem(ALIGN.f32, offset); }
  f32Add(): this { return this.op(0x92); }
  f32Mul(): this { return this.op(0x94); }
  // v128 (f32x4)
  v128Load(offset = 0): this { return this.simd(0x00).mem(ALIGN.v128, offset); }
  v128Load32Splat(offset = 0): this { return this.simd(0x09).mem(ALIGN.f32, offset); }
  v128Store(offset = 0): this { return this.simd(0x0b).mem(ALIGN.v128, offset); }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4ExtractLane(lane: number): this { this.simd(0x1f); this.bytes.push(lane); return this; }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Max(): this { return this.simd(0xe9); }
  /** Relaxed SIMD `f32x4.relaxed_madd(a, b, c) = a * b + c` (fused where the hardware has FMA). */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }

  /** `acc += a * b` on f32x4 locals: one relaxed multiply-add if `fma`, else a multiply and an add. */
  macc(acc: number, a: number, b: number, fma: boolean): this {
    if (fma) return this.get(a).get(b).get(acc).f32x4RelaxedMadd().set(acc);
    return this.get(acc).get(a).get(b).f32x4Mul().f32x4Add().set(acc);
  }

  /** `local[i] += delta` for an i32 local. */
  addTo(i: number, delta: number | { local: number }): this {
    this.get(i);
    if (typeof delta === 'number') this.i32(delta);
    else this.get(delta.local);
    return this.i32Add().set(i);
  }

  /** Closes a counted loop: `local[i] -= 1`, back to the loop's start while it is not zero, then `end`. */
  endCountdown(i: number): this {
    return this.get(i).i32(1).i32Sub().tee(i).brIf(0).end();
  }

  /** The encoded function body (locals + code + end). */
  encode(): number[] {
    const out: number[] = [];
    // Group consecutive locals of one type.
    const groups: Array<[number, ValType]> = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(groups.length, out);
    for (const [n, t] of groups) { uleb(n, out); out.push(t); }
    out.push(...this.bytes, 0x0b);
    const sized: number[] = [];
    uleb(out.length, sized);
    return sized.concat(out);
  }
}

/** How the module gets its memory. */
export interface MemoryImport { module: string; field: string; shared: boolean; maximumPages?: number }

/** Builds a module importing one memory and exporting the given functions. */
export function buildModule(memory: MemoryImport, functions: Array<{ name: string; code: Code }>): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const section = (id: number, body: number[]) => {
    out.push(id);
    uleb(body.length, out);
    out.push(...body);
  };
  // Types: one per function (duplicates are legal).
  const types: number[] = [];
  uleb(functions.length, types);
  for (const { code } of functions) {
    types.push(0x60);
    uleb(code.params.length, types);
    types.push(...code.params);
    uleb(code.results.length, types);
    types.push(...code.results);
  }
  section(1, types);
  // Import: the memory.
  const imports: number[] = [];
  uleb(1, imports);
  name(memory.module, imports);
  name(memory.field, imports);
  imports.push(0x02);
  if (memory.shared) {
    imports.push(0x03);
    uleb(0, imports);
    uleb(memory.maximumPages ?? 65536, imports);
  } else {
    imports.push(0x00);
    uleb(0, imports);
  }
  section(2, imports);
  // Functions: function i has type i.
  const funcs: number[] = [];
  uleb(functions.length, funcs);
  functions.forEach((_, i) => uleb(i, funcs));
  section(3, funcs);
  // Exports.
  const exports: number[] = [];
  uleb(functions.length, exports);
  functions.forEach(({ name: n }, i) => {
    name(n, exports);
    exports.push(0x00);
    uleb(i, exports);
  });
  section(7, exports);
  // Code.
  const code: number[] = [];
  uleb(functions.length, code);
  for (const { code: c } of functions) code.push(...c.encode());
  section(10, code);
  return Uint8Array.from(out);
}
