/**
 * A hand-written subset of Go's `text/template`, enough to run the Go autoscaler's cloud-init templates
 * (`WOODPECKER_CLOUDINIT_TEMPLATE`) unchanged.
 *
 * Supported: text; actions `{{ pipeline }}`; trim markers `{{- ` / ` -}}` (trim all adjacent " \t\r\n");
 * comments `{{/* … *\/}}`; fields `.A.B`, `.`, variables `$`, `$x`, `$x.A`; declarations `$x := …` and
 * assignment `$x = …`; `if` / `else if` / `else`, `with` / `else with` / `else`, `range` (lists, maps in sorted
 * key order, integers, `{{ else }}`, `$i, $v :=`, `break`, `continue`); parenthesised pipelines; literals
 * (strings "…" and `…`, chars, numbers, true/false, nil); pipelines with `|`; the builtins
 * `and or not len index print printf println eq ne lt le gt ge`, plus caller-supplied functions.
 * Not supported (parse error): `define`, `template`, `block`, and the builtins `html js urlquery slice call`.
 *
 * Data model (JS ↔ Go):
 * - `Map` is a Go map: a missing key yields `<no value>`; range/print iterate keys in sorted order.
 * - A plain object is a map whose missing keys are an error, as with Go struct fields
 *   ("can't evaluate field X"); it ranges and prints like a map.
 * - Arrays are slices; `undefined` is Go's invalid value (prints `<no value>`), `null` is nil (prints `<nil>`).
 * - Numbers: integral values behave as Go `int`, others as `float64` (so the literal `1e6` prints `1000000`, and
 *   `%f` accepts integers too).
 * - `index` of a missing map key yields `<no value>` (Go gives the element type's zero value, e.g. "").
 *
 * Error messages never contain data values (templates render secrets), only template positions and types.
 */

export type TemplateFunc = (...args: unknown[]) => unknown;

export interface ParseOptions {
  /** Template name used in error messages (Go: `template.New(name)`). Default `user-data`. */
  name?: string;
  /** Extra functions (Go: `Funcs`), known at parse time like in Go. */
  funcs?: Readonly<Record<string, TemplateFunc>>;
}

export interface Template {
  readonly name: string;
  /** Executes the template; throws `TemplateError` (phase `exec`) on errors such as an unknown field. */
  execute(data: unknown): string;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    message: string,
    readonly phase: 'parse' | 'exec',
    /** 1-based line in the template text. */
    readonly line: number,
    /** 0-based column (byte column in Go; here UTF-16 units). */
    readonly col: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lexer

type TokType =
  | 'text'
  | 'left'
  | 'right'
  | 'field'
  | 'dot'
  | 'var'
  | 'ident'
  | 'keyword'
  | 'string'
  | 'number'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'eof';

interface Token {
  t: TokType;
  /** Text, decoded string literal, name (without `.`/`$` for fields; with `$` for variables), or source. */
  v: string;
  pos: number;
  /** Whitespace directly before this token (inside an action). */
  sp: boolean;
  num?: number;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block']);

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

const ALNUM = /[\p{L}\p{N}_]/u;
function isAlnum(c: string | undefined): boolean {
  return c !== undefined && ALNUM.test(c);
}

class Positions {
  private readonly starts: number[] = [0];
  constructor(src: string) {
    for (let i = 0; i < src.length; i++) if (src[i] === '\n') this.starts.push(i + 1);
  }
  at(pos: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: pos - (this.starts[lo] ?? 0) };
  }
}

const NUMBER_RE =
  /[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[oO][0-7_]+|0[bB][01_]+|[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)/y;

function lex(src: string, fail: (pos: number, msg: string) => never): Token[] {
  const toks: Token[] = [];
  const n = src.length;
  let pos = 0;

  const rightDelimAt = (p: number): 0 | 2 | 4 => {
    if (src.startsWith('}}', p)) return 2;
    if (isSpace(src[p]) && src[p + 1] === '-' && src.startsWith('}}', p + 2)) return 4;
    return 0;
  };

  while (pos < n) {
    const i = src.indexOf('{{', pos);
    if (i < 0) {
      toks.push({ t: 'text', v: src.slice(pos), pos, sp: false });
      break;
    }
    const trimLeft = src[i + 2] === '-' && isSpace(src[i + 3]);
    let text = src.slice(pos, i);
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    if (text !== '') toks.push({ t: 'text', v: text, pos, sp: false });
    let p = i + 2 + (trimLeft ? 2 : 0);

    // Comment: {{/* … */}} with optional trim markers; must end right at the delimiter.
    if (src.startsWith('/*', p)) {
      const end = src.indexOf('*/', p + 2);
      if (end < 0) fail(i, 'unclosed comment');
      const rd = rightDelimAt(end + 2);
      if (rd === 0) fail(i, 'comment ends before closing delimiter');
      pos = end + 2 + rd;
      if (rd === 4) while (pos < n && isSpace(src[pos])) pos++;
      continue;
    }

    toks.push({ t: 'left', v: '{{', pos: i, sp: false });
    let sp = false;
    let parenDepth = 0;
    for (;;) {
      if (p >= n) fail(i, 'unclosed action');
      const rd = rightDelimAt(p);
      if (rd !== 0) {
        if (parenDepth > 0) fail(p, 'unclosed left paren');
        toks.push({ t: 'right', v: '}}', pos: p, sp });
        p += rd;
        if (rd === 4) while (p < n && isSpace(src[p])) p++;
        break;
      }
      const c = src[p] as string;
      if (isSpace(c)) {
        sp = true;
        p++;
        continue;
      }
      const start = p;
      const push = (t: TokType, v: string, num?: number): void => {
        const tok: Token = { t, v, pos: start, sp };
        if (num !== undefined) tok.num = num;
        toks.push(tok);
        sp = false;
      };
      const next = src[p + 1];
      if (c === '|') {
        push('pipe', c);
        p++;
      } else if (c === '(') {
        parenDepth++;
        push('lparen', c);
        p++;
      } else if (c === ')') {
        if (parenDepth === 0) fail(p, 'unexpected right paren');
        parenDepth--;
        push('rparen', c);
        p++;
      } else if (c === ',') {
        push('comma', c);
        p++;
      } else if (c === ':') {
        if (next !== '=') fail(p, 'expected :=');
        push('declare', ':=');
        p += 2;
      } else if (c === '=') {
        push('assign', '=');
        p++;
      } else if (c === '"') {
        let q = p + 1;
        while (q < n && src[q] !== '"') {
          if (src[q] === '\\') q++;
          if (src[q] === '\n' || q >= n) fail(p, 'unterminated quoted string');
          q++;
        }
        if (q >= n) fail(p, 'unterminated quoted string');
        push('string', unquote(src.slice(p + 1, q), '"', (m) => fail(p, m)));
        p = q + 1;
      } else if (c === '`') {
        const q = src.indexOf('`', p + 1);
        if (q < 0) fail(p, 'unterminated raw quoted string');
        push('string', src.slice(p + 1, q).replace(/\r/g, ''));
        p = q + 1;
      } else if (c === "'") {
        let q = p + 1;
        while (q < n && src[q] !== "'") {
          if (src[q] === '\\') q++;
          if (src[q] === '\n' || q >= n) fail(p, 'unterminated character constant');
          q++;
        }
        if (q >= n) fail(p, 'unterminated character constant');
        const s = unquote(src.slice(p + 1, q), "'", (m) => fail(p, m));
        const cps = [...s];
        if (cps.length !== 1) fail(p, `malformed character constant: ${src.slice(p, q + 1)}`);
        push('number', src.slice(p, q + 1), s.codePointAt(0));
        p = q + 1;
      } else if (c === '$') {
        let q = p + 1;
        while (isAlnum(src[q])) q++;
        push('var', src.slice(p, q));
        p = q;
      } else if (c === '.' && !/[0-9]/.test(next ?? '')) {
        if (isAlnum(next)) {
          let q = p + 1;
          while (isAlnum(src[q])) q++;
          push('field', src.slice(p + 1, q));
          p = q;
        } else {
          push('dot', '.');
          p++;
        }
      } else if (/[0-9.]/.test(c) || ((c === '+' || c === '-') && /[0-9.]/.test(next ?? ''))) {
        NUMBER_RE.lastIndex = p;
        const m = NUMBER_RE.exec(src);
        let q = p + (m ? m[0].length : 0);
        while (isAlnum(src[q]) || src[q] === '.') q++; // swallow junk like Go, then reject it below
        const textNum = src.slice(p, q);
        push('number', textNum, parseNumber(textNum, (msg) => fail(p, msg)));
        p = q;
      } else if (isAlnum(c)) {
        let q = p;
        while (isAlnum(src[q])) q++;
        const word = src.slice(p, q);
        if (word === 'true' || word === 'false') push('bool', word);
        else if (word === 'nil') push('nil', word);
        else if (KEYWORDS.has(word)) push('keyword', word);
        else push('ident', word);
        p = q;
      } else {
        fail(p, `unexpected ${JSON.stringify(c)} in command`);
      }
    }
    pos = p;
  }
  toks.push({ t: 'eof', v: '', pos: n, sp: false });
  return toks;
}

function parseNumber(text: string, fail: (msg: string) => never): number {
  let s = text.replace(/_/g, '');
  let sign = 1;
  if (s.startsWith('+') || s.startsWith('-')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s) || /^0[oO][0-7]+$/.test(s) || /^0[bB][01]+$/.test(s)) v = Number(s);
  else if (/^0[0-7]+$/.test(s)) v = parseInt(s, 8);
  else if (/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(s)) v = Number(s);
  else fail(`bad number syntax: "${text}"`);
  if (!Number.isFinite(v)) fail(`bad number syntax: "${text}"`);
  return sign * v;
}

/** Decodes a Go interpreted string / rune literal body. */
function unquote(body: string, quote: '"' | "'", fail: (msg: string) => never): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
    };
    if (e !== undefined && simple[e] !== undefined) {
      out += simple[e];
    } else if (e === quote) {
      out += e;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + len);
      if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) fail('invalid syntax');
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) fail('invalid syntax');
      out += e === 'x' ? String.fromCharCode(cp) : String.fromCodePoint(cp);
      i += len;
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) fail('invalid syntax');
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else {
      fail('invalid syntax');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// AST

type Arg =
  | { k: 'field'; pos: number; chain: string[] }
  | { k: 'dot'; pos: number }
  | { k: 'var'; pos: number; name: string; chain: string[] }
  | { k: 'func'; pos: number; name: string }
  | { k: 'lit'; pos: number; value: string | number | boolean }
  | { k: 'nil'; pos: number }
  | { k: 'sub'; pos: number; pipe: Pipe; chain: string[] };

interface Cmd {
  pos: number;
  args: Arg[];
}

interface Pipe {
  pos: number;
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  src: string;
}

interface ControlNode {
  k: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | null;
}

type Node =
  | { k: 'text'; text: string }
  | { k: 'action'; pos: number; pipe: Pipe }
  | ControlNode
  | { k: 'break' | 'continue'; pos: number };

// ---------------------------------------------------------------------------------------------------------
// Parser

const BUILTIN_NAMES = new Set([
  'and',
  'or',
  'not',
  'len',
  'index',
  'print',
  'printf',
  'println',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
]);

class Parser {
  private i = 0;
  private vars: string[] = ['$'];

  constructor(
    private readonly src: string,
    private readonly toks: Token[],
    private readonly funcs: ReadonlySet<string>,
    private readonly fail: (pos: number, msg: string) => never,
  ) {}

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)] as Token;
  }
  private next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }
  private expectRight(context: string): void {
    const t = this.next();
    if (t.t !== 'right') this.fail(t.pos, `unexpected ${describe(t)} in ${context}`);
  }

  parseTop(): Node[] {
    const r = this.parseList(false);
    if (r.end === 'end') this.fail(r.pos, 'unexpected {{end}}');
    if (r.end === 'else') this.fail(r.pos, 'unexpected {{else}}');
    return r.nodes;
  }

  private parseList(inRange: boolean): { nodes: Node[]; end: 'end' | 'else' | 'eof'; pos: number } {
    const nodes: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.t === 'eof') return { nodes, end: 'eof', pos: t.pos };
      if (t.t === 'text') {
        nodes.push({ k: 'text', text: t.v });
        continue;
      }
      // t is a left delimiter
      const kw = this.peek();
      if (kw.t === 'keyword') {
        switch (kw.v) {
          case 'end':
            this.next();
            this.expectRight('end');
            return { nodes, end: 'end', pos: kw.pos };
          case 'else':
            this.next();
            return { nodes, end: 'else', pos: kw.pos };
          case 'if':
          case 'with':
          case 'range':
            this.next();
            nodes.push(this.parseControl(kw.v, kw.pos, inRange));
            continue;
          case 'break':
          case 'continue':
            if (!inRange) this.fail(kw.pos, `{{${kw.v}}} outside {{range}}`);
            this.next();
            this.expectRight(kw.v);
            nodes.push({ k: kw.v, pos: kw.pos });
            continue;
          default:
            this.fail(kw.pos, `{{${kw.v}}} is not supported`);
        }
      }
      const pipe = this.parsePipeline('command', 'right', false);
      nodes.push({ k: 'action', pos: pipe.pos, pipe });
    }
  }

  private parseControl(kind: 'if' | 'with' | 'range', pos: number, inRange: boolean): Node {
    const mark = this.vars.length;
    const pipe = this.parsePipeline(kind, 'right', kind === 'range');
    const body = this.parseList(inRange || kind === 'range');
    if (body.end === 'eof') this.fail(body.pos, 'unexpected EOF');
    let elseList: Node[] | null = null;
    if (body.end === 'else') {
      const nx = this.peek();
      if (kind !== 'range' && nx.t === 'keyword' && nx.v === kind) {
        // {{else if …}} / {{else with …}}: a nested control sharing our {{end}}.
        this.next();
        elseList = [this.parseControl(kind, nx.pos, inRange)];
      } else {
        this.expectRight('else');
        const alt = this.parseList(inRange);
        if (alt.end === 'eof') this.fail(alt.pos, 'unexpected EOF');
        if (alt.end === 'else') this.fail(alt.pos, 'expected end; found {{else}}');
        elseList = alt.nodes;
      }
    }
    this.vars.length = mark;
    return { k: kind, pos, pipe, list: body.nodes, elseList };
  }

  private parsePipeline(context: string, end: 'right' | 'rparen', isRange: boolean): Pipe {
    const first = this.peek();
    const decl: string[] = [];
    let assign = false;
    if (first.t === 'var') {
      const t1 = this.peek(1);
      if (t1.t === 'declare' || t1.t === 'assign') {
        this.next();
        this.next();
        decl.push(first.v);
        assign = t1.t === 'assign';
      } else if (isRange && t1.t === 'comma' && this.peek(2).t === 'var') {
        const t3 = this.peek(3);
        if (t3.t === 'declare' || t3.t === 'assign') {
          decl.push(first.v, this.peek(2).v);
          assign = t3.t === 'assign';
          this.i += 4;
        } else {
          this.fail(t3.pos, `unexpected ${describe(t3)} in range`);
        }
      }
      if (assign) for (const d of decl) if (!this.vars.includes(d)) this.fail(first.pos, `undefined variable "${d}"`);
    }
    const cmds: Cmd[] = [];
    for (;;) {
      const t = this.peek();
      if (t.t === end) {
        this.next();
        break;
      }
      if (t.t === 'eof' || t.t === 'right' || t.t === 'rparen') this.fail(t.pos, `unexpected ${describe(t)} in ${context}`);
      cmds.push(this.parseCommand(end));
      const after = this.peek();
      if (after.t === 'pipe') {
        this.next();
        const nx = this.peek();
        if (nx.t === end || nx.t === 'pipe') this.fail(nx.pos, `missing command after |`);
      }
    }
    if (cmds.length === 0) this.fail(first.pos, `missing value for ${context}`);
    if (!assign) this.vars.push(...decl);
    const last = this.toks[this.i - 1] as Token;
    return { pos: first.pos, decl, assign, cmds, src: this.src.slice(first.pos, last.pos).trim() };
  }

  private parseCommand(end: 'right' | 'rparen'): Cmd {
    const args: Arg[] = [];
    const pos = this.peek().pos;
    for (;;) {
      const t = this.peek();
      if (t.t === end || t.t === 'pipe') break;
      if (args.length > 0 && !t.sp && t.t !== 'lparen') this.fail(t.pos, `missing space before ${describe(t)}`);
      args.push(this.parseOperand());
    }
    if (args.length === 0) this.fail(pos, 'empty command');
    return { pos, args };
  }

  private parseChain(): string[] {
    const chain: string[] = [];
    while (this.peek().t === 'field' && !this.peek().sp) chain.push(this.next().v);
    return chain;
  }

  private parseOperand(): Arg {
    const t = this.next();
    switch (t.t) {
      case 'field':
        return { k: 'field', pos: t.pos, chain: [t.v, ...this.parseChain()] };
      case 'dot':
        return { k: 'dot', pos: t.pos };
      case 'var':
        if (!this.vars.includes(t.v)) this.fail(t.pos, `undefined variable "${t.v}"`);
        return { k: 'var', pos: t.pos, name: t.v, chain: this.parseChain() };
      case 'ident':
        if (!BUILTIN_NAMES.has(t.v) && !this.funcs.has(t.v)) this.fail(t.pos, `function "${t.v}" not defined`);
        return { k: 'func', pos: t.pos, name: t.v };
      case 'string':
        return { k: 'lit', pos: t.pos, value: t.v };
      case 'number':
        return { k: 'lit', pos: t.pos, value: t.num ?? 0 };
      case 'bool':
        return { k: 'lit', pos: t.pos, value: t.v === 'true' };
      case 'nil':
        return { k: 'nil', pos: t.pos };
      case 'lparen': {
        const pipe = this.parsePipeline('parenthesized pipeline', 'rparen', false);
        return { k: 'sub', pos: t.pos, pipe, chain: this.parseChain() };
      }
      default:
        return this.fail(t.pos, `unexpected ${describe(t)} in operand`);
    }
  }
}

function describe(t: Token): string {
  switch (t.t) {
    case 'eof':
      return 'EOF';
    case 'right':
      return '"}}"';
    case 'keyword':
      return `<${t.v}>`;
    case 'field':
      return `<.${t.v}>`;
    case 'string':
      return 'quoted string';
    default:
      return `"${t.v}"`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Values (Go semantics)

/** Marker for "no final pipeline argument". */
const MISSING: unique symbol = Symbol('missing');
type Final = unknown | typeof MISSING;

class BreakSignal {}
class ContinueSignal {}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Map) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Compares strings by code point (= Go's byte-wise comparison of UTF-8). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

function sortedEntries(v: Map<unknown, unknown> | Record<string, unknown>): [unknown, unknown][] {
  const entries: [unknown, unknown][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  const allNumbers = entries.every(([k]) => typeof k === 'number');
  return entries.sort(([a], [b]) =>
    allNumbers ? (a as number) - (b as number) : compareCodePoints(String(a), String(b)),
  );
}

/** Go's `isTrue`. */
export function isTrue(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** A Go-ish type name for error messages (never the value). */
export function goTypeName(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'bigint') return 'int64';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof Map || isPlainObject(v)) return 'map[string]interface {}';
  if (typeof v === 'function') return 'func';
  return typeof v;
}

/** Exact rational value of a finite double's magnitude: num/den. */
function ratOf(x: number): [bigint, bigint] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2 = -1074;
  if (expBits !== 0) {
    mant |= 1n << 52n;
    e2 = expBits - 1075;
  }
  return e2 >= 0 ? [mant << BigInt(e2), 1n] : [mant, 1n << BigInt(-e2)];
}

/** num/den rounded to an integer, ties to even (Go's strconv rounds exact decimal ties to even). */
function roundRat(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r2 = (num % den) * 2n;
  return r2 > den || (r2 === den && q % 2n === 1n) ? q + 1n : q;
}

/** |x| rounded to `n` significant digits: `digits` (length n) and the decimal exponent of the first digit. */
function sigDigits(x: number, n: number): { digits: string; exp: number } {
  if (x === 0) return { digits: '0'.repeat(n), exp: 0 };
  const [num, den] = ratOf(x);
  let exp = Number(/e([+-]\d+)$/.exec(Math.abs(x).toExponential())?.[1] ?? 0);
  for (;;) {
    const s = exp - (n - 1);
    const v = s >= 0 ? roundRat(num, den * 10n ** BigInt(s)) : roundRat(num * 10n ** BigInt(-s), den);
    const str = v.toString();
    if (str.length > n) exp++;
    else if (str.length < n) exp--;
    else return { digits: str, exp };
  }
}

function expSuffix(exp: number, upper: boolean): string {
  const a = Math.abs(exp);
  return `${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${a < 10 ? `0${a}` : a}`;
}

function nonFinite(f: number): string | undefined {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  return undefined;
}

/** Go's `strconv.FormatFloat(|f|, 'g', prec, 64)`; prec -1 = shortest (what `%v` prints for a float64). */
function formatFloatG(f: number, prec = -1, upper = false): string {
  const nf = nonFinite(f);
  if (nf !== undefined) return nf;
  if (f === 0) return '0';
  let digits: string;
  let exp: number;
  if (prec < 0) {
    const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(f).toExponential());
    digits = (m?.[1] ?? '0') + (m?.[2] ?? '');
    exp = Number(m?.[3] ?? 0);
  } else {
    ({ digits, exp } = sigDigits(f, Math.max(prec, 1)));
    digits = digits.replace(/0+$/, '') || '0';
  }
  const eprec = prec < 0 ? 6 : Math.max(prec, 1);
  if (exp < -4 || exp >= eprec) {
    return `${digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits}${expSuffix(exp, upper)}`;
  }
  if (exp < 0) return `0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${intPart}${frac ? `.${frac}` : ''}`;
}

/** Go's `%.<prec>e` of |f|. */
function formatExp(f: number, prec: number, upper: boolean): string {
  const nf = nonFinite(f);
  if (nf !== undefined) return nf;
  const { digits, exp } = sigDigits(f, prec + 1);
  return `${digits[0]}${prec > 0 ? `.${digits.slice(1)}` : ''}${expSuffix(f === 0 ? 0 : exp, upper)}`;
}

/** Go's `%.<prec>f` of |f|. */
function formatFixed(f: number, prec: number): string {
  const nf = nonFinite(f);
  if (nf !== undefined) return nf;
  const [num, den] = ratOf(f);
  const s = roundRat(num * 10n ** BigInt(prec), den)
    .toString()
    .padStart(prec + 1, '0');
  return prec > 0 ? `${s.slice(0, -prec)}.${s.slice(-prec)}` : s;
}

/** Go's `fmt` `%v` for the value kinds templates see. */
export function formatValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 2 ** 63) return intString(v);
    return nonFinite(v) ?? (v < 0 || Object.is(v, -0) ? '-' : '') + formatFloatG(v);
  }
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => formatNested(x)).join(' ')}]`;
  if (v instanceof Map || isPlainObject(v)) {
    return `map[${sortedEntries(v)
      .map(([k, x]) => `${formatNested(k)}:${formatNested(x)}`)
      .join(' ')}]`;
  }
  return String(v);
}

function formatNested(v: unknown): string {
  return v === undefined || v === null ? '<nil>' : formatValue(v);
}

function intString(v: number): string {
  return BigInt(v).toString();
}

// --- printf ------------------------------------------------------------------------------------------------

function isGoPrint(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

/** Go's `strconv.Quote`. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (isGoPrint(ch)) out += ch;
    else if (cp === 7) out += '\\a';
    else if (cp === 8) out += '\\b';
    else if (cp === 12) out += '\\f';
    else if (cp === 10) out += '\\n';
    else if (cp === 13) out += '\\r';
    else if (cp === 9) out += '\\t';
    else if (cp === 11) out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  sharp: boolean;
  width: number | undefined;
  prec: number | undefined;
}

function badVerb(verb: string, arg: unknown): string {
  if (arg === undefined || arg === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(arg)}=${formatValue(arg)})`;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  const w = spec.width ?? 0;
  const len = [...s].length;
  if (len >= w) return s;
  if (spec.minus) return s + ' '.repeat(w - len);
  if (spec.zero && numeric) {
    const signLen = /^[+\- ]/.test(s) ? 1 : 0;
    return s.slice(0, signLen) + '0'.repeat(w - len) + s.slice(signLen);
  }
  return ' '.repeat(w - len) + s;
}

function signed(s: string, neg: boolean, spec: Spec): string {
  if (neg) return `-${s}`;
  if (spec.plus) return `+${s}`;
  if (spec.space) return ` ${s}`;
  return s;
}

function formatOne(verb: string, arg: unknown, spec: Spec): string {
  if (Array.isArray(arg) && verb !== 'T') {
    return pad(`[${arg.map((x) => formatOne(verb, x, { ...spec, width: undefined })).join(' ')}]`, spec, false);
  }
  if ((arg instanceof Map || isPlainObject(arg)) && verb !== 'T') {
    const inner = { ...spec, width: undefined };
    return pad(
      `map[${sortedEntries(arg)
        .map(([k, x]) => `${formatOne(verb, k, inner)}:${formatOne(verb, x, inner)}`)
        .join(' ')}]`,
      spec,
      false,
    );
  }
  switch (verb) {
    case 'v':
      if (typeof arg === 'number') return formatOne(Number.isInteger(arg) ? 'd' : 'g', arg, spec);
      if (typeof arg === 'string') return formatOne('s', arg, spec);
      return pad(formatValue(arg), spec, false);
    case 'T':
      return pad(goTypeName(arg), spec, false);
    case 's':
      if (typeof arg === 'string') {
        const s = spec.prec !== undefined ? [...arg].slice(0, spec.prec).join('') : arg;
        return pad(s, spec, false);
      }
      return badVerb(verb, arg);
    case 'q':
      if (typeof arg === 'string') {
        const s = spec.prec !== undefined ? [...arg].slice(0, spec.prec).join('') : arg;
        return pad(goQuote(s), spec, false);
      }
      if (typeof arg === 'number' && Number.isInteger(arg) && arg >= 0 && arg <= 0x10ffff) {
        const ch = String.fromCodePoint(arg);
        const q = ch === "'" ? "\\'" : ch === '"' ? '"' : goQuote(ch).slice(1, -1);
        return pad(`'${q}'`, spec, false);
      }
      return badVerb(verb, arg);
    case 't':
      return typeof arg === 'boolean' ? pad(String(arg), spec, false) : badVerb(verb, arg);
    case 'd':
    case 'x':
    case 'X':
    case 'o':
    case 'b':
    case 'c':
      if (typeof arg === 'number' && Number.isInteger(arg)) {
        if (verb === 'c') return pad(String.fromCodePoint(Math.max(0, Math.min(arg, 0x10ffff))), spec, false);
        const radix = verb === 'd' ? 10 : verb === 'o' ? 8 : verb === 'b' ? 2 : 16;
        let digits = BigInt(Math.abs(arg)).toString(radix);
        if (verb === 'X') digits = digits.toUpperCase();
        if (spec.prec !== undefined) digits = digits.padStart(spec.prec, '0');
        if (spec.sharp && (verb === 'x' || verb === 'X')) digits = `0${verb}${digits}`;
        return pad(signed(digits, arg < 0, spec), spec, spec.prec === undefined);
      }
      if (typeof arg === 'string' && (verb === 'x' || verb === 'X')) {
        const hex = Buffer.from(arg, 'utf8').toString('hex');
        return pad(verb === 'X' ? hex.toUpperCase() : hex, spec, false);
      }
      return badVerb(verb, arg);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      if (typeof arg === 'number') {
        const nf = nonFinite(arg);
        if (nf !== undefined) return pad(nf, spec, false);
        const abs = Math.abs(arg);
        let body: string;
        if (verb === 'f' || verb === 'F') body = formatFixed(abs, spec.prec ?? 6);
        else if (verb === 'e' || verb === 'E') body = formatExp(abs, spec.prec ?? 6, verb === 'E');
        else body = formatFloatG(abs, spec.prec ?? -1, verb === 'G');
        return pad(signed(body, arg < 0 || Object.is(arg, -0), spec), spec, Number.isFinite(arg));
      }
      return badVerb(verb, arg);
    default:
      return `%!${verb}(${arg === undefined || arg === null ? '<nil>' : `${goTypeName(arg)}=${formatValue(arg)}`})`;
  }
}

/** Go's `fmt.Sprintf` for the common verbs (`v s q d t x X o b c e f g T %`), flags `-+ 0#`, width, precision. */
export function sprintf(format: string, ...args: unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    i++;
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const spec: Spec = {
      minus: false,
      plus: false,
      space: false,
      zero: false,
      sharp: false,
      width: undefined,
      prec: undefined,
    };
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '-') spec.minus = true;
      else if (f === '+') spec.plus = true;
      else if (f === ' ') spec.space = true;
      else if (f === '0') spec.zero = true;
      else if (f === '#') spec.sharp = true;
      else break;
    }
    const readNum = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        return typeof a === 'number' ? Math.trunc(a) : undefined;
      }
      let s = '';
      while (i < format.length && /[0-9]/.test(format[i] as string)) s += format[i++];
      return s === '' ? undefined : Number(s);
    };
    spec.width = readNum();
    if (format[i] === '.') {
      i++;
      spec.prec = readNum() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    if (verb.length === 2) i++;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb, args[argi++], spec);
  }
  if (argi < args.length) {
    const extra = args
      .slice(argi)
      .map((a) => (a === undefined || a === null ? '<nil>' : `${goTypeName(a)}=${formatValue(a)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

/** Go's `fmt.Sprint`: spaces between operands when neither side is a string. */
export function sprint(...args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatNested(a);
  });
  return out;
}

// --- builtins ------------------------------------------------------------------------------------------------

class FuncError extends Error {}

type BasicKind = 'bool' | 'number' | 'string' | 'nil' | 'other';
function basicKind(v: unknown): BasicKind {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'string') return 'string';
  return 'other';
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new FuncError('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    if (k1 !== k2) {
      if (k1 !== 'nil' && k2 !== 'nil') throw new FuncError('incompatible types for comparison');
      continue;
    }
    if (k1 === 'other') throw new FuncError(`non-comparable type ${goTypeName(a)}`);
    if (k1 === 'nil' || a === b) return true;
  }
  return false;
}

function lessThan(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'bool' || k1 === 'nil' || k1 === 'other') throw new FuncError('invalid type for comparison');
  if (k1 !== k2) throw new FuncError('incompatible types for comparison');
  if (k1 === 'string') return compareCodePoints(a as string, b as string) < 0;
  return (a as number) < (b as number);
}

function length(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (isPlainObject(v)) return Object.keys(v).length;
  throw new FuncError(`len of type ${goTypeName(v)}`);
}

function indexOf(item: unknown, ...indices: unknown[]): unknown {
  let v = item;
  for (const idx of indices) {
    if (v === undefined || v === null) throw new FuncError('index of untyped nil');
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof idx !== 'number' || !Number.isInteger(idx)) throw new FuncError(`cannot index slice/array with type ${goTypeName(idx)}`);
      const seq = typeof v === 'string' ? [...Buffer.from(v, 'utf8')] : v;
      if (idx < 0 || idx >= seq.length) throw new FuncError(`index out of range: ${idx}`);
      v = seq[idx];
    } else if (v instanceof Map) {
      v = v.get(idx);
    } else if (isPlainObject(v)) {
      if (typeof idx !== 'string') throw new FuncError(`value has type ${goTypeName(idx)}; should be string`);
      v = Object.hasOwn(v, idx) ? v[idx] : undefined;
    } else {
      throw new FuncError(`can't index item of type ${goTypeName(v)}`);
    }
  }
  return v;
}

interface Builtin {
  fn: TemplateFunc;
  min: number;
  max: number;
}

const BUILTINS: Record<string, Builtin> = {
  not: { fn: (a) => !isTrue(a), min: 1, max: 1 },
  len: { fn: (a) => length(a), min: 1, max: 1 },
  index: { fn: (a, ...rest) => indexOf(a, ...rest), min: 1, max: Infinity },
  print: { fn: (...a) => sprint(...a), min: 0, max: Infinity },
  println: { fn: (...a) => `${a.map((x) => formatNested(x)).join(' ')}\n`, min: 0, max: Infinity },
  printf: {
    fn: (f, ...a) => {
      if (typeof f !== 'string') throw new FuncError(`wrong type for value; expected string; got ${goTypeName(f)}`);
      return sprintf(f, ...a);
    },
    min: 1,
    max: Infinity,
  },
  eq: { fn: (a, ...rest) => eq(a, ...rest), min: 1, max: Infinity },
  ne: { fn: (a, b) => !eq(a, b), min: 2, max: 2 },
  lt: { fn: (a, b) => lessThan(a, b), min: 2, max: 2 },
  le: { fn: (a, b) => lessThan(a, b) || eq(a, b), min: 2, max: 2 },
  gt: { fn: (a, b) => !lessThan(a, b) && !eq(a, b), min: 2, max: 2 },
  ge: { fn: (a, b) => !lessThan(a, b), min: 2, max: 2 },
};

// ---------------------------------------------------------------------------------------------------------
// Executor

interface Var {
  name: string;
  value: unknown;
}

class Exec {
  private readonly out: string[] = [];
  private readonly vars: Var[];

  constructor(
    private readonly tmplName: string,
    private readonly positions: Positions,
    private readonly funcs: Readonly<Record<string, TemplateFunc>>,
    root: unknown,
  ) {
    this.vars = [{ name: '$', value: root }];
  }

  result(): string {
    return this.out.join('');
  }

  private fail(pos: number, at: string, msg: string): never {
    const { line, col } = this.positions.at(pos);
    throw new TemplateError(
      `template: ${this.tmplName}:${line}:${col}: executing "${this.tmplName}" at <${at}>: ${msg}`,
      'exec',
      line,
      col,
    );
  }

  walkList(dot: unknown, nodes: readonly Node[]): void {
    for (const node of nodes) this.walk(dot, node);
  }

  private walk(dot: unknown, node: Node): void {
    switch (node.k) {
      case 'text':
        this.out.push(node.text);
        return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.out.push(formatValue(v));
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe);
        if (isTrue(v)) this.walkList(node.k === 'with' ? v : dot, node.list);
        else if (node.elseList) this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  private walkRange(dot: unknown, node: ControlNode): void {
    const mark = this.vars.length;
    const pipe = node.pipe;
    const v = this.evalPipeline(dot, { ...pipe, decl: [] });
    let items: [unknown, unknown][];
    if (v === undefined || v === null) items = [];
    else if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (v instanceof Map || isPlainObject(v)) items = sortedEntries(v);
    else if (typeof v === 'number' && Number.isInteger(v)) {
      if (pipe.decl.length > 1) this.fail(node.pos, pipe.src, `can't use ${goTypeName(v)} to iterate over more than one variable`);
      items = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    } else this.fail(node.pos, pipe.src, `range can't iterate over value of type ${goTypeName(v)}`);

    if (items.length === 0) {
      if (node.elseList) this.walkList(dot, node.elseList);
      this.vars.length = mark;
      return;
    }
    const declVars: Var[] = [];
    if (!pipe.assign) {
      for (const name of pipe.decl) {
        const nv = { name, value: undefined as unknown };
        this.vars.push(nv);
        declVars.push(nv);
      }
    }
    const setVar = (i: number, value: unknown): void => {
      const name = pipe.decl[i] as string;
      if (pipe.assign) this.assignVar(name, value);
      else (declVars[i] as Var).value = value;
    };
    const inner = this.vars.length;
    for (const [key, elem] of items) {
      if (pipe.decl.length === 1) setVar(0, elem);
      else if (pipe.decl.length === 2) {
        setVar(0, key);
        setVar(1, elem);
      }
      try {
        this.walkList(elem, node.list);
      } catch (e) {
        if (e instanceof BreakSignal) break;
        if (!(e instanceof ContinueSignal)) throw e;
      } finally {
        this.vars.length = inner;
      }
    }
    this.vars.length = mark;
  }

  private lookupVar(name: string): Var | undefined {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]?.name === name) return this.vars[i];
    return undefined;
  }

  private assignVar(name: string, value: unknown): void {
    const v = this.lookupVar(name);
    if (v) v.value = value;
  }

  private evalPipeline(dot: unknown, pipe: Pipe): unknown {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value, pipe);
    const v = value === MISSING ? undefined : value;
    for (const name of pipe.decl) {
      if (pipe.assign) this.assignVar(name, v);
      else this.vars.push({ name, value: v });
    }
    return v;
  }

  private evalCommand(dot: unknown, cmd: Cmd, final: Final, pipe: Pipe): unknown {
    const first = cmd.args[0] as Arg;
    if (first.k === 'func') return this.callFunc(dot, first, cmd.args.slice(1), final, pipe);
    if (cmd.args.length > 1 || final !== MISSING) {
      this.fail(first.pos, pipe.src, `can't give argument to non-function ${argText(first)}`);
    }
    if (first.k === 'nil') this.fail(first.pos, pipe.src, 'nil is not a command');
    return this.evalArg(dot, first, pipe);
  }

  private evalArg(dot: unknown, arg: Arg, pipe: Pipe): unknown {
    switch (arg.k) {
      case 'field':
        return this.chain(dot, arg.chain, arg.pos, argText(arg));
      case 'dot':
        return dot;
      case 'var': {
        const v = this.lookupVar(arg.name);
        return this.chain(v?.value, arg.chain, arg.pos, argText(arg));
      }
      case 'func':
        return this.callFunc(dot, arg, [], MISSING, pipe);
      case 'lit':
        return arg.value;
      case 'nil':
        return null;
      case 'sub': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, arg.pipe);
        this.vars.length = mark;
        return this.chain(v, arg.chain, arg.pos, `(${arg.pipe.src})`);
      }
    }
  }

  private chain(v: unknown, names: readonly string[], pos: number, at: string): unknown {
    let cur = v;
    for (const name of names) {
      if (cur === undefined) return undefined;
      if (cur === null) this.fail(pos, at, `nil pointer evaluating interface {}.${name}`);
      if (cur instanceof Map) cur = cur.get(name);
      else if (isPlainObject(cur)) {
        if (!Object.hasOwn(cur, name)) this.fail(pos, at, `can't evaluate field ${name} in type ${goTypeName(cur)}`);
        cur = cur[name];
      } else this.fail(pos, at, `can't evaluate field ${name} in type ${goTypeName(cur)}`);
    }
    return cur;
  }

  private callFunc(dot: unknown, fnArg: Extract<Arg, { k: 'func' }>, argNodes: Arg[], final: Final, pipe: Pipe): unknown {
    const name = fnArg.name;
    const nargs = argNodes.length + (final === MISSING ? 0 : 1);
    if (name === 'and' || name === 'or') {
      if (nargs < 1) this.fail(fnArg.pos, name, `wrong number of args for ${name}: want at least 1 got 0`);
      let v: unknown;
      for (let i = 0; i < nargs; i++) {
        const node = argNodes[i];
        v = node ? this.evalArg(dot, node, pipe) : final;
        if (isTrue(v) === (name === 'or')) return v;
      }
      return v;
    }
    const user = this.funcs[name];
    const builtin = user ? undefined : BUILTINS[name];
    const fn = user ?? builtin?.fn;
    if (!fn) this.fail(fnArg.pos, name, `"${name}" is not a defined function`);
    if (builtin && (nargs < builtin.min || nargs > builtin.max)) {
      const want = builtin.min === builtin.max ? String(builtin.min) : `at least ${builtin.min}`;
      this.fail(fnArg.pos, name, `wrong number of args for ${name}: want ${want} got ${nargs}`);
    }
    const args = argNodes.map((a) => this.evalArg(dot, a, pipe));
    if (final !== MISSING) args.push(final);
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      this.fail(fnArg.pos, name, `error calling ${name}: ${e instanceof Error ? e.message : 'error'}`);
    }
  }
}

function argText(a: Arg): string {
  switch (a.k) {
    case 'field':
      return `.${a.chain.join('.')}`;
    case 'dot':
      return '.';
    case 'var':
      return [a.name, ...a.chain].join('.');
    case 'func':
      return a.name;
    case 'lit':
      return typeof a.value === 'string' ? 'quoted string' : String(a.value);
    case 'nil':
      return 'nil';
    case 'sub':
      return `(${a.pipe.src})`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Public entry point

/** Parses Go `text/template` source. Throws `TemplateError` (phase `parse`) with the line, like Go's `Parse`. */
export function parseTemplate(text: string, options: ParseOptions = {}): Template {
  const name = options.name ?? 'user-data';
  const funcs: Readonly<Record<string, TemplateFunc>> = options.funcs ?? {};
  const positions = new Positions(text);
  const fail = (pos: number, msg: string): never => {
    const { line, col } = positions.at(pos);
    throw new TemplateError(`template: ${name}:${line}: ${msg}`, 'parse', line, col);
  };
  const toks = lex(text, fail);
  const nodes = new Parser(text, toks, new Set(Object.keys(funcs)), fail).parseTop();
  return {
    name,
    execute(data: unknown): string {
      const ex = new Exec(name, positions, funcs, data);
      ex.walkList(data, nodes);
      return ex.result();
    },
  };
}
