// Questions on the terminal: a line of text, a hidden password, a yes/no confirmation.
import { createInterface } from 'node:readline/promises';
import { CliError, EXIT } from './errors';

export const interactive = () => Boolean(process.stdin.isTTY && process.stderr.isTTY);

export async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  rl.on('SIGINT', () => {
    rl.close();
    process.stderr.write('\n');
    process.exit(EXIT.interrupted);
  });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** Reads a line without echoing it (the terminal in raw mode); Ctrl-C stops the CLI. */
export function askHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new CliError('a password prompt needs a terminal', EXIT.usage);
  return new Promise((resolve) => {
    let value = '';
    // Echo off before the prompt shows: what is typed right after it must not appear.
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    process.stderr.write(question);
    const done = () => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          process.exit(EXIT.interrupted);
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Yes/no on a terminal (default no); without one, `--yes` is needed. */
export async function confirm(question: string): Promise<boolean> {
  if (!interactive())
    throw new CliError('this needs a confirmation: run it on a terminal or add --yes', EXIT.usage);
  const answer = await ask(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer);
}

/** All of stdin (for `--with-token` and `--password-stdin`), trimmed. */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliError('nothing on stdin: pipe the value in', EXIT.usage);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}
