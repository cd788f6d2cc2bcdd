import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatValue, parseTemplate, sprintf, TemplateError } from '../../src/cloudinit/gotemplate.js';
import type { TemplateFunc } from '../../src/cloudinit/gotemplate.js';

interface Case {
  name: string;
  tmpl: string;
  data?: unknown;
  want: string;
  funcs?: Record<string, TemplateFunc>;
}

const list = ['a', 'b'];

const cases: Case[] = [
  // text, fields, dot, variables
  { name: 'plain text', tmpl: 'hello\n world', want: 'hello\n world' },
  { name: 'field', tmpl: 'x={{ .A }}', data: { A: 'v' }, want: 'x=v' },
  { name: 'no spaces in action', tmpl: '{{.A}}', data: { A: 'v' }, want: 'v' },
  { name: 'nested field', tmpl: '{{ .A.B.C }}', data: { A: { B: { C: 'deep' } } }, want: 'deep' },
  { name: 'dot', tmpl: '<{{ . }}>', data: 'str', want: '<str>' },
  { name: 'root variable', tmpl: '{{ range .L }}{{ $.P }}{{ . }}{{ end }}', data: { L: list, P: '-' }, want: '-a-b' },
  { name: 'declare and assign', tmpl: '{{ $x := "a" }}{{ $x }}{{ $x = "b" }}{{ $x }}', want: 'ab' },
  {
    name: 'assignment inside range reaches the outer variable',
    tmpl: '{{ $last := "" }}{{ range .L }}{{ $last = . }}{{ end }}{{ $last }}',
    data: { L: list },
    want: 'b',
  },
  { name: 'variable field', tmpl: '{{ $m := .M }}{{ $m.K }}', data: { M: { K: 'kv' } }, want: 'kv' },
  // trim markers and comments
  { name: 'trim both sides incl. newlines', tmpl: 'a \n\t {{- .A -}} \n\n b', data: { A: 'x' }, want: 'axb' },
  { name: 'trim left only', tmpl: 'a \n{{- .A }} \nb', data: { A: 'x' }, want: 'ax \nb' },
  { name: 'trim right only', tmpl: 'a \n{{ .A -}} \nb', data: { A: 'x' }, want: 'a \nxb' },
  { name: 'minus without space is a number', tmpl: '{{-3}} {{ -3 }}', want: '-3 -3' },
  { name: 'comment', tmpl: 'a{{/* note */}}b', want: 'ab' },
  { name: 'multi-line comment with trims', tmpl: 'a \n {{- /* one\ntwo */ -}} \n b', want: 'ab' },
  // range
  { name: 'range list', tmpl: '{{ range .L }}[{{ . }}]{{ end }}', data: { L: list }, want: '[a][b]' },
  {
    name: 'range index and value',
    tmpl: '{{ range $i, $v := .L }}{{ $i }}={{ $v }};{{ end }}',
    data: { L: list },
    want: '0=a;1=b;',
  },
  { name: 'range single variable is the element', tmpl: '{{ range $v := .L }}{{ $v }}{{ end }}', data: { L: list }, want: 'ab' },
  {
    name: 'range Map in sorted key order',
    tmpl: '{{ range $k, $v := .M }}{{ $k }}:{{ $v }} {{ end }}',
    data: { M: new Map<string, unknown>([['b', 2], ['a', 1], ['C', 3], ['é', 4], ['z', 5]]) },
    want: 'C:3 a:1 b:2 z:5 é:4 ',
  },
  {
    name: 'range plain object in sorted key order',
    tmpl: '{{ range $k, $v := .M }}{{ $k }}={{ $v }},{{ end }}',
    data: { M: { zeta: 'z', alpha: 'a', Beta: 'b' } },
    want: 'Beta=b,alpha=a,zeta=z,',
  },
  {
    name: 'range map with integer keys sorts numerically',
    tmpl: '{{ range $k, $v := .M }}{{ $k }}{{ end }}',
    data: { M: new Map([[10, 'x'], [9, 'y'], [100, 'z']]) },
    want: '910100',
  },
  { name: 'range else on empty list', tmpl: '{{ range .L }}x{{ else }}empty{{ end }}', data: { L: [] }, want: 'empty' },
  { name: 'range else on missing map key', tmpl: '{{ range .M.L }}x{{ else }}none{{ end }}', data: { M: new Map() }, want: 'none' },
  {
    name: 'nested range',
    tmpl: '{{ range $r := .Rows }}{{ range $r }}{{ . }}{{ end }};{{ end }}',
    data: { Rows: [[1, 2], [3]] },
    want: '12;3;',
  },
  { name: 'range over an integer', tmpl: '{{ range 3 }}{{ . }}{{ end }}', want: '012' },
  {
    name: 'break and continue',
    tmpl: '{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}',
    data: { L: [1, 2, 3, 4, 5] },
    want: '13',
  },
  // if / else if / else, with
  {
    name: 'if else-if else (1)',
    tmpl: '{{ if eq .N 1 }}one{{ else if eq .N 2 }}two{{ else }}many{{ end }}',
    data: { N: 1 },
    want: 'one',
  },
  {
    name: 'if else-if else (2)',
    tmpl: '{{ if eq .N 1 }}one{{ else if eq .N 2 }}two{{ else }}many{{ end }}',
    data: { N: 2 },
    want: 'two',
  },
  {
    name: 'if else-if else (3)',
    tmpl: '{{ if eq .N 1 }}one{{ else if eq .N 2 }}two{{ else }}many{{ end }}',
    data: { N: 3 },
    want: 'many',
  },
  { name: 'with sets dot', tmpl: '{{ with .A }}<{{ . }}>{{ else }}none{{ end }}', data: { A: 'x' }, want: '<x>' },
  { name: 'with else on empty', tmpl: '{{ with .A }}<{{ . }}>{{ else }}none{{ end }}', data: { A: '' }, want: 'none' },
  { name: 'with variable', tmpl: '{{ with $x := .A }}{{ $x }}{{ . }}{{ end }}', data: { A: 'q' }, want: 'qq' },
  {
    name: 'else with',
    tmpl: '{{ with .A }}a{{ else with .B }}b{{ . }}{{ else }}c{{ end }}',
    data: { A: '', B: 'q' },
    want: 'bq',
  },
  // builtins and pipelines
  { name: 'pipeline into printf %q', tmpl: '{{ .A | printf "%q" }}', data: { A: 'hi "x"' }, want: '"hi \\"x\\""' },
  { name: 'pipeline value is the last argument', tmpl: '{{ "x" | printf "%s-%s" "y" }}', want: 'y-x' },
  { name: 'multi-stage pipeline', tmpl: '{{ .A | printf "%s!" | printf "<%s>" }}', data: { A: 'z' }, want: '<z!>' },
  {
    name: 'printf verbs',
    tmpl: '{{ printf "%s=%d %v %q %t %x" "a" 5 true "b\\n" false 255 }}',
    want: 'a=5 true "b\\n" false ff',
  },
  { name: 'printf width and flags', tmpl: '{{ printf "%5s|%-4d|%05d|%.2f" "ab" 7 42 3.14159 }}', want: '   ab|7   |00042|3.14' },
  { name: 'printf bad verb', tmpl: '{{ printf "%d" "x" }}', want: '%!d(string=x)' },
  { name: 'printf missing argument', tmpl: '{{ printf "%s %s" "a" }}', want: 'a %!s(MISSING)' },
  { name: 'printf extra argument', tmpl: '{{ printf "%s" "a" "b" }}', want: 'a%!(EXTRA string=b)' },
  { name: 'printf %%', tmpl: '{{ printf "100%%" }}', want: '100%' },
  { name: 'print spacing like fmt.Sprint', tmpl: '{{ print "a" "b" 1 2 "c" }}', want: 'ab1 2c' },
  { name: 'println', tmpl: '{{ println "a" 1 }}', want: 'a 1\n' },
  {
    name: 'len of string (bytes), list, map',
    tmpl: '{{ len .S }} {{ len .L }} {{ len .M }}',
    data: { S: 'héllo', L: list, M: new Map([['k', 'v']]) },
    want: '6 2 1',
  },
  {
    name: 'index list, map, nested',
    tmpl: '{{ index .L 1 }} {{ index .M "k" }} {{ index .N 1 0 }}',
    data: { L: list, M: new Map([['k', 'v']]), N: [[0], ['n']] },
    want: 'b v n',
  },
  { name: 'eq with several candidates', tmpl: '{{ eq .A "x" "y" }} {{ eq .A "z" }}', data: { A: 'y' }, want: 'true false' },
  { name: 'ne and not', tmpl: '{{ ne 1 2 }} {{ not 0 }} {{ not "s" }}', want: 'true true false' },
  { name: 'and/or return the deciding value', tmpl: '{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 "" "z" }} [{{ or 0 "" }}]', want: '0 2 z []' },
  { name: 'comparisons', tmpl: '{{ lt 1 2 }} {{ gt "b" "a" }} {{ le 2 2 }} {{ ge 1 2 }}', want: 'true true true false' },
  { name: 'parenthesised pipeline', tmpl: '{{ printf "%s" (printf "%d" 3) }}', want: '3' },
  { name: 'field of a parenthesised pipeline', tmpl: '{{ (index .L 0).A }}', data: { L: [{ A: 'pa' }] }, want: 'pa' },
  { name: 'function without args as argument', tmpl: '{{ printf "%s" stamp }}', funcs: { stamp: () => 'S' }, want: 'S' },
  { name: 'custom function in pipeline', tmpl: '{{ .A | up }}', data: { A: 'ab' }, funcs: { up: (s) => String(s).toUpperCase() }, want: 'AB' },
  // literals and formatting
  { name: 'raw string', tmpl: '{{ `a\\nb` }}', want: 'a\\nb' },
  { name: 'escaped string', tmpl: '{{ "a\\tb\\u00e9" }}', want: 'a\tbé' },
  { name: 'char constant is a number', tmpl: "{{ 'a' }} {{ printf \"%c\" 'b' }}", want: '97 b' },
  { name: 'hex number', tmpl: '{{ 0x1F }}', want: '31' },
  { name: 'missing Map key prints <no value>', tmpl: '[{{ .M.nope }}]', data: { M: new Map() }, want: '[<no value>]' },
  { name: 'null prints <nil>', tmpl: '{{ .A }}', data: { A: null }, want: '<nil>' },
  { name: 'list and map formatting', tmpl: '{{ .L }} {{ .M }}', data: { L: ['a', 'b'], M: { b: 'x', a: 1 } }, want: '[a b] map[a:1 b:x]' },
  { name: 'bool formatting', tmpl: '{{ .T }}/{{ .F }}', data: { T: true, F: false }, want: 'true/false' },
];

describe('gotemplate: execute', () => {
  for (const c of cases) {
    it(c.name, () => {
      const t = parseTemplate(c.tmpl, c.funcs ? { funcs: c.funcs } : {});
      assert.equal(t.execute(c.data ?? {}), c.want);
    });
  }
});

describe('gotemplate: Go truthiness', () => {
  const falsy: [string, unknown][] = [
    ['false', false],
    ['0', 0],
    ['empty string', ''],
    ['empty list', []],
    ['empty Map', new Map()],
    ['empty object', {}],
    ['nil', null],
  ];
  const truthy: [string, unknown][] = [
    ['true', true],
    ['1', 1],
    ['-1', -1],
    ['0.5', 0.5],
    ['string', 'x'],
    ['space string', ' '],
    ['list', [0]],
    ['Map', new Map([['a', 1]])],
    ['object', { a: 0 }],
  ];
  const t = parseTemplate('{{ if .V }}T{{ else }}F{{ end }}');
  for (const [name, v] of falsy) it(`${name} is false`, () => assert.equal(t.execute({ V: v }), 'F'));
  for (const [name, v] of truthy) it(`${name} is true`, () => assert.equal(t.execute({ V: v }), 'T'));
  it('a missing Map entry is false', () => assert.equal(parseTemplate('{{ if .M.x }}T{{ else }}F{{ end }}').execute({ M: new Map() }), 'F'));
});

describe('gotemplate: %v formatting of numbers like Go', () => {
  const rows: [number, string][] = [
    [0, '0'],
    [42, '42'],
    [-7, '-7'],
    [1.5, '1.5'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1234567.5, '1.2345675e+06'],
    [123456.5, '123456.5'],
    [1e21, '1e+21'],
    [1e15, '1000000000000000'],
    [-2.5, '-2.5'],
    [-Infinity, '-Inf'],
    [1.5e300, '1.5e+300'],
  ];
  for (const [n, want] of rows) it(`${n} → ${want}`, () => assert.equal(formatValue(n), want));
  it('%g/%e/%f through sprintf', () => {
    assert.equal(sprintf('%g %e %.3f %8.2f|%-6.1f|', 0.5, 1234.5678, 2.0, -3.14159, 1.25), '0.5 1.234568e+03 2.000    -3.14|1.2   |');
  });
  it('%q escapes like strconv.Quote', () => {
    assert.equal(sprintf('%q', 'a\u0000b\u007f\u00e9\u2028😀\t'), '"a\\x00b\\x7fé\\u2028😀\\t"');
  });
});

interface ErrCase {
  name: string;
  tmpl: string;
  data?: unknown;
  phase: 'parse' | 'exec';
  line: number;
  msg: RegExp;
  funcs?: Record<string, TemplateFunc>;
}

const errors: ErrCase[] = [
  { name: 'unknown field', tmpl: '{{ .Missing }}', data: { A: 1 }, phase: 'exec', line: 1, msg: /can't evaluate field Missing/ },
  {
    name: 'unknown nested field reports its line',
    tmpl: 'x\ny\n  {{ .A.Nope }}',
    data: { A: { B: 1 } },
    phase: 'exec',
    line: 3,
    msg: /user-data:3:5: executing "user-data" at <\.A\.Nope>: can't evaluate field Nope/,
  },
  { name: 'field of a string', tmpl: '{{ .A.B }}', data: { A: 's' }, phase: 'exec', line: 1, msg: /can't evaluate field B in type string/ },
  { name: 'unclosed action', tmpl: 'a\n{{ .A', phase: 'parse', line: 2, msg: /^template: user-data:2: unclosed action$/ },
  { name: 'unclosed action before text', tmpl: '{{ .A \n\n text', phase: 'parse', line: 1, msg: /unclosed action/ },
  { name: 'unknown function', tmpl: 'ok\n{{ foo 1 }}', phase: 'parse', line: 2, msg: /function "foo" not defined/ },
  { name: 'unknown function in pipeline', tmpl: '{{ .A | toYaml }}', phase: 'parse', line: 1, msg: /function "toYaml" not defined/ },
  { name: 'missing end', tmpl: '{{ if .A }}\nx', phase: 'parse', line: 2, msg: /unexpected EOF/ },
  { name: 'stray end', tmpl: 'a{{ end }}', phase: 'parse', line: 1, msg: /unexpected \{\{end\}\}/ },
  { name: 'stray else', tmpl: 'a{{ else }}', phase: 'parse', line: 1, msg: /unexpected \{\{else\}\}/ },
  { name: 'undefined variable', tmpl: '{{ $x }}', phase: 'parse', line: 1, msg: /undefined variable "\$x"/ },
  {
    name: 'variable out of scope after end',
    tmpl: '{{ range $v := .L }}{{ end }}{{ $v }}',
    phase: 'parse',
    line: 1,
    msg: /undefined variable "\$v"/,
  },
  { name: 'unclosed comment', tmpl: '{{/* x', phase: 'parse', line: 1, msg: /unclosed comment/ },
  { name: 'break outside range', tmpl: '{{ break }}', phase: 'parse', line: 1, msg: /outside \{\{range\}\}/ },
  { name: 'define is not supported', tmpl: '{{ define "x" }}{{ end }}', phase: 'parse', line: 1, msg: /not supported/ },
  { name: 'empty action', tmpl: '{{ }}', phase: 'parse', line: 1, msg: /missing value for command/ },
  { name: 'unterminated string', tmpl: '{{ "abc }}', phase: 'parse', line: 1, msg: /unterminated quoted string/ },
  { name: 'index out of range', tmpl: '{{ index .L 5 }}', data: { L: [1] }, phase: 'exec', line: 1, msg: /error calling index: index out of range: 5/ },
  { name: 'incompatible eq', tmpl: '{{ eq 1 "1" }}', phase: 'exec', line: 1, msg: /incompatible types for comparison/ },
  { name: 'wrong arg count', tmpl: '{{ not 1 2 }}', phase: 'exec', line: 1, msg: /wrong number of args for not: want 1 got 2/ },
  { name: 'range over a string', tmpl: '{{ range .S }}{{ end }}', data: { S: 'abc' }, phase: 'exec', line: 1, msg: /range can't iterate over/ },
  { name: 'argument to a field', tmpl: '{{ .A 1 }}', data: { A: 'x' }, phase: 'exec', line: 1, msg: /can't give argument to non-function/ },
  {
    name: 'function error is wrapped',
    tmpl: '{{ boom }}',
    funcs: { boom: () => { throw new Error('kaput'); } },
    phase: 'exec',
    line: 1,
    msg: /error calling boom: kaput/,
  },
];

describe('gotemplate: errors', () => {
  for (const c of errors) {
    it(c.name, () => {
      assert.throws(
        () => parseTemplate(c.tmpl, c.funcs ? { funcs: c.funcs } : {}).execute(c.data ?? {}),
        (e: unknown) => {
          assert.ok(e instanceof TemplateError, `not a TemplateError: ${String(e)}`);
          assert.equal(e.phase, c.phase, e.message);
          assert.equal(e.line, c.line, e.message);
          assert.match(e.message, c.msg);
          return true;
        },
      );
    });
  }

  it('parse errors happen at parse time, not at execute time', () => {
    assert.throws(() => parseTemplate('{{ nope }}'), TemplateError);
  });

  it('error messages never contain data values', () => {
    const data = { Token: 'sup3r-s3cret', L: ['sup3r-s3cret'], M: new Map([['k', 'sup3r-s3cret']]) };
    for (const tmpl of ['{{ .Token.X }}', '{{ range .Token }}{{ end }}', '{{ index .L 3 }}', '{{ eq .Token 1 }}', '{{ .Token 1 }}', '{{ len 5 }}']) {
      assert.throws(
        () => parseTemplate(tmpl).execute(data),
        (e: unknown) => e instanceof TemplateError && !e.message.includes('sup3r'),
        tmpl,
      );
    }
  });
});

describe('gotemplate: printf rounding like Go (exact ties to even)', () => {
  const rows: [string, unknown[], string][] = [
    ['%.1f', [1.25], '1.2'],
    ['%.1f', [1.35], '1.4'], // 1.35 is 1.350000000000000088… in binary: not a tie
    ['%.0f', [2.5], '2'],
    ['%.0f', [3.5], '4'],
    ['%.2e', [1.125], '1.12e+00'],
    ['%e', [0], '0.000000e+00'],
    ['%.3g', [1234.5], '1.23e+03'],
    ['%g', [100000], '100000'],
    ['%g', [1e6], '1e+06'],
    ['%f', [-0.5], '-0.500000'],
    ['%+d %+.1f', [3, 2.25], '+3 +2.2'],
    ['%f', [Infinity], '+Inf'],
  ];
  for (const [fmt, args, want] of rows) {
    it(`${fmt} ${args.join(' ')} → ${want}`, () => assert.equal(sprintf(fmt, ...args), want));
  }
});
