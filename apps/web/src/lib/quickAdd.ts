// Quick add in the browser: the core's parser, loaded on demand (its own chunk: chrono-node and
// rrule stay out of the first load), run on every keystroke for instant highlighting. The server
// parses the same text again when the task is created (POST /tasks {text}): it stays the authority.
import { useEffect, useState } from 'react';

export type Parser = typeof import('./parser');
export type QuickAddResult = import('./parser').QuickAddResult;

let loading: Promise<Parser> | undefined;

/** The parser module (loaded once; a failed load can be tried again). */
export function loadParser(): Promise<Parser> {
  loading ??= import('./parser').catch((err) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/** The parser once loaded (undefined until then, or when it cannot be loaded). */
export function useParser(): Parser | undefined {
  const [parser, setParser] = useState<Parser>();
  useEffect(() => {
    let live = true;
    loadParser().then(
      (p) => live && setParser(() => p),
      () => {},
    );
    return () => {
      live = false;
    };
  }, []);
  return parser;
}

/** Parses without ever throwing (a bad clock or an odd zone must not break typing). */
export function safeParse(
  parser: Parser,
  text: string,
  ctx: { timezone: string; projects: { id: string; name: string }[] },
): QuickAddResult | undefined {
  try {
    return parser.parseQuickAdd(text, { now: new Date(), ...ctx });
  } catch {
    return undefined;
  }
}
