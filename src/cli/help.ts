import { Help, type Command, type HelpConfiguration } from 'commander';

/**
 * `--help` that fits the terminal: commander stops wrapping once the longest option term leaves fewer than 40
 * columns for the descriptions, and one long placeholder then gives 400-column lines. Here the term column is capped
 * (a longer term gets its own line, its description the next ones), descriptions always wrap, and a word longer
 * than the line is broken (after a `,` `/` `=` when there is one).
 */

const MIN_WIDTH = 40;
const MAX_WIDTH = 100;

/**
 * The help width: the terminal's columns on a TTY, else `COLUMNS`, else 80; kept within 40..100 (long lines read
 * badly even on a wide terminal).
 */
export function helpWidth(
  stdout: { isTTY?: boolean; columns?: number },
  env: Readonly<Record<string, string | undefined>>,
): number {
  const fromEnv = /^\d+$/.test(env.COLUMNS ?? '') ? Number(env.COLUMNS) : undefined;
  const raw = stdout.isTTY === true && stdout.columns !== undefined && stdout.columns > 0 ? stdout.columns : (fromEnv ?? 80);
  return Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, raw));
}

/** Splits a word longer than `width` into pieces, preferring to break after `,` `/` `=` in the second half. */
function breakWord(word: string, width: number): string[] {
  const out: string[] = [];
  let rest = word;
  while ([...rest].length > width) {
    const head = rest.slice(0, width);
    const at = Math.max(head.lastIndexOf(','), head.lastIndexOf('/'), head.lastIndexOf('='));
    const cut = at >= width / 2 ? at + 1 : width;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest !== '') out.push(rest);
  return out;
}

/** Word-wraps every line of `text` to `width` columns; no line is left longer. */
export function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if ([...line].length <= width) {
      lines.push(line);
      continue;
    }
    let current = '';
    for (const word of line.split(/\s+/).filter((w) => w !== '')) {
      for (const piece of breakWord(word, width)) {
        if (current === '') current = piece;
        else if ([...current].length + 1 + [...piece].length <= width) current += ` ${piece}`;
        else {
          lines.push(current);
          current = piece;
        }
      }
    }
    lines.push(current);
  }
  return lines.join('\n');
}

/** Commander help settings for `width` columns. */
export function helpLayout(width: number): HelpConfiguration {
  const termColumn = Math.floor(width * 0.4);
  return {
    helpWidth: width,
    minWidthToWrap: 10,
    padWidth(cmd: Command, helper: Help): number {
      return Math.min(termColumn, Help.prototype.padWidth.call(helper, cmd, helper));
    },
    boxWrap(str: string, w: number): string {
      return wrapText(str, w);
    },
    formatItem(term: string, termWidth: number, description: string, helper: Help): string {
      const indent = '  ';
      if (!description) return indent + term;
      const descWidth = Math.max(20, width - indent.length - termWidth - 2);
      const pad = ' '.repeat(indent.length + termWidth + 2);
      const lines = wrapText(description, descWidth).split('\n');
      if (helper.displayWidth(term) > termWidth) {
        return [indent + term, ...lines.map((l) => pad + l)].join('\n');
      }
      const [first = '', ...rest] = lines;
      return [indent + term.padEnd(termWidth) + '  ' + first, ...rest.map((l) => pad + l)].join('\n');
    },
  };
}

/** Applies the layout to `cmd` and every subcommand below it (commands made with `new Command` inherit nothing). */
export function applyHelpLayout(cmd: Command, width: number): void {
  cmd.configureHelp(helpLayout(width));
  for (const sub of cmd.commands) applyHelpLayout(sub, width);
}
