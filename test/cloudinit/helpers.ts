// Shared inputs for the cloud-init tests (not a test file itself).
import type { RandomFn } from '../../src/util/clock.js';

/** Values that break naive YAML templating (Go's default template renders most of these into broken YAML). */
export const NASTY_VALUES: readonly string[] = [
  'a: b',
  'a:b',
  'x #y',
  'x#y',
  '#comment',
  '"quoted"',
  "'single'",
  "it's",
  'line1\nline2',
  'trailing newline\n',
  '\nleading newline',
  'crlf\r\nline',
  '- dash',
  '-dash',
  '? question',
  '{json: 1}',
  '{}',
  '[1, 2]',
  '[]',
  '*star',
  '&anchor',
  '!tag',
  '!!str x',
  '|',
  '>folded',
  '%percent',
  '@at',
  '`backtick`',
  'back\\slash',
  '\\n literally',
  'tab\there',
  'ünïcödé 日本 😀',
  '\u00a0nbsp\u00a0',
  '\u2028ls\u2029ps',
  '\u0085nel',
  'bom\ufeff',
  'ctrl\u0001\u001b[31m',
  'del\u007f',
  ' ',
  '   ',
  ' padded ',
  '',
  'yes',
  'No',
  'on',
  'null',
  '~',
  '=',
  '<<',
  '123',
  '0x1F',
  '1:20',
  '1e3',
  '.inf',
  '-.5',
  '2001-12-14',
  'true',
  '$HOME',
  '${UNSET}',
  '${broken',
  '$$double',
  'a,b,c',
  'k=v=w',
  '--- doc',
  '... end',
  'ends with colon:',
  '"unbalanced',
  "'unbalanced",
  '{unbalanced',
  'mixed: "q" #c \'s\' \\ \n - x',
];

const POOL: readonly string[] = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...' -_=:#,.;/?!*&%@`~^|<>"\'\\$[]{}()+',
  '\n',
  '\t',
  '\r',
  '\u0000',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\ufeff',
  'é',
  '日',
  '😀',
  ': ',
  ' #',
  '- ',
  '${',
];

/** A random string of 0–`max` pieces drawn from a pool full of YAML/shell/compose specials. */
export function randomNasty(rnd: RandomFn, max = 24): string {
  const n = Math.floor(rnd() * (max + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += POOL[Math.floor(rnd() * POOL.length)];
  return s;
}

/** Compose turns `$$` back into `$`. */
export function composeUnescape(s: string): string {
  return s.replace(/\$\$/g, '$');
}
