import type { ReactNode } from 'react';

/** An inline "are you sure?": the question, what will happen, the action (focused), and Cancel (or Escape). */
export function ConfirmBox(props: {
  question: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <fieldset
      className={`confirm stack${props.danger ? ' confirm-danger' : ''}`}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          props.onCancel();
        }
      }}
    >
      <legend>{props.question}</legend>
      <p>{props.children}</p>
      <div className="row wrap">
        <button
          type="button"
          className={props.danger ? 'btn btn-danger-solid' : 'btn btn-primary'}
          autoFocus
          disabled={props.busy}
          onClick={props.onConfirm}
        >
          {props.confirmLabel}
        </button>
        <button type="button" className="btn" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </fieldset>
  );
}
