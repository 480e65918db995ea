// Runs the built `taskman` as a user would: a subprocess with its own config folder, its output
// piped (plain text) or on a pseudo-terminal (`script` from util-linux), against a real API server.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';

export const CLI_DIR = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
export const BUNDLE = path.join(CLI_DIR, 'dist/taskman.mjs');

/** Builds dist/taskman.mjs from the sources (esbuild: well under a second), so tests run the current code. */
export async function buildCli(): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(CLI_DIR, 'build.mjs')], { cwd: CLI_DIR });
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A user of the CLI: a home and config folder of their own. */
export class CliUser {
  private constructor(
    readonly home: string,
    readonly env: Record<string, string>,
  ) {}

  static async create(env: Record<string, string> = {}): Promise<CliUser> {
    const home = await mkdtemp(path.join(tmpdir(), 'taskman-cli-'));
    return new CliUser(home, { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), ...env });
  }

  get configFile(): string {
    return path.join(this.home, '.config/taskman/config.json');
  }

  /** Runs `taskman …` with pipes for stdin, stdout and stderr. */
  run(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BUNDLE, ...args], {
        env: { PATH: process.env.PATH ?? '', ...this.env, ...opts.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(opts.input ?? '');
    });
  }

  /** Runs `taskman …` on a pseudo-terminal (120 columns), to type into it and read the screen. */
  terminal(args: string[], env: Record<string, string> = {}): Terminal {
    const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const command = `stty cols 120 rows 40; exec '${process.execPath}' '${BUNDLE}' ${quoted}`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'xterm-256color', ...this.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    const waiters: (() => void)[] = [];
    const onData = (d: Buffer) => {
      screen += d.toString('utf8');
      for (const w of waiters.splice(0)) w();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    return {
      output: () => screen,
      type: (text: string) => {
        child.stdin.write(text);
      },
      async waitFor(pattern: RegExp, ms = 15_000) {
        const deadline = Date.now() + ms;
        while (!pattern.test(screen)) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen:\n${screen}`);
          await new Promise<void>((r) => {
            waiters.push(r);
            setTimeout(r, 200);
          });
        }
      },
      async exit() {
        const code = await exit;
        child.stdin.end();
        return code;
      },
    };
  }
}

export interface Terminal {
  output(): string;
  type(text: string): void;
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  exit(): Promise<number>;
}

/** The visible text of terminal output: colours and cursor codes removed, CRLF → LF. */
export const visible = (s: string) => stripVTControlCharacters(s).replace(/\r\n/g, '\n').replace(/\r/g, '');

/** True when the text holds an SGR colour code (ESC [ 3x m). */
export const hasColour = (s: string) => new RegExp(`${String.fromCharCode(27)}\\[3\\d(;\\d+)*m`).test(s);

/** The output of a run never shows a stack trace. */
export const NO_STACK = /\n\s+at .+\(.+:\d+:\d+\)|node:internal|Error: .*\n\s+at /;
