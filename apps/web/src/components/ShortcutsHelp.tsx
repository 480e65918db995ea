import { useEffect, useRef } from 'react';

const SHORTCUTS: [string, string][] = [
  ['q', 'Add a task'],
  ['/', 'Search'],
  ['j · k', 'Next / previous task'],
  ['Enter', 'Open the selected task'],
  ['x', 'Complete or reopen the selected task'],
  ['Delete', 'Delete the selected task (with undo)'],
  ['Escape', 'Close the task or this help'],
  ['g t · g u · g o', 'Today · Upcoming · Overdue'],
  ['g a · g c · g p', 'All tasks · Calendar · Projects'],
  ['g r · g s', 'Reports · Settings'],
  ['?', 'Show or hide this help'],
];
/** Admins also go to Operations; the row comes after the other "go to" keys. */
const ADMIN_SHORTCUT: [string, string] = ['g d', 'Operations (the dashboard)'];

/** The `?` overlay: a native modal dialog (focus stays inside; Escape closes it). */
export function ShortcutsHelp({ admin = false, onClose }: { admin?: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const rows = admin ? [...SHORTCUTS.slice(0, -1), ADMIN_SHORTCUT, ...SHORTCUTS.slice(-1)] : SHORTCUTS;
  // No close() on cleanup: it would fire onClose (StrictMode runs effects twice); unmounting removes it.
  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="shortcuts-title" onClose={onClose}>
      <div className="row">
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <span className="spacer" />
        <button type="button" className="btn btn-ghost" onClick={onClose}>
          Close
        </button>
      </div>
      <dl className="shortcuts">
        {rows.map(([keys, what]) => (
          <div key={keys} style={{ display: 'contents' }}>
            <dt>
              {keys.split(' · ').map((k) => (
                <span key={k} className="kbd" style={{ marginRight: 6 }}>
                  {k}
                </span>
              ))}
            </dt>
            <dd style={{ margin: 0 }}>{what}</dd>
          </div>
        ))}
      </dl>
    </dialog>
  );
}
