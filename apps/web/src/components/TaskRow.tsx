import type { Project, Task } from '@taskman/sdk';
import { dueState, formatDue } from '@taskman/sdk/dates';

const PRIORITY_LABEL = { urgent: 'Urgent', high: 'High', medium: 'Medium', low: 'Low' } as const;

export function TaskRow(props: {
  task: Task;
  index: number;
  /** A heading shown above this row: it starts a part of the list (e.g. "Overdue"). */
  section?: string | undefined;
  timeZone: string;
  project: Project | undefined;
  selected: boolean;
  onOpen: () => void;
  onToggle: () => void;
}) {
  const { task, timeZone } = props;
  const done = task.status === 'done';
  const due = task.due_date ? dueState(task.due_date, done, timeZone) : undefined;
  return (
    <>
      {props.section && (
        <li className="section-header" aria-hidden="true">
          {props.section}
        </li>
      )}
      <li
        className={`task-row${done ? ' done' : ''}${props.selected ? ' selected' : ''}`}
        aria-current={props.selected || undefined}
        data-index={props.index}
      >
        <button
          type="button"
          className={`task-check p-${task.priority}${done ? ' done' : ''}`}
          aria-label={done ? `Reopen “${task.title}”` : `Complete “${task.title}”`}
          aria-pressed={done}
          onClick={(e) => {
            e.stopPropagation();
            props.onToggle();
          }}
        >
          <span aria-hidden="true">✓</span>
        </button>
        <button type="button" id={`open-${task.id}`} className="task-body task-open" onClick={props.onOpen}>
          <span className="task-title">{task.title}</span>
          <span className="task-meta">
            {task.due_date && (
              <span className={due === 'overdue' ? 'due-overdue' : due === 'today' ? 'due-today' : ''}>
                {due === 'overdue' ? 'Overdue · ' : ''}
                {formatDue(task.due_date, timeZone)}
              </span>
            )}
            {task.priority !== 'medium' && <span>{PRIORITY_LABEL[task.priority]}</span>}
            {task.status === 'in_progress' && <span>In progress</span>}
            {task.remind_at && task.reminder_mode === 'explicit' && !done && (
              <span className="row" style={{ gap: 2 }} title="Reminder by email">
                <BellIcon /> <span className="sr-only">Reminder set</span>
              </span>
            )}
            {task.recurrence && (
              <span className="row task-repeat" style={{ gap: 3 }}>
                <RepeatIcon /> <span className="sr-only">Repeats</span> {task.recurrence.description}
              </span>
            )}
            {props.project && <span>#{props.project.name}</span>}
            {task.tags.map((t) => (
              <span key={t} className="chip">
                {t}
              </span>
            ))}
          </span>
        </button>
      </li>
    </>
  );
}

function BellIcon() {
  return (
    <svg
      width="13"
      height="13"
      viewBox="0 0 24 24"
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      strokeWidth="2.2"
      strokeLinecap="round"
      strokeLinejoin="round"
    >
      <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
      <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
    </svg>
  );
}

/** Two arrows in a loop: the task repeats. */
export function RepeatIcon() {
  return (
    <svg
      width="13"
      height="13"
      viewBox="0 0 24 24"
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      strokeWidth="2.2"
      strokeLinecap="round"
      strokeLinejoin="round"
      className="icon"
    >
      <path d="m17 2 4 4-4 4" />
      <path d="M3 11v-1a4 4 0 0 1 4-4h14" />
      <path d="m7 22-4-4 4-4" />
      <path d="M21 13v1a4 4 0 0 1-4 4H3" />
    </svg>
  );
}
