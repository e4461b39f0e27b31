/**
 * A minimal WebAssembly assembler: turns functions written in the flat (unfolded) form of the WebAssembly text
 * format into a binary module that imports its linear memory as `env.memory`. It exists so that batchfree's
 * fused kernels can use 128-bit SIMD without a compiler toolchain: their source stays readable text in
 * `simd_module.ts` and the bytes are produced at run time (a few hundred microseconds).
 *
 * Supported: value types `i32 i64 f32 f64 v128`; `(func $name (export "name") (param $p T)* (result T)?
 * (local $l T)* body)`; structured control `block $l`, `loop $l`, `if`, `else`, `end` (void block types only),
 * `br`/`br_if $l`, `return`, `call $f`; locals by `$name`; memory access with `offset=`/`align=`; constants;
 * lane indices; the scalar and SIMD opcodes listed in {@link OPCODES} (encodings checked against
 * `llvm-mc -triple=wasm32 -mattr=+simd128 -show-encoding`). Comments start with `;;`.
 * @module
 */

/** Value types. */
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** What follows an opcode in the text. */
type Immediate = 'none' | 'local' | 'label' | 'block' | 'func' | 'i32' | 'f32' | 'f64' | 'lane' | 'mem' | 'v128' | 'shuffle';

/** Opcode bytes, immediate kind and (for memory access) natural alignment as log2 of the access size. */
interface OpInfo { code: number[]; imm: Immediate; align?: number }

const op = (code: number[], imm: Immediate = 'none', align?: number): OpInfo => ({ code, imm, align });
const simd = (n: number, imm: Immediate = 'none', align?: number): OpInfo => op([0xfd, ...uleb(n)], imm, align);

/** The instructions the assembler knows. */
export const OPCODES: Readonly<Record<string, OpInfo>> = {
  unreachable: op([0x00]), nop: op([0x01]), block: op([0x02], 'block'), loop: op([0x03], 'block'), if: op([0x04], 'block'),
  else: op([0x05]), end: op([0x0b]), br: op([0x0c], 'label'), br_if: op([0x0d], 'label'), return: op([0x0f]),
  call: op([0x10], 'func'), drop: op([0x1a]), select: op([0x1b]),
  'local.get': op([0x20], 'local'), 'local.set': op([0x21], 'local'), 'local.tee': op([0x22], 'local'),
  'i32.load': op([0x28], 'mem', 2), 'f32.load': op([0x2a], 'mem', 2), 'f64.load': op([0x2b], 'mem', 3),
  'i32.store': op([0x36], 'mem', 2), 'f32.store': op([0x38], 'mem', 2), 'f64.store': op([0x39], 'mem', 3),
  'i32.const': op([0x41], 'i32'), 'f32.const': op([0x43], 'f32'), 'f64.const': op([0x44], 'f64'),
  'i32.eqz': op([0x45]), 'i32.eq': op([0x46]), 'i32.ne': op([0x47]), 'i32.lt_s': op([0x48]), 'i32.lt_u': op([0x49]),
  'i32.gt_s': op([0x4a]), 'i32.gt_u': op([0x4b]), 'i32.le_s': op([0x4c]), 'i32.le_u': op([0x4d]), 'i32.ge_s': op([0x4e]), 'i32.ge_u': op([0x4f]),
  'f32.eq': op([0x5b]), 'f32.ne': op([0x5c]), 'f32.lt': op([0x5d]), 'f32.gt': op([0x5e]), 'f32.le': op([0x5f]), 'f32.ge': op([0x60]),
  'f64.eq': op([0x61]), 'f64.ne': op([0x62]), 'f64.lt': op([0x63]), 'f64.gt': op([0x64]), 'f64.le': op([0x65]), 'f64.ge': op([0x66]),
  'i32.add': op([0x6a]), 'i32.sub': op([0x6b]), 'i32.mul': op([0x6c]), 'i32.div_s': op([0x6d]), 'i32.div_u': op([0x6e]),
  'i32.rem_s': op([0x6f]), 'i32.rem_u': op([0x70]), 'i32.and': op([0x71]), 'i32.or': op([0x72]), 'i32.xor': op([0x73]),
  'i32.shl': op([0x74]), 'i32.shr_s': op([0x75]), 'i32.shr_u': op([0x76]),
  'f32.abs': op([0x8b]), 'f32.neg': op([0x8c]), 'f32.sqrt': op([0x91]), 'f32.add': op([0x92]), 'f32.sub': op([0x93]),
  'f32.mul': op([0x94]), 'f32.div': op([0x95]), 'f32.min': op([0x96]), 'f32.max': op([0x97]), 'f32.copysign': op([0x98]),
  'f64.abs': op([0x99]), 'f64.neg': op([0x9a]), 'f64.sqrt': op([0x9f]), 'f64.add': op([0xa0]), 'f64.sub': op([0xa1]),
  'f64.mul': op([0xa2]), 'f64.div': op([0xa3]), 'f64.min': op([0xa4]), 'f64.max': op([0xa5]),
  'f32.demote_f64': op([0xb6]), 'f64.promote_f32': op([0xbb]), 'f32.convert_i32_s': op([0xb2]), 'f64.convert_i32_s': op([0xb7]),
  'i32.reinterpret_f32': op([0xbc]), 'f32.reinterpret_i32': op([0xbe]),
  'v128.load': simd(0x00, 'mem', 4), 'v128.store': simd(0x0b, 'mem', 4), 'v128.const': simd(0x0c, 'v128'),
  'i8x16.shuffle': simd(0x0d, 'shuffle'),
  'i32x4.splat': simd(0x11), 'f32x4.splat': simd(0x13), 'f64x2.splat': simd(0x14),
  'i32x4.extract_lane': simd(0x1b, 'lane'), 'f32x4.extract_lane': simd(0x1f, 'lane'), 'f32x4.replace_lane': simd(0x20, 'lane'),
  'f64x2.extract_lane': simd(0x21, 'lane'), 'f64x2.replace_lane': simd(0x22, 'lane'),
  'f32x4.eq': simd(0x41), 'f32x4.ne': simd(0x42), 'f32x4.lt': simd(0x43), 'f32x4.gt': simd(0x44), 'f32x4.le': simd(0x45), 'f32x4.ge': simd(0x46),
  'v128.not': simd(0x4d), 'v128.and': simd(0x4e), 'v128.andnot': simd(0x4f), 'v128.or': simd(0x50), 'v128.xor': simd(0x51),
  'v128.bitselect': simd(0x52), 'v128.load64_zero': simd(0x5d, 'mem', 3),
  'f32x4.demote_f64x2_zero': simd(0x5e), 'f64x2.promote_low_f32x4': simd(0x5f),
  'f32x4.floor': simd(0x68), 'f32x4.nearest': simd(0x6a),
  'i32x4.shl': simd(0xab), 'i32x4.shr_s': simd(0xac), 'i32x4.add': simd(0xae), 'i32x4.sub': simd(0xb1),
  'f32x4.abs': simd(0xe0), 'f32x4.neg': simd(0xe1), 'f32x4.sqrt': simd(0xe3), 'f32x4.add': simd(0xe4), 'f32x4.sub': simd(0xe5),
  'f32x4.mul': simd(0xe6), 'f32x4.div': simd(0xe7), 'f32x4.min': simd(0xe8), 'f32x4.max': simd(0xe9), 'f32x4.pmin': simd(0xea), 'f32x4.pmax': simd(0xeb),
  'f64x2.abs': simd(0xec), 'f64x2.neg': simd(0xed), 'f64x2.sqrt': simd(0xef), 'f64x2.add': simd(0xf0), 'f64x2.sub': simd(0xf1),
  'f64x2.mul': simd(0xf2), 'f64x2.div': simd(0xf3),
  'i32x4.trunc_sat_f32x4_s': simd(0xf8), 'f32x4.convert_i32x4_s': simd(0xfa),
};

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function bytesOf(array: Float32Array | Float64Array | Int32Array): number[] {
  return Array.from(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
}

const utf8 = (s: string): number[] => [...uleb(s.length), ...Array.from(new TextEncoder().encode(s))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** One function of a module: header and body in the flat text format. */
interface ParsedFunc {
  name: string;
  exportName?: string;
  params: Array<[string, ValType]>;
  results: ValType[];
  locals: Array<[string, ValType]>;
  body: string[];
}

/** Error with the function name and the offending token. */
function asmError(func: string, message: string): Error {
  return new Error(`wasm_asm: in $${func}: ${message}`);
}

/** Splits source text into tokens, dropping `;;` comments; parentheses are tokens. */
function tokenize(source: string): string[] {
  const text = source.replace(/;;[^\n]*/g, ' ');
  return text.match(/\(|\)|"[^"]*"|[^\s()]+/g) ?? [];
}

/** Parses `(func ...)` forms. */
function parseFuncs(source: string): ParsedFunc[] {
  const tokens = tokenize(source);
  const funcs: ParsedFunc[] = [];
  let i = 0;
  const expect = (t: string) => {
    if (tokens[i] !== t) throw new Error(`wasm_asm: expected '${t}' at token ${i}, got '${tokens[i]}'`);
    i++;
  };
  const valType = (t: string, where: string): ValType => {
    if (!(t in VALTYPE)) throw new Error(`wasm_asm: ${where}: unknown value type '${t}'`);
    return t as ValType;
  };
  while (i < tokens.length) {
    expect('(');
    expect('func');
    const name = tokens[i++].replace(/^\$/, '');
    const f: ParsedFunc = { name, params: [], results: [], locals: [], body: [] };
    // Header clauses.
    while (tokens[i] === '(' && ['export', 'param', 'result', 'local'].includes(tokens[i + 1])) {
      i++;
      const kind = tokens[i++];
      if (kind === 'export') f.exportName = tokens[i++].replace(/"/g, '');
      else if (kind === 'result') f.results.push(valType(tokens[i++], name));
      else {
        const local = tokens[i++];
        const entry: [string, ValType] = [local.replace(/^\$/, ''), valType(tokens[i++], name)];
        (kind === 'param' ? f.params : f.locals).push(entry);
      }
      expect(')');
    }
    // Body up to the closing parenthesis of the func form.
    while (i < tokens.length && tokens[i] !== ')') {
      if (tokens[i] === '(') throw asmError(name, `folded expressions are not supported (token ${i})`);
      f.body.push(tokens[i++]);
    }
    expect(')');
    funcs.push(f);
  }
  return funcs;
}

/** Parses an immediate number (decimal, hex, `inf`, `-inf`, `nan`). */
function parseNumber(func: string, t: string): number {
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  const v = Number(t);
  if (t === '' || Number.isNaN(v)) throw asmError(func, `expected a number, got '${t}'`);
  return v;
}

/** Encodes one function body. */
function encodeBody(f: ParsedFunc, funcIndex: Map<string, number>): number[] {
  const localIndex = new Map<string, number>();
  [...f.params, ...f.locals].forEach(([n], k) => localIndex.set(n, k));
  const out: number[] = [];
  // Locals, one group per declaration.
  out.push(...vector(f.locals.map(([, t]) => [1, VALTYPE[t]])));
  const labels: Array<string | null> = [];
  const toks = f.body;
  for (let k = 0; k < toks.length; k++) {
    const mnemonic = toks[k];
    const info = OPCODES[mnemonic];
    if (info === undefined) throw asmError(f.name, `unknown instruction '${mnemonic}'`);
    out.push(...info.code);
    const next = () => {
      const t = toks[++k];
      if (t === undefined) throw asmError(f.name, `'${mnemonic}' needs an immediate`);
      return t;
    };
    switch (info.imm) {
      case 'none':
        if (mnemonic === 'end') {
          if (labels.length > 0) labels.pop();
        }
        break;
      case 'block': {
        let label: string | null = null;
        if (toks[k + 1]?.startsWith('$')) label = next().slice(1);
        labels.push(label);
        out.push(0x40);
        break;
      }
      case 'label': {
        const t = next();
        let depth: number;
        if (t.startsWith('$')) {
          depth = labels.length - 1 - labels.lastIndexOf(t.slice(1));
          if (depth > labels.length - 1) throw asmError(f.name, `unknown label '${t}'`);
        } else depth = parseNumber(f.name, t);
        out.push(...uleb(depth));
        break;
      }
      case 'local': {
        const t = next();
        const idx = t.startsWith('$') ? localIndex.get(t.slice(1)) : parseNumber(f.name, t);
        if (idx === undefined) throw asmError(f.name, `unknown local '${t}'`);
        out.push(...uleb(idx));
        break;
      }
      case 'func': {
        const t = next().replace(/^\$/, '');
        const idx = funcIndex.get(t);
        if (idx === undefined) throw asmError(f.name, `unknown function '$${t}'`);
        out.push(...uleb(idx));
        break;
      }
      case 'i32': out.push(...sleb(parseNumber(f.name, next()))); break;
      case 'f32': out.push(...bytesOf(Float32Array.of(parseNumber(f.name, next())))); break;
      case 'f64': out.push(...bytesOf(Float64Array.of(parseNumber(f.name, next())))); break;
      case 'lane': out.push(parseNumber(f.name, next())); break;
      case 'shuffle': for (let l = 0; l < 16; l++) out.push(parseNumber(f.name, next())); break;
      case 'v128': {
        // v128.const f32x4 a b c d | i32x4 a b c d | f64x2 a b
        const shape = next();
        if (shape === 'f32x4') out.push(...bytesOf(Float32Array.from([0, 1, 2, 3].map(() => parseNumber(f.name, next())))));
        else if (shape === 'i32x4') out.push(...bytesOf(Int32Array.from([0, 1, 2, 3].map(() => parseNumber(f.name, next())))));
        else if (shape === 'f64x2') out.push(...bytesOf(Float64Array.from([0, 1].map(() => parseNumber(f.name, next())))));
        else throw asmError(f.name, `v128.const shape '${shape}' not supported`);
        break;
      }
      case 'mem': {
        let offset = 0, align = info.align ?? 0;
        while (toks[k + 1]?.startsWith('offset=') || toks[k + 1]?.startsWith('align=')) {
          const [key, value] = next().split('=');
          if (key === 'offset') offset = parseNumber(f.name, value);
          else align = Math.log2(parseNumber(f.name, value));
        }
        out.push(...uleb(align), ...uleb(offset));
        break;
      }
    }
  }
  if (labels.length !== 0) throw asmError(f.name, `${labels.length} unclosed block(s)`);
  out.push(0x0b);
  return [...uleb(out.length), ...out];
}

/** Memory import of the module. */
export interface MemoryImport {
  /** Shared memory (the threaded wasm backend); then `maximumPages` is required. */
  shared: boolean;
  /** Maximum size in 64 KiB pages (required for shared memory). */
  maximumPages?: number;
}

/**
 * Assembles `source` (one or more `(func ...)` forms) into a module importing `env.memory`.
 * @throws naming the function and the token on any syntax error.
 */
export function assemble(source: string, memory: MemoryImport = { shared: false }): Uint8Array<ArrayBuffer> {
  const funcs = parseFuncs(source);
  const funcIndex = new Map(funcs.map((f, k) => [f.name, k]));
  const types = funcs.map((f) => [0x60, ...vector(f.params.map(([, t]) => [VALTYPE[t]])), ...vector(f.results.map((t) => [VALTYPE[t]]))]);
  let limits: number[];
  if (memory.shared) {
    if (memory.maximumPages === undefined) throw new Error('wasm_asm: a shared memory needs maximumPages');
    limits = [0x03, ...uleb(1), ...uleb(memory.maximumPages)];
  } else if (memory.maximumPages !== undefined) limits = [0x01, ...uleb(1), ...uleb(memory.maximumPages)];
  else limits = [0x00, ...uleb(1)];
  const imports = vector([[...utf8('env'), ...utf8('memory'), 0x02, ...limits]]);
  const exported = funcs.filter((f) => f.exportName !== undefined);
  const exports = vector(exported.map((f) => [...utf8(f.exportName as string), 0x00, ...uleb(funcIndex.get(f.name) as number)]));
  const codes = funcs.map((f) => encodeBody(f, funcIndex));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, imports),
    ...section(3, vector(funcs.map((_, k) => uleb(k)))),
    ...section(7, exports),
    ...section(10, [...uleb(codes.length), ...codes.flat()]),
  ];
  return new Uint8Array(bytes);
}
