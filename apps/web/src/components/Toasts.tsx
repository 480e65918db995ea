import { toast, useToasts } from '../lib/toast';

export function Toasts() {
  const toasts = useToasts();
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div
          key={t.id}
          className={`toast${t.kind === 'error' ? ' toast-error' : ''}`}
          role={t.kind === 'error' ? 'alert' : 'status'}
        >
          <span style={{ flex: 1 }}>{t.message}</span>
          {t.action && (
            <button type="button" className="btn" onClick={() => toast.act(t.id)}>
              {t.action.label}
            </button>
          )}
          <button type="button" className="btn" aria-label="Dismiss" onClick={() => toast.dismiss(t.id)}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}
