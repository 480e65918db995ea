import { useId } from 'react';

/**
 * A group of checkboxes, each named by its value and described by a short line, with an optional
 * "Select all" (checked, mixed or clear) and an error tied to the group.
 */
export function Checklist<T extends string>(props: {
  legend: string;
  hint?: string;
  name: string;
  options: { value: T; description: string }[];
  value: readonly T[];
  onChange: (value: T[]) => void;
  selectAll?: boolean;
  error?: string | undefined;
}) {
  const id = useId();
  const { options, value } = props;
  const all = options.every((o) => value.includes(o.value));
  const some = !all && options.some((o) => value.includes(o.value));
  const describedBy = [props.hint && `${id}-hint`, props.error && `${id}-error`].filter(Boolean).join(' ');
  const toggle = (v: T) =>
    props.onChange(
      options.map((o) => o.value).filter((o) => (o === v ? !value.includes(v) : value.includes(o))),
    );
  return (
    <fieldset className="checklist" {...(describedBy ? { 'aria-describedby': describedBy } : {})}>
      <legend>{props.legend}</legend>
      {props.hint && (
        <span id={`${id}-hint`} className="faint">
          {props.hint}
        </span>
      )}
      {props.selectAll && (
        <label className="check check-all">
          <input
            type="checkbox"
            checked={all}
            ref={(el) => {
              if (el) el.indeterminate = some;
            }}
            onChange={() => props.onChange(all ? [] : options.map((o) => o.value))}
          />
          <span className="check-name">Select all</span>
        </label>
      )}
      <div className="check-grid">
        {options.map((o, i) => (
          <label key={o.value} className="check">
            <input
              type="checkbox"
              name={props.name}
              value={o.value}
              checked={value.includes(o.value)}
              onChange={() => toggle(o.value)}
              aria-labelledby={`${id}-${i}`}
              aria-describedby={`${id}-${i}-d`}
            />
            <span className="check-text">
              <span id={`${id}-${i}`} className="check-name">
                {o.value}
              </span>
              <span id={`${id}-${i}-d`} className="faint">
                {o.description}
              </span>
            </span>
          </label>
        ))}
      </div>
      {props.error && (
        <span id={`${id}-error`} className="field-error">
          {props.error}
        </span>
      )}
    </fieldset>
  );
}
