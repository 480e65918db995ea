// Shell completion for bash and zsh. The scripts are small: they ask `taskman __complete` for the
// candidates, so commands, flags, their values, project names and task ids are always current.

import { unwrapBody } from '@taskman/sdk';
import type { Command, Option } from 'commander';
import { abbreviate, Context } from '../context';
import { CliError, EXIT } from '../errors';
import { println } from '../output';
import { examples } from './util';

const BASH = `# taskman completion for bash: add to ~/.bashrc
#   source <(taskman completion bash)
_taskman_complete() {
  local IFS=$'\\n'
  COMPREPLY=( $(taskman __complete bash "\${COMP_WORDS[@]:1:$COMP_CWORD}" 2>/dev/null) )
}
complete -o default -F _taskman_complete taskman
`;

const ZSH = `#compdef taskman
# taskman completion for zsh: add to ~/.zshrc
#   source <(taskman completion zsh)
_taskman() {
  local -a items
  items=("\${(@f)$(taskman __complete zsh "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  [[ -n "\${items[1]}" ]] && _describe 'taskman' items
}
compdef _taskman taskman
`;

/** Commands whose arguments are task ids. */
const TASK_ID_COMMANDS = new Set(['show', 'edit', 'done', 'reopen', 'start', 'rm', 'archive', 'unarchive']);
const PROJECT_FLAGS = new Set(['--project', '-P']);

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .summary('print the shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      examples([
        'source <(taskman completion bash)   # in ~/.bashrc',
        'source <(taskman completion zsh)    # in ~/.zshrc',
      ]),
    )
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(BASH);
      else if (shell === 'zsh') process.stdout.write(ZSH);
      else throw new CliError(`completion for "${shell}" is not available: bash or zsh`, EXIT.usage);
    });

  program
    .command('__complete', { hidden: true })
    .argument('<shell>')
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (shell: string, words: string[], _o: unknown, cmd: Command) => {
      const items = await candidates(program, words, cmd);
      const zsh = shell === 'zsh';
      for (const [value, description] of items)
        println(
          zsh && description ? `${value.replace(/:/g, '\\:')}:${description.replace(/\n/g, ' ')}` : value,
        );
    });
}

async function candidates(program: Command, words: string[], cmd: Command): Promise<[string, string?][]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  let command = program;
  for (const w of before) {
    const sub = command.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (sub) command = sub;
  }
  const starts = (items: [string, string?][]) => items.filter(([v]) => v.startsWith(current));
  const previous = before.at(-1);
  const prevOption = previous?.startsWith('-') ? findOption(command, previous) : undefined;
  if (prevOption && (prevOption.required || prevOption.optional)) {
    if (prevOption.argChoices) return starts(prevOption.argChoices.map((c) => [c]));
    if (PROJECT_FLAGS.has(previous!)) return starts(await quietly(() => projectNames(cmd)));
    return [];
  }
  if (current.startsWith('-')) {
    const options = [...command.options, ...program.options].filter((o) => !o.hidden && o.long);
    return starts(options.map((o) => [o.long!, o.description]));
  }
  const subs = command.commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden);
  if (subs.length) return starts(subs.map((c) => [c.name(), c.summary() || c.description()]));
  if (TASK_ID_COMMANDS.has(command.name()) && command.parent === program)
    return starts(
      await quietly(() => taskIds(cmd, command.name() === 'reopen' || command.name() === 'unarchive')),
    );
  if (command.parent?.name() === 'project' && ['show', 'edit', 'rm'].includes(command.name()))
    return starts(await quietly(() => projectNames(cmd)));
  if (command.name() === 'list' && command.parent === program)
    return starts(['today', 'upcoming', 'overdue', 'all', 'archived'].map((v) => [v]));
  return [];
}

function findOption(command: Command, flag: string): Option | undefined {
  let c: Command | null = command;
  while (c) {
    const found = c.options.find((o) => o.long === flag || o.short === flag);
    if (found) return found;
    c = c.parent;
  }
  return undefined;
}

/** Completion never prints an error: without a server or a login it offers nothing. */
async function quietly(load: () => Promise<[string, string?][]>): Promise<[string, string?][]> {
  try {
    return await load();
  } catch {
    return [];
  }
}

async function taskIds(cmd: Command, closed: boolean): Promise<[string, string?][]> {
  const ctx = Context.of(cmd);
  const body = await unwrapBody(
    ctx.api.GET('/api/v1/tasks', {
      params: {
        query: closed
          ? { include_archived: true, sort: 'updated_at', limit: 50 }
          : { status: ['todo', 'in_progress'], sort: 'due_date', limit: 50 },
      },
    }),
  );
  const ids = abbreviate(body.data.map((t) => t.id));
  return body.data.map((t, i) => [ids[i]!, t.title]);
}

async function projectNames(cmd: Command): Promise<[string, string?][]> {
  const ctx = Context.of(cmd);
  return (await ctx.projects()).map((p) => [p.name, p.description ?? undefined]);
}
