import { type ReactNode, useEffect, useId, useRef, useState } from 'react';

/** Copies text: the Clipboard API where allowed, else the selection of the given input (if any). */
export async function copyText(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.select();
    return document.execCommand?.('copy') ?? false;
  }
}

/**
 * A secret shown once (an API key, a webhook's signing secret): in a read-only input, selected and
 * focused as it appears, with a Copy button and a plain warning that it will not be shown again.
 */
export function SecretReveal(props: {
  title: string;
  label: string;
  value: string;
  /** After "Copy it now: it won't be shown again." */
  note: string;
  children?: ReactNode;
  onDone: () => void;
}) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>();
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);
  useEffect(() => {
    if (copied !== 'yes') return;
    const timer = setTimeout(() => setCopied(undefined), 2500);
    return () => clearTimeout(timer);
  }, [copied]);

  return (
    <section className="reveal stack" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{props.title}</h3>
      <p className="reveal-warning" id={`${id}-warning`}>
        <strong>Copy it now: it won’t be shown again.</strong> {props.note}
      </p>
      <div className="field">
        <label htmlFor={`${id}-value`}>{props.label}</label>
        <div className="copy-row">
          <input
            ref={input}
            id={`${id}-value`}
            className="secret-input"
            readOnly
            value={props.value}
            spellCheck={false}
            autoComplete="off"
            aria-describedby={`${id}-warning`}
            onFocus={(e) => e.currentTarget.select()}
          />
          <button
            type="button"
            className="btn btn-primary"
            onClick={async () => setCopied((await copyText(props.value, input.current)) ? 'yes' : 'no')}
          >
            {copied === 'yes' ? 'Copied' : 'Copy'}
          </button>
        </div>
        <span className="faint" role="status">
          {copied === 'yes'
            ? 'Copied to the clipboard.'
            : copied === 'no'
              ? 'Could not copy: it is selected, press Ctrl+C (⌘C on a Mac).'
              : ''}
        </span>
      </div>
      {props.children}
      <button type="button" className="btn" style={{ alignSelf: 'flex-start' }} onClick={props.onDone}>
        I’ve saved it
      </button>
    </section>
  );
}
