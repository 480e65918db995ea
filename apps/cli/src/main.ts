// taskman: the Taskman command-line client.
import { Command } from 'commander';
import { VERSION } from './api';
import { registerAuthCommands } from './commands/auth';
import { registerCompletion } from './commands/completion';
import { registerIntegrationCommands } from './commands/integrations';
import { registerProjectCommands } from './commands/projects';
import { registerReportCommand } from './commands/report';
import { registerTaskCommands } from './commands/tasks';
import { examples } from './commands/util';
import { EXIT, toCliError } from './errors';

const program = new Command('taskman')
  .description('Taskman from the command line: tasks, projects, reports and more.')
  .version(VERSION, '-v, --version', 'print the version')
  .helpOption('-h, --help', 'help for a command')
  .option('--json', 'print JSON (for scripts)')
  .option('--no-color', 'no colours (NO_COLOR=1 does the same)')
  .option('--api-url <url>', 'the Taskman server (default: the one you signed in to)')
  .showSuggestionAfterError(true)
  .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
  .configureOutput({
    outputError: (text, write) => write(`taskman: ${text.replace(/^error: /, '')}`),
  })
  .addHelpText(
    'after',
    `
Examples:
  $ taskman login
  $ taskman add Pay rent tomorrow 9am !high #home +Finance
  $ taskman list today
  $ taskman done 3fa9
  $ taskman report --week

Tasks are named by the ID that \`taskman list\` shows, or its first few characters (as git does).
Settings: TASKMAN_API_URL and TASKMAN_TOKEN override the config file; NO_COLOR turns colours off.
Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 not signed in or not allowed, 4 not found, 5 server unreachable.`,
  );

registerAuthCommands(program);
registerTaskCommands(program);
registerProjectCommands(program);
registerReportCommand(program);
registerIntegrationCommands(program);
registerCompletion(program);

// Examples for the commands that do not give their own (every command's --help has some).
const MORE_EXAMPLES: Record<string, string[]> = {
  logout: ['taskman logout'],
  whoami: ['taskman whoami', 'taskman whoami --json'],
  config: ['taskman config set api-url https://tasks.example.com', 'taskman config get api-url'],
  'config get': ['taskman config get api-url'],
  'config path': ['taskman config path'],
  'project list': ['taskman project list', 'taskman project list --json'],
  'project add': ['taskman project add Garden', 'taskman project add "Home office" -d "Desk, chair, lamp"'],
  'project show': ['taskman project show garden', 'taskman project show gar --json'],
  'project edit': [
    'taskman project edit Garden --name Backyard',
    'taskman project edit garden --no-description',
  ],
  'project rm': ['taskman project rm Garden', 'taskman project rm garden --yes'],
  'api-key': ['taskman api-key list', 'taskman api-key create Backup --scope tasks:read'],
  'api-key list': ['taskman api-key list'],
  'api-key revoke': ['taskman api-key revoke 3fa9c21'],
  webhook: ['taskman webhook list', 'taskman webhook deliveries 3fa9 --failed'],
  'webhook list': ['taskman webhook list', 'taskman webhook list --json'],
  'webhook deliveries': [
    'taskman webhook deliveries 3fa9',
    'taskman webhook deliveries https://example.com/hook --failed',
  ],
  'webhook add': [
    'taskman webhook add https://example.com/hook',
    'taskman webhook add https://example.com/hook -e task.created -e task.completed',
  ],
  'webhook ping': ['taskman webhook ping 3fa9'],
  'webhook rm': ['taskman webhook rm 3fa9 --yes'],
  calendar: ['taskman calendar feed', 'taskman calendar feed --new'],
  'calendar feed': ['taskman calendar feed', 'taskman calendar feed --new', 'taskman calendar feed --revoke'],
};
const pathOf = (cmd: Command): string =>
  cmd.parent && cmd.parent !== program ? `${pathOf(cmd.parent)} ${cmd.name()}` : cmd.name();
const addExamples = (cmd: Command) => {
  const lines = MORE_EXAMPLES[pathOf(cmd)];
  if (lines) cmd.addHelpText('after', examples(lines));
  for (const sub of cmd.commands) addExamples(sub);
};
for (const cmd of program.commands) addExamples(cmd);

// Every command: usage errors exit 2 (commander says what is wrong and suggests the right spelling).
const exitOverride = (cmd: Command) => {
  cmd.exitOverride((err) => {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    )
      process.exit(EXIT.ok);
    if (err.code === 'commander.executeSubCommandAsync') process.exit(err.exitCode);
    process.exit(EXIT.usage);
  });
  for (const sub of cmd.commands) exitOverride(sub);
};
exitOverride(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = toCliError(err);
  const color = process.stderr.isTTY && !process.env.NO_COLOR && !process.argv.includes('--no-color');
  const prefix = color ? '\x1b[31mtaskman:\x1b[39m' : 'taskman:';
  process.stderr.write(`${prefix} ${e.message}\n`);
  for (const hint of e.hints) process.stderr.write(`  ${hint}\n`);
  if (process.env.TASKMAN_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = e.exitCode;
}
