import { unwrap } from '@taskman/sdk';
import { dayRange, formatDateTime } from '@taskman/sdk/dates';
import { type Ref, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { api, messageOf } from '../lib/api';
import { TOUCH } from '../lib/device';
import { type CreateBody, useCreateTask, useProjects } from '../lib/queries';
import { loadParser, type QuickAddResult, safeParse, useParser } from '../lib/quickAdd';
import { useMe, useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';
import { RepeatIcon } from './TaskRow';

const DRAFT_KEY = 'taskman.draft.quick-add';
const PRIORITY_LABEL = { urgent: 'Urgent', high: 'High', medium: 'Medium', low: 'Low' } as const;
type SpanKind = QuickAddResult['spans'][number]['kind'];
const KIND_LABEL: Record<SpanKind, string> = {
  date: 'Due',
  priority: 'Priority',
  tag: 'Tag',
  project: 'Project',
  recurrence: 'Repeats',
};

/**
 * The add-task box with quick add: "Pay rent tomorrow 9am !high #home +Finance every month". What
 * is recognised is highlighted in the text as it is typed (a mirror behind the input) and listed
 * under it (announced politely); Enter sends the text and the server creates the task from it.
 */
export function QuickAdd(props: {
  inputRef: Ref<HTMLInputElement>;
  /** Today and Upcoming give a task without a date a day; a project's page, its project. */
  defaults: { day?: 'today' | 'tomorrow'; projectId?: string | undefined };
}) {
  const ids = useId();
  const me = useMe();
  const zone = useTimeZone();
  const projects = useProjects();
  const create = useCreateTask();
  const parser = useParser();
  const [draft, setDraft] = useState(() => sessionStorage.getItem(DRAFT_KEY) ?? '');
  useEffect(() => {
    if (draft) sessionStorage.setItem(DRAFT_KEY, draft);
    else sessionStorage.removeItem(DRAFT_KEY);
  }, [draft]);

  // Read in the profile's zone (not the browser's), with the user's projects: as the server will.
  const tz = me.data?.timezone;
  const projectNames = useMemo(
    () => (projects.data ?? []).map((p) => ({ id: p.id, name: p.name })),
    [projects.data],
  );
  const parsed = useMemo(
    () =>
      parser && tz && draft.trim()
        ? safeParse(parser, draft, { timezone: tz, projects: projectNames })
        : undefined,
    [parser, tz, draft, projectNames],
  );
  const spans = parsed?.spans ?? [];

  // The list under the box follows a moment later: a screen reader hears it when typing pauses,
  // not at every key.
  const [shown, setShown] = useState(parsed);
  useEffect(() => {
    if (!parsed) return setShown(undefined);
    const timer = setTimeout(() => setShown(parsed), 250);
    return () => clearTimeout(timer);
  }, [parsed]);

  // The mirror scrolls with the input when the text is longer than the box.
  const inputEl = useRef<HTMLInputElement | null>(null);
  const mirror = useRef<HTMLDivElement>(null);
  const syncScroll = () => {
    if (mirror.current && inputEl.current) mirror.current.scrollLeft = inputEl.current.scrollLeft;
  };
  useLayoutEffect(syncScroll);
  const setInput = (el: HTMLInputElement | null) => {
    inputEl.current = el;
    if (typeof props.inputRef === 'function') props.inputRef(el);
    else if (props.inputRef) (props.inputRef as { current: HTMLInputElement | null }).current = el;
  };

  const [helpOpen, setHelpOpen] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  // The help closes on a click or tap elsewhere, as a popover does.
  useEffect(() => {
    if (!helpOpen) return;
    const away = (e: PointerEvent) => {
      if (!form.current?.contains(e.target as Node)) setHelpOpen(false);
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [helpOpen]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const text = draft.trim();
    if (!text) return;
    const body: CreateBody = { text };
    const { day, projectId } = props.defaults;
    if (day || projectId) {
      // The page's defaults apply to what the text does not say (fields sent alongside would win).
      const said = await whatTheTextSays(text, tz, projectNames);
      if (projectId && !said?.project) body.project_id = projectId;
      // A day by its end (23:59, shown without a time) and no reminder: no time was chosen, so no
      // email should arrive at 23:29.
      if (day && !said?.date) {
        const { to } = dayRange(new Date(Date.now() + (day === 'tomorrow' ? 86_400_000 : 0)), zone);
        body.due_date = new Date(Date.parse(to) - 60_000).toISOString();
        body.remind_at = null;
      }
    }
    try {
      await create.mutateAsync(body);
      setDraft('');
      setShown(undefined);
      setHelpOpen(false);
    } catch (err) {
      toast.error(`Not added: ${messageOf(err)}`);
    }
  }

  return (
    <div className="quick-add-wrap">
      <form
        ref={form}
        className="quick-add"
        onSubmit={submit}
        onKeyDown={(e) => {
          if (e.key === 'Escape' && helpOpen) {
            e.stopPropagation();
            setHelpOpen(false);
          }
        }}
      >
        <label className="sr-only" htmlFor="quick-add">
          Add a task
        </label>
        <div className="qa-field">
          <div className="qa-mirror" ref={mirror} aria-hidden="true">
            {spans.length > 0 && <Highlighted text={draft} spans={spans} />}
          </div>
          <input
            id="quick-add"
            ref={setInput}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onScroll={syncScroll}
            onSelect={syncScroll}
            placeholder={TOUCH ? 'Add a task…' : 'Add a task… (press q)'}
            maxLength={500}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <button
          type="button"
          className="btn btn-icon qa-help-toggle"
          aria-expanded={helpOpen}
          aria-controls={`${ids}-help`}
          onClick={() => setHelpOpen((o) => !o)}
        >
          <span aria-hidden="true">?</span>
          <span className="sr-only">Quick add help</span>
        </button>
        <button className="btn btn-primary" type="submit" disabled={!draft.trim() || create.isPending}>
          Add
        </button>
        {helpOpen && <Grammar id={`${ids}-help`} onClose={() => setHelpOpen(false)} />}
      </form>
      <div aria-live="polite" aria-atomic="true">
        {shown && shown.spans.length > 0 && <Recognised result={shown} timeZone={tz!} parser={parser} />}
      </div>
    </div>
  );
}

/** Does the text name a date or a project? Read here, else by the server, else "no". */
async function whatTheTextSays(
  text: string,
  tz: string | undefined,
  projects: { id: string; name: string }[],
): Promise<{ date: boolean; project: boolean } | undefined> {
  if (tz) {
    const local = await loadParser()
      .then((p) => safeParse(p, text, { timezone: tz, projects }))
      .catch(() => undefined);
    if (local) return { date: !!local.dueDate, project: !!local.projectId };
  }
  const remote = await unwrap(api.POST('/api/v1/tasks/parse', { body: { text } })).catch(() => undefined);
  return remote && { date: !!remote.due_date, project: !!remote.project_id };
}

/** The text with its recognised parts marked (drawn behind the input, in the same place). */
function Highlighted({ text, spans }: { text: string; spans: QuickAddResult['spans'] }) {
  const parts: React.ReactNode[] = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue;
    if (s.start > at) parts.push(text.slice(at, s.start));
    parts.push(
      <mark key={s.start} className={`qa-mark qa-k-${s.kind}`}>
        {text.slice(s.start, s.end)}
      </mark>,
    );
    at = s.end;
  }
  parts.push(text.slice(at));
  return <span className="qa-mirror-text">{parts}</span>;
}

/** What the text will create: "Pay rent · Due Sat 28 Nov, 09:00 · High · #home · Finance · every month". */
function Recognised({
  result,
  timeZone,
  parser,
}: {
  result: QuickAddResult;
  timeZone: string;
  parser: ReturnType<typeof useParser>;
}) {
  const items: { kind: SpanKind | 'title'; label: string; text: string }[] = [
    { kind: 'title', label: 'Title', text: result.title },
  ];
  if (result.dueDate)
    items.push({
      kind: 'date',
      label: KIND_LABEL.date,
      text: formatDateTime(result.dueDate.toISOString(), timeZone, result.dueHasTime),
    });
  if (result.priority)
    items.push({ kind: 'priority', label: KIND_LABEL.priority, text: PRIORITY_LABEL[result.priority] });
  for (const t of result.tags) items.push({ kind: 'tag', label: KIND_LABEL.tag, text: `#${t}` });
  if (result.projectName)
    items.push({ kind: 'project', label: KIND_LABEL.project, text: result.projectName });
  if (result.recurrence)
    items.push({
      kind: 'recurrence',
      label: KIND_LABEL.recurrence,
      text: parser ? parser.describeRecurrence(result.recurrence) : result.recurrence.rule,
    });
  return (
    <ul className="qa-chips" aria-label="Recognised in the text">
      {items.map((item) => (
        <li key={`${item.kind}-${item.text}`} className={`qa-chip qa-k-${item.kind}`}>
          {item.kind === 'recurrence' && <RepeatIcon />}
          <span className={item.kind === 'date' ? 'qa-chip-label' : 'sr-only'}>{item.label}:</span>{' '}
          {item.kind === 'title' ? <span className="qa-title">{item.text}</span> : item.text}
        </li>
      ))}
    </ul>
  );
}

const EXAMPLES: [code: string[], meaning: string][] = [
  [['tomorrow 9am', 'fri', 'dec 5 at 14:30', 'in 3 days'], 'Due date (a day alone: by its end)'],
  [['!high', '!urgent', 'p1'], 'Priority (p1 urgent … p4 low)'],
  [['#home'], 'Tag'],
  [['+Finance', '+"Side project"'], 'Project (an existing one)'],
  [['every month', 'every weekday', 'every monday'], 'Repeat, from the due date'],
  [['every! 3 days'], 'Repeat, counted from when you complete it'],
  [['\\#not-a-tag'], 'Kept as typed'],
];

function Grammar({ id, onClose }: { id: string; onClose: () => void }) {
  return (
    <section id={id} className="qa-help" aria-labelledby={`${id}-title`}>
      <div className="row">
        <h2 id={`${id}-title`} className="qa-help-title">
          Quick add
        </h2>
        <span className="spacer" />
        <button
          type="button"
          className="btn btn-ghost btn-icon"
          onClick={onClose}
          aria-label="Close the help"
        >
          ✕
        </button>
      </div>
      <p className="faint">
        Type a task as you would say it; what is recognised is highlighted and leaves the title. For example{' '}
        <code>Pay rent tomorrow 9am !high #home +Finance every month</code>.
      </p>
      <dl className="qa-grammar">
        {EXAMPLES.map(([codes, meaning]) => (
          <div key={meaning}>
            <dt>
              {codes.map((c) => (
                <code key={c}>{c}</code>
              ))}
            </dt>
            <dd>{meaning}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
