// What the CLI prints: aligned, coloured tables on a terminal; tab-separated plain text when piped;
// JSON with --json. Colour follows the terminal, NO_COLOR, FORCE_COLOR and --no-color.
import { styleText } from 'node:util';
import stringWidth from 'string-width';

type Style = Parameters<typeof styleText>[0];

export interface Output {
  /** stdout is a terminal: tables are aligned and cut to its width. */
  tty: boolean;
  color: boolean;
  /** Terminal width (80 when unknown). */
  width: number;
  /** --json: print JSON, nothing else, on stdout. */
  json: boolean;
}

export function detectOutput(opts: { json?: boolean; color?: boolean }, env = process.env): Output {
  const tty = Boolean(process.stdout.isTTY);
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  return {
    tty,
    color: opts.color !== false && !opts.json && !noColor && (force || (tty && env.TERM !== 'dumb')),
    width: process.stdout.columns || 80,
    json: Boolean(opts.json),
  };
}

export function paint(out: Output, style: Style, text: string): string {
  return out.color ? styleText(style, text, { validateStream: false }) : text;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function println(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A note for a person (on stderr, so it never mixes into piped data). */
export function note(out: Output, text: string): void {
  if (out.json) return;
  process.stderr.write(`${paint(out, 'dim', text)}\n`);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Colour of a cell (terminal only). */
  style?: (row: T) => Style | undefined;
  /** This column gives way (is cut with …) when the table is wider than the terminal. */
  flexible?: boolean;
  align?: 'left' | 'right';
  /** The value printed when piped (e.g. the full id instead of the short one). */
  plain?: (row: T) => string;
}

/** Cuts text to a display width, ending in … when it was longer. */
export function truncate(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  if (width <= 1) return '…'.slice(0, width);
  let out = '';
  for (const ch of text) {
    if (stringWidth(out + ch) > width - 1) break;
    out += ch;
  }
  return `${out}…`;
}

const pad = (text: string, width: number, align: 'left' | 'right' = 'left') => {
  const gap = ' '.repeat(Math.max(0, width - stringWidth(text)));
  return align === 'right' ? gap + text : text + gap;
};

/** Prints rows: aligned columns with a header on a terminal, tab-separated values when piped. */
export function printTable<T>(out: Output, rows: T[], columns: Column<T>[]): void {
  // A line break inside a value would break both forms.
  const clean = (s: string) => s.replace(/[\r\n\t]+/g, ' ');
  if (!out.tty) {
    for (const row of rows) println(columns.map((c) => clean((c.plain ?? c.value)(row))).join('\t'));
    return;
  }
  const cells = rows.map((row) => columns.map((c) => clean(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(stringWidth(c.header), ...cells.map((r) => stringWidth(r[i]!))),
  );
  const gap = 2;
  const total = widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1);
  const flex = columns.findIndex((c) => c.flexible);
  if (total > out.width && flex >= 0) {
    widths[flex] = Math.max(stringWidth(columns[flex]!.header), 10, widths[flex]! - (total - out.width));
  }
  const line = (values: string[], style: (i: number) => Style | undefined) =>
    values
      .map((v, i) => {
        const text = pad(truncate(v, widths[i]!), widths[i]!, columns[i]!.align);
        const s = v === '' ? undefined : style(i);
        return s ? paint(out, s, text) : text;
      })
      .join(' '.repeat(gap))
      .trimEnd();
  println(
    line(
      columns.map((c) => c.header.toUpperCase()),
      () => 'dim',
    ),
  );
  rows.forEach((row, r) => {
    println(line(cells[r]!, (i) => columns[i]!.style?.(row)));
  });
}

/** "Label   value" lines, the labels aligned (for `show`). Empty values are left out. */
export function printFields(out: Output, fields: [string, string | undefined, Style?][]): void {
  const shown = fields.filter(([, v]) => v !== undefined && v !== '');
  const width = Math.max(...shown.map(([k]) => stringWidth(k)));
  for (const [label, value, style] of shown) {
    const text = style ? paint(out, style, value!) : value!;
    println(`${paint(out, 'dim', pad(label, width))}  ${text.replace(/\n/g, `\n${' '.repeat(width + 2)}`)}`);
  }
}

/**
 * A spinner on stderr while a slow call runs: only on a terminal, only after 250 ms (a fast answer
 * shows nothing), and cleared before anything is printed.
 */
export async function withSpinner<T>(out: Output, label: string, work: Promise<T>): Promise<T> {
  if (!process.stderr.isTTY || out.json) return work;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  let shown = false;
  const draw = () => {
    shown = true;
    process.stderr.write(`\r${paint(out, 'cyan', frames[i++ % frames.length]!)} ${label}`);
  };
  let timer: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    draw();
    timer = setInterval(draw, 80);
  }, 250);
  try {
    return await work;
  } finally {
    clearTimeout(start);
    if (timer) clearInterval(timer);
    if (shown) process.stderr.write('\r\x1b[2K');
  }
}
