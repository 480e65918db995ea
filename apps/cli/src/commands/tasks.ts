// Tasks: add, list, show, edit, done, reopen, rm, archive, unarchive.
import type { Project, Task } from '@taskman/sdk';
import { unwrap, unwrapBody } from '@taskman/sdk';
import { TASK_VIEWS, type TaskQuery, type TaskView, viewQuery } from '@taskman/sdk/views';
import { Argument, type Command, Option } from 'commander';
import { abbreviate, Context, shortId } from '../context';
import { ago, describeDue, readDate, readWhole, relativeDue } from '../dates';
import { CliError, EXIT } from '../errors';
import { note, type Output, paint, printFields, printJson, println, printTable } from '../output';
import { confirm } from '../prompt';
import { collect, examples, splitList } from './util';

const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
const STATUSES = ['todo', 'in_progress', 'done'] as const;
const SORTS: Record<string, NonNullable<TaskQuery['sort']>> = {
  due: 'due_date',
  due_date: 'due_date',
  priority: 'priority',
  created: 'created_at',
  created_at: 'created_at',
  updated: 'updated_at',
  updated_at: 'updated_at',
};
type Priority = (typeof PRIORITIES)[number];
type Status = (typeof STATUSES)[number];

const priorityOption = () =>
  new Option('-p, --priority <priority>', 'low, medium, high or urgent').choices(PRIORITIES);

const STATUS_LABEL: Record<Status, string> = { todo: 'todo', in_progress: 'doing', done: 'done' };

function isOverdue(t: Task, now = new Date()): boolean {
  return t.status !== 'done' && t.due_date !== null && Date.parse(t.due_date) < now.getTime();
}

const priorityStyle = (p: string) =>
  p === 'urgent' ? (['red', 'bold'] as const) : p === 'high' ? 'yellow' : p === 'low' ? 'dim' : undefined;

/** The one-line summary after add/edit/done: "3fa9c21  Buy milk  (tomorrow 17:00 · high · #home)". */
function summary(out: Output, t: Task, tz: string, projects: Project[]): string {
  const bits = [
    t.due_date ? relativeDue(t.due_date, tz) : undefined,
    t.priority !== 'medium' ? t.priority : undefined,
    t.recurrence ? t.recurrence.description : undefined,
    ...t.tags.map((tag) => `#${tag}`),
    t.project_id ? projects.find((p) => p.id === t.project_id)?.name : undefined,
  ].filter(Boolean);
  const id = paint(out, 'yellow', shortId(t.id).slice(0, 7));
  return `${id}  ${t.title}${bits.length ? paint(out, 'dim', `  (${bits.join(' · ')})`) : ''}`;
}

export function printTasks(ctx: Context, tasks: Task[], tz: string, projects: Project[]): void {
  const ids = abbreviate(tasks.map((t) => t.id));
  const index = new Map(tasks.map((t, i) => [t.id, ids[i]!]));
  const projectName = (t: Task) =>
    t.project_id ? (projects.find((p) => p.id === t.project_id)?.name ?? '') : '';
  printTable(ctx.out, tasks, [
    { header: 'id', value: (t) => index.get(t.id)!, plain: (t) => t.id, style: () => 'yellow' },
    {
      header: 'status',
      value: (t) => STATUS_LABEL[t.status],
      plain: (t) => t.status,
      style: (t) => (t.status === 'done' ? 'green' : undefined),
    },
    {
      header: 'due',
      value: (t) => (t.due_date ? relativeDue(t.due_date, tz) : ''),
      plain: (t) => t.due_date ?? '',
      style: (t) => (isOverdue(t) ? 'red' : undefined),
    },
    { header: 'priority', value: (t) => t.priority, style: (t) => priorityStyle(t.priority) as never },
    {
      header: 'title',
      value: (t) => (t.recurrence ? `${t.title} ↻` : t.title),
      plain: (t) => t.title,
      flexible: true,
      style: (t) => (t.status === 'done' ? 'dim' : undefined),
    },
    { header: 'project', value: projectName, style: () => 'cyan' },
    {
      header: 'tags',
      value: (t) => t.tags.map((x) => `#${x}`).join(' '),
      plain: (t) => t.tags.join(','),
      style: () => 'magenta',
    },
  ]);
}

async function listTasks(
  ctx: Context,
  query: TaskQuery,
  limit: number,
): Promise<{ tasks: Task[]; total: number }> {
  const tasks: Task[] = [];
  let total = 0;
  for (let page = 1; tasks.length < limit; page++) {
    const size = Math.min(100, limit);
    const body = await unwrapBody(
      ctx.api.GET('/api/v1/tasks', { params: { query: { ...query, page, limit: size } } }),
    );
    total = body.meta.total;
    tasks.push(...body.data);
    if (page >= body.meta.total_pages || body.data.length === 0) break;
  }
  return { tasks: tasks.slice(0, limit), total };
}

interface Fields {
  due?: string | false;
  remind?: string | false;
  priority?: Priority;
  tag?: string[];
  project?: string | false;
  description?: string | false;
  status?: Status;
  repeat?: string | false;
}

/** Flags → the API's fields (dates read in the user's zone, the project looked up by name). */
async function bodyOf(ctx: Context, o: Fields): Promise<Record<string, unknown>> {
  const tz = () => ctx.timeZone();
  const body: Record<string, unknown> = {};
  const [due, remind, project] = await Promise.all([
    typeof o.due === 'string' ? readDate(o.due, '--due', tz, ctx.api) : undefined,
    typeof o.remind === 'string' ? readDate(o.remind, '--remind', tz, ctx.api) : undefined,
    typeof o.project === 'string' ? ctx.project(o.project) : undefined,
  ]);
  if (o.due === false) body.due_date = null;
  else if (due) body.due_date = due;
  if (o.remind === false) body.remind_at = null;
  else if (remind) body.remind_at = remind;
  if (o.project === false) body.project_id = null;
  else if (project) body.project_id = project.id;
  if (o.priority) body.priority = o.priority;
  if (o.status) body.status = o.status;
  if (o.tag) body.tags = [...new Set(o.tag.map((t) => t.replace(/^#/, '').toLowerCase()))];
  if (o.description === false) body.description = null;
  else if (typeof o.description === 'string') body.description = o.description;
  if (o.repeat === false) body.recurrence = null;
  else if (typeof o.repeat === 'string') {
    const text = /^every!?\b/i.test(o.repeat.trim()) ? o.repeat.trim() : `every ${o.repeat.trim()}`;
    const parsed = await unwrap(ctx.api.POST('/api/v1/tasks/parse', { body: { text } }));
    if (!parsed.recurrence || !readWhole(text, parsed.spans, 'recurrence'))
      throw new CliError(
        `cannot read --repeat "${o.repeat}": try "every day", "every monday", "every! 3 days"`,
        EXIT.usage,
      );
    body.recurrence = { rule: parsed.recurrence.rule, basis: parsed.recurrence.basis };
  }
  return body;
}

function addFieldOptions(cmd: Command, forEdit: boolean): Command {
  cmd
    .option('--due <when>', 'due date: "tomorrow 17:00", "fri", "in 3 days", "2026-12-05"')
    .option('--remind <when>', 'when to send the reminder email (default: before the due date)')
    .addOption(priorityOption())
    .option('-t, --tag <tag>', 'a tag (repeat the flag, or comma-separate, for more)', collect, undefined)
    .option('-P, --project <name>', 'the project (its name, or a unique start of it)')
    .option('-d, --description <text>', 'notes');
  if (forEdit) {
    cmd
      .option('--title <title>', 'a new title')
      .option('--no-due', 'remove the due date')
      .option('--no-remind', 'no reminder (--remind auto: follow the due date again)')
      .option('--no-project', 'move out of its project')
      .option('--no-description', 'clear the notes')
      .option('--add-tag <tag>', 'add a tag, keeping the others', collect, undefined)
      .option('--remove-tag <tag>', 'remove a tag', collect, undefined)
      .option('--repeat <rule>', 'repeat: "every day", "every monday", "every! 2 weeks" (from completion)')
      .option('--no-repeat', 'stop repeating');
  }
  cmd.addOption(new Option('-s, --status <status>', 'todo, in_progress or done').choices(STATUSES));
  return cmd;
}

export function registerTaskCommands(program: Command): void {
  addFieldOptions(
    program
      .command('add')
      .alias('a')
      .summary('add a task (quick add: dates, !priority, #tags, +Project, repeats)')
      .description(
        'Adds a task. The text is read like the web app\'s quick add: dates ("tomorrow 9am", "fri",\n' +
          '"in 3 days"), priority (!high, p1), #tags, +Project and repeats ("every monday"); flags win\n' +
          'over what the text says.',
      )
      .argument('<text...>', 'the task, in words'),
    false,
  )
    .addHelpText(
      'after',
      examples([
        'taskman add Pay rent tomorrow 9am !high #home +Finance',
        'taskman add "Water the plants every! 3 days"',
        'taskman add Write report --due fri --priority urgent --tag work',
      ]),
    )
    .action(async (words: string[], opts: Fields, cmd: Command) => {
      const ctx = Context.of(cmd);
      const text = words.join(' ').trim();
      if (!text) throw new CliError('say what the task is: taskman add "Buy milk tomorrow"', EXIT.usage);
      const fields = await bodyOf(ctx, splitTags(opts));
      const task = await ctx.call(
        'Adding…',
        unwrap(ctx.api.POST('/api/v1/tasks', { body: { text, ...fields } as never })),
      );
      if (ctx.out.json) return printJson(task);
      const [tz, projects] = await Promise.all([ctx.timeZone(), task.project_id ? ctx.projects() : []]);
      println(`${paint(ctx.out, 'green', 'Added')} ${summary(ctx.out, task, tz, projects)}`);
    });

  program
    .command('list')
    .alias('ls')
    .summary('list tasks (views: today, upcoming, overdue, all, archived)')
    .description(
      'Lists tasks: open ones (to do and in progress) unless a view or --status says otherwise.\n' +
        'Views: today (due today or overdue), upcoming (the next 7 days), overdue, all (done too),\n' +
        'archived. Times are in your time zone (taskman whoami shows it).',
    )
    .addArgument(new Argument('[view]', 'today, upcoming, overdue, all or archived').choices(TASK_VIEWS))
    .option('-s, --status <statuses>', 'todo, in_progress, done (comma-separated)')
    .option('-p, --priority <priorities>', 'low, medium, high, urgent (comma-separated)')
    .option('-t, --tag <tags>', 'tasks with any of these tags (comma-separated)')
    .option('-P, --project <name>', 'a project (name or a unique start of it), or "none" for the inbox')
    .option('-q, --search <words>', 'full-text search in titles and notes')
    .option('--due-before <when>', 'due before this')
    .option('--due-after <when>', 'due at or after this')
    .option('--sort <field>', 'due, priority, created or updated')
    .option('--asc', 'oldest / lowest / soonest first')
    .option('--desc', 'newest / highest / latest first')
    .option('-n, --limit <n>', 'at most this many (default 50)', '50')
    .addHelpText(
      'after',
      examples([
        'taskman list today',
        'taskman list --priority high,urgent --project Work',
        'taskman list all --search invoice --sort updated',
        'taskman list --json | jq -r ".[].title"',
      ]),
    )
    .action(
      async (view: TaskView | undefined, o: Record<string, string | boolean | undefined>, cmd: Command) => {
        const ctx = Context.of(cmd);
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CliError('--limit takes a whole number from 1', EXIT.usage);
        // The time zone and the projects are asked for at once, alongside the tasks (one round trip
        // in all, unless the query itself needs the time zone); a failure surfaces where awaited.
        const tzLater = ctx.timeZone();
        const projectsLater = ctx.projects();
        for (const p of [tzLater, projectsLater]) p.catch(() => undefined);
        const tzf = () => tzLater;
        const query: TaskQuery = view
          ? viewQuery(view, await tzLater)
          : { status: ['todo', 'in_progress'], sort: 'due_date' };
        const statuses = splitList(o.status as string | undefined);
        if (statuses) query.status = checkAll(statuses, STATUSES, '--status');
        const priorities = splitList(o.priority as string | undefined);
        if (priorities) query.priority = checkAll(priorities, PRIORITIES, '--priority');
        const tags = splitList(o.tag as string | undefined);
        if (tags) query.tag = tags.map((t) => t.replace(/^#/, ''));
        if (typeof o.project === 'string')
          query.project_id = o.project.toLowerCase() === 'none' ? 'none' : (await ctx.project(o.project)).id;
        if (typeof o.search === 'string') query.q = o.search;
        if (typeof o.dueBefore === 'string')
          query.due_before = await readDate(o.dueBefore, '--due-before', tzf, ctx.api);
        if (typeof o.dueAfter === 'string')
          query.due_after = await readDate(o.dueAfter, '--due-after', tzf, ctx.api);
        if (typeof o.sort === 'string') {
          const sort = SORTS[o.sort];
          if (!sort)
            throw new CliError(`--sort takes due, priority, created or updated, not "${o.sort}"`, EXIT.usage);
          query.sort = sort;
          delete query.order;
        }
        if (o.asc && o.desc) throw new CliError('--asc or --desc, not both', EXIT.usage);
        if (o.asc) query.order = 'asc';
        if (o.desc) query.order = 'desc';
        const { tasks, total } = await ctx.call('Loading tasks…', listTasks(ctx, query, limit));
        if (ctx.out.json) return printJson(tasks);
        const [tz, projects] = await Promise.all([tzLater, projectsLater]);
        if (tasks.length === 0) {
          note(
            ctx.out,
            view ? `Nothing in ${view}.` : 'No open tasks. Add one: taskman add "Buy milk tomorrow"',
          );
          return;
        }
        printTasks(ctx, tasks, tz, projects);
        if (ctx.out.tty && total > tasks.length)
          note(ctx.out, `${tasks.length} of ${total} tasks: --limit ${Math.min(total, 1000)} to see more`);
      },
    );

  program
    .command('show')
    .summary('show a task in full')
    .argument('<id>', 'the task: its short id (or the first characters of it)')
    .addHelpText('after', examples(['taskman show 3fa9', 'taskman show 3fa9 --json']))
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const task = await ctx.call('Loading…', ctx.task(ref));
      if (ctx.out.json) return printJson(task);
      const [tz, projects] = await Promise.all([ctx.timeZone(), ctx.projects()]);
      showTask(ctx.out, task, tz, projects);
    });

  addFieldOptions(
    program
      .command('edit')
      .summary('change a task')
      .argument('<id>', 'the task: its short id (or the first characters of it)'),
    true,
  )
    .addHelpText(
      'after',
      examples([
        'taskman edit 3fa9 --due "fri 17:00" --priority high',
        'taskman edit 3fa9 --title "Call the bank" --add-tag money',
        'taskman edit 3fa9 --no-due --no-project',
        'taskman edit 3fa9 --repeat "every monday"',
      ]),
    )
    .action(
      async (
        ref: string,
        o: Fields & { title?: string; addTag?: string[]; removeTag?: string[]; remind?: string | false },
        cmd: Command,
      ) => {
        const ctx = Context.of(cmd);
        const fields = await bodyOf(ctx, splitTags(o));
        if (typeof o.remind === 'string' && o.remind.toLowerCase() === 'auto') {
          delete fields.remind_at;
          fields.reminder_mode = 'auto';
        }
        if (o.title !== undefined) fields.title = o.title;
        const task = await ctx.task(ref);
        const add = o.addTag ? splitTagList(o.addTag) : [];
        const remove = new Set(o.removeTag ? splitTagList(o.removeTag) : []);
        if (add.length || remove.size) {
          const base = (fields.tags as string[] | undefined) ?? task.tags;
          fields.tags = [...new Set([...base, ...add])].filter((t) => !remove.has(t));
        }
        if (Object.keys(fields).length === 0)
          throw new CliError(
            'nothing to change: say what, e.g. --due tomorrow or --title "…" (see taskman edit --help)',
            EXIT.usage,
          );
        // If-Match: a change made elsewhere since the task was read is not overwritten.
        const updated = await ctx.call(
          'Saving…',
          unwrap(
            ctx.api.PATCH('/api/v1/tasks/{id}', {
              params: { path: { id: task.id }, header: { 'if-match': `"${task.version}"` } as never },
              body: fields as never,
            }),
          ),
        );
        if (ctx.out.json) return printJson(updated);
        const [tz, projects] = await Promise.all([ctx.timeZone(), updated.project_id ? ctx.projects() : []]);
        println(`${paint(ctx.out, 'green', 'Updated')} ${summary(ctx.out, updated, tz, projects)}`);
      },
    );

  const bulk = (
    name: string,
    summaryText: string,
    verb: string,
    run: (ctx: Context, task: Task) => Promise<Task | undefined>,
  ) =>
    program
      .command(name)
      .summary(summaryText)
      .argument('<ids...>', 'one or more tasks: their short ids (or the first characters of them)')
      .addHelpText('after', examples([`taskman ${name} 3fa9`, `taskman ${name} 3fa9 b71c 0d2e`]))
      .action(async (refs: string[], _o: unknown, cmd: Command) => {
        const ctx = Context.of(cmd);
        const tasks = await ctx.tasks(refs);
        const results: Task[] = [];
        for (const task of tasks) {
          const result = await ctx.call(`${verb}…`, run(ctx, task));
          results.push(result ?? task);
          if (!ctx.out.json) {
            const tz = await ctx.timeZone();
            println(`${paint(ctx.out, 'green', verb)} ${summary(ctx.out, result ?? task, tz, [])}`);
          }
        }
        if (ctx.out.json) printJson(results);
      });

  const patch = (ctx: Context, task: Task, body: Record<string, unknown>) =>
    unwrap(
      ctx.api.PATCH('/api/v1/tasks/{id}', {
        params: { path: { id: task.id }, header: { 'if-match': `"${task.version}"` } as never },
        body: body as never,
      }),
    );

  bulk('done', 'mark tasks done (a repeating task moves to its next date)', 'Done', (ctx, t) =>
    patch(ctx, t, { status: 'done' }),
  );
  bulk('reopen', 'mark done tasks as to do again', 'Reopened', (ctx, t) => patch(ctx, t, { status: 'todo' }));
  bulk('start', 'mark tasks in progress', 'Started', (ctx, t) => patch(ctx, t, { status: 'in_progress' }));
  bulk('archive', 'archive tasks (hidden from lists; taskman list archived)', 'Archived', (ctx, t) =>
    unwrap(ctx.api.POST('/api/v1/tasks/{id}/archive', { params: { path: { id: t.id } } })),
  );
  bulk('unarchive', 'bring archived tasks back', 'Restored', (ctx, t) =>
    unwrap(ctx.api.POST('/api/v1/tasks/{id}/unarchive', { params: { path: { id: t.id } } })),
  );

  program
    .command('rm')
    .alias('delete')
    .summary('delete tasks for good (asks first unless --yes)')
    .argument('<ids...>', 'one or more tasks: their short ids (or the first characters of them)')
    .option('-y, --yes', 'do not ask')
    .addHelpText('after', examples(['taskman rm 3fa9', 'taskman rm 3fa9 b71c --yes']))
    .action(async (refs: string[], o: { yes?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const tasks = await ctx.tasks(refs);
      if (!o.yes) {
        const what = tasks.length === 1 ? `"${tasks[0]!.title}"` : `${tasks.length} tasks`;
        if (!(await confirm(`Delete ${what}? This cannot be undone.`))) {
          note(ctx.out, 'Nothing deleted.');
          process.exitCode = EXIT.error;
          return;
        }
      }
      for (const task of tasks) {
        await ctx.call(
          'Deleting…',
          ctx.expectOk(
            ctx.api.DELETE('/api/v1/tasks/{id}', {
              params: { path: { id: task.id }, header: { 'if-match': `"${task.version}"` } as never },
            }),
          ),
        );
        if (!ctx.out.json)
          println(`${paint(ctx.out, 'red', 'Deleted')} ${shortId(task.id).slice(0, 7)}  ${task.title}`);
      }
      if (ctx.out.json) printJson(tasks.map((t) => ({ id: t.id, deleted: true })));
    });
}

function showTask(out: Output, t: Task, tz: string, projects: Project[]): void {
  const project = t.project_id ? projects.find((p) => p.id === t.project_id)?.name : undefined;
  const reminder = t.remind_at
    ? `${describeDue(t.remind_at, tz)}${t.reminder_mode === 'auto' ? ', before the due date' : ''}`
    : t.due_date
      ? 'none'
      : undefined;
  println(paint(out, 'bold', t.title));
  printFields(out, [
    ['ID', `${shortId(t.id).slice(0, 7)}  ${paint(out, 'dim', t.id)}`],
    [
      'Status',
      STATUS_LABEL[t.status] === 'doing' ? 'in progress' : t.status,
      t.status === 'done' ? 'green' : undefined,
    ],
    ['Priority', t.priority, priorityStyle(t.priority) as never],
    ['Due', t.due_date ? describeDue(t.due_date, tz) : undefined, isOverdue(t) ? 'red' : undefined],
    ['Reminder', reminder],
    ['Repeats', t.recurrence?.description],
    ['Project', project],
    ['Tags', t.tags.map((x) => `#${x}`).join(' ')],
    ['Notes', t.description ?? undefined],
    ['Created', ago(t.created_at)],
    ['Updated', t.updated_at !== t.created_at ? ago(t.updated_at) : undefined],
    ['Completed', t.completed_at ? ago(t.completed_at) : undefined],
    ['Archived', t.archived_at ? ago(t.archived_at) : undefined],
  ]);
}

function checkAll<T extends string>(values: string[], allowed: readonly T[], flag: string): T[] {
  const bad = values.filter((v) => !allowed.includes(v as T));
  if (bad.length)
    throw new CliError(`${flag} takes ${allowed.join(', ')}; not ${bad.join(', ')}`, EXIT.usage);
  return values as T[];
}

const splitTagList = (values: string[]) =>
  values
    .flatMap((v) => v.split(','))
    .map((t) => t.trim().replace(/^#/, '').toLowerCase())
    .filter(Boolean);

function splitTags<T extends { tag?: string[] }>(o: T): T {
  return o.tag ? { ...o, tag: splitTagList(o.tag) } : o;
}
