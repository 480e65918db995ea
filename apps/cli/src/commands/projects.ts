// Projects: list, add, show (with its open tasks), edit, rm.
import { unwrap, unwrapBody } from '@taskman/sdk';
import type { Command } from 'commander';
import { abbreviate, Context, shortId } from '../context';
import { ago } from '../dates';
import { CliError, EXIT } from '../errors';
import { note, paint, printFields, printJson, println, printTable } from '../output';
import { confirm } from '../prompt';
import { printTasks } from './tasks';
import { examples } from './util';

export function registerProjectCommands(program: Command): void {
  const project = program
    .command('project')
    .alias('projects')
    .summary('list, add, show, edit and delete projects')
    .addHelpText(
      'after',
      examples([
        'taskman project',
        'taskman project add Garden -d "Spring planting"',
        'taskman project show garden',
      ]),
    );

  project
    .command('list', { isDefault: true })
    .alias('ls')
    .summary('your projects')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const projects = await ctx.call('Loading projects…', ctx.projects());
      if (ctx.out.json) return printJson(projects);
      if (projects.length === 0) return note(ctx.out, 'No projects yet. Add one: taskman project add NAME');
      const ids = abbreviate(projects.map((p) => p.id));
      const rows = projects.map((p, i) => ({ p, id: ids[i]! }));
      printTable(ctx.out, rows, [
        { header: 'id', value: (r) => r.id, plain: (r) => r.p.id, style: () => 'yellow' },
        { header: 'name', value: (r) => r.p.name, style: () => 'cyan' },
        { header: 'description', value: (r) => r.p.description ?? '', flexible: true, style: () => 'dim' },
      ]);
    });

  project
    .command('add')
    .summary('create a project')
    .argument('<name...>', 'its name')
    .option('-d, --description <text>', 'what it is about')
    .action(async (words: string[], o: { description?: string }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const name = words.join(' ').trim();
      const created = await ctx.call(
        'Creating…',
        unwrap(
          ctx.api.POST('/api/v1/projects', {
            body: { name, ...(o.description ? { description: o.description } : {}) },
          }),
        ),
      );
      if (ctx.out.json) return printJson(created);
      println(
        `${paint(ctx.out, 'green', 'Created')} ${paint(ctx.out, 'yellow', shortId(created.id).slice(0, 7))}  ${created.name}`,
      );
    });

  project
    .command('show')
    .summary('a project and its open tasks')
    .argument('<project>', 'its name (or a unique start of it) or id')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const p = await ctx.call('Loading…', ctx.project(ref));
      const [tasks, tz] = await Promise.all([
        unwrapBody(
          ctx.api.GET('/api/v1/tasks', {
            params: {
              query: { project_id: p.id, status: ['todo', 'in_progress'], sort: 'due_date', limit: 100 },
            },
          }),
        ),
        ctx.timeZone(),
      ]);
      if (ctx.out.json) return printJson({ ...p, open_tasks: tasks.data });
      println(paint(ctx.out, 'bold', p.name));
      printFields(ctx.out, [
        ['ID', `${shortId(p.id).slice(0, 7)}  ${paint(ctx.out, 'dim', p.id)}`],
        ['Notes', p.description ?? undefined],
        ['Open tasks', String(tasks.meta.total)],
        ['Created', ago(p.created_at)],
      ]);
      if (tasks.data.length) {
        println();
        printTasks(ctx, tasks.data, tz, [p]);
      }
    });

  project
    .command('edit')
    .summary('rename a project or change its description')
    .argument('<project>', 'its name (or a unique start of it) or id')
    .option('--name <name>', 'a new name')
    .option('-d, --description <text>', 'a new description')
    .option('--no-description', 'clear the description')
    .action(async (ref: string, o: { name?: string; description?: string | false }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const body: { name?: string; description?: string | null } = {};
      if (o.name !== undefined) body.name = o.name;
      if (o.description === false) body.description = null;
      else if (o.description !== undefined) body.description = o.description;
      if (Object.keys(body).length === 0)
        throw new CliError('nothing to change: --name or --description', EXIT.usage);
      const p = await ctx.project(ref);
      const updated = await ctx.call(
        'Saving…',
        unwrap(
          ctx.api.PATCH('/api/v1/projects/{id}', {
            params: { path: { id: p.id }, header: { 'if-match': `"${p.version}"` } as never },
            body,
          }),
        ),
      );
      if (ctx.out.json) return printJson(updated);
      println(`${paint(ctx.out, 'green', 'Updated')} ${updated.name}`);
    });

  project
    .command('rm')
    .alias('delete')
    .summary('delete a project (its tasks move to no project)')
    .argument('<project>', 'its name (or a unique start of it) or id')
    .option('-y, --yes', 'do not ask')
    .action(async (ref: string, o: { yes?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const p = await ctx.project(ref);
      if (!o.yes && !(await confirm(`Delete the project "${p.name}"? Its tasks stay, in no project.`))) {
        note(ctx.out, 'Nothing deleted.');
        process.exitCode = EXIT.error;
        return;
      }
      await ctx.call(
        'Deleting…',
        ctx.expectOk(
          ctx.api.DELETE('/api/v1/projects/{id}', {
            params: { path: { id: p.id }, header: { 'if-match': `"${p.version}"` } as never },
          }),
        ),
      );
      if (ctx.out.json) return printJson({ id: p.id, deleted: true });
      println(`${paint(ctx.out, 'red', 'Deleted')} ${p.name}`);
    });
}
