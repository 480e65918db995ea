// The quick-add parser shared by the API, the web app and the CLI: one line of text in, a task's
// title, due date, priority, tags, project and recurrence out. Pure TypeScript + chrono-node +
// rrule (no Node-only module). The grammar is documented in the README ("Quick add").

import * as chrono from 'chrono-node';
import { charLength } from '../lib/text';
import { isValidTimeZone, wallTime } from '../lib/timezone';
import {
  evaluate,
  matchRecurrence,
  ONLY_TRAILING,
  PIECE,
  type RecurrencePiece,
  recurrenceDue,
  type Token,
} from './schedule';

export type QuickAddPriority = 'low' | 'medium' | 'high' | 'urgent';
export type QuickAddSpanKind = 'date' | 'priority' | 'tag' | 'project' | 'recurrence';

export interface QuickAddContext {
  now: Date;
  /** IANA zone of the user (an unknown zone is read as UTC). */
  timezone: string;
  projects: { id: string; name: string }[];
}

export interface QuickAddSpan {
  kind: QuickAddSpanKind;
  /** UTF-16 indexes into the input: `text.slice(start, end) === span.text`. */
  start: number;
  end: number;
  text: string;
}

export interface QuickAddResult {
  /** What is left, whitespace collapsed, trimmed; the whole input when nothing is left. */
  title: string;
  /** With a time: that wall-clock time; date only: 23:59:00 on the user's wall clock. */
  dueDate: Date | null;
  dueHasTime: boolean;
  priority: QuickAddPriority | null;
  /** Lower-cased, de-duplicated, in order of appearance. */
  tags: string[];
  projectId: string | null;
  projectName: string | null;
  /** RRULE value without "RRULE:" (FREQ=MONTHLY). */
  recurrence: { rule: string; basis: 'due' | 'completion' } | null;
  /** What was recognised, in input order. */
  spans: QuickAddSpan[];
}

export const QUICK_ADD_LIMITS = { tag: 50, tags: 20 } as const;

const PRIORITY_WORDS: Record<string, QuickAddPriority> = {
  low: 'low',
  medium: 'medium',
  high: 'high',
  urgent: 'urgent',
  '1': 'urgent',
  '2': 'high',
  '3': 'medium',
  '4': 'low',
};
const PRIORITY = /^(?:!(low|medium|high|urgent|[1-4])|p([1-4]))$/i;
const TAG = /^#([\p{L}\p{M}\p{N}_-]+)$/u;
/** Sentence punctuation after a marker ("#home," "!high."): not part of it, stays in the title. */
const TRAILING = /[.,;:!?]+$/;
const OPEN_QUOTE = /["“]/;
const CLOSE_QUOTE = /["”]/;
const EMAIL_OR_URL = /[^\s@]@[^\s@]*\.|:\/\/|^www\.|^mailto:/i;
const RECURRENCE_HEAD = /^(every|daily|weekly|monthly|yearly|annually)/i;
const START_WORDS = new Set(['starting', 'from', 'beginning']);
/** Stands for a literal word in the text given to chrono: no date pattern crosses it. */
const BARRIER = '\u00a6';
const core = (text: string) => text.replace(TRAILING, '');
const normName = (s: string) => s.normalize('NFC').replace(/\s+/g, ' ').trim().toLowerCase();

/** Parses one quick-add line. Never throws on any text; see the README for the grammar. */
export function parseQuickAdd(text: string, ctx: QuickAddContext): QuickAddResult {
  if (!(ctx.now instanceof Date) || Number.isNaN(ctx.now.getTime()))
    throw new RangeError('ctx.now is invalid');
  const tz = isValidTimeZone(ctx.timezone) ? ctx.timezone : 'UTC';
  const spans: QuickAddSpan[] = [];
  const dropped: number[] = []; // single characters removed from the title (escapes, quotes)
  const span = (kind: QuickAddSpanKind, start: number, end: number) =>
    spans.push({ kind, start, end, text: text.slice(start, end) });

  const tokens: Token[] = [];
  for (const m of text.matchAll(/\S+/gu))
    tokens.push({ start: m.index, end: m.index + m[0].length, text: m[0], kind: 'normal' });

  // Literal text: a leading "quoted part", \escaped words, emails and URLs.
  const quote = /^\s*["“]/.exec(text);
  if (quote) {
    const open = quote[0].length - 1;
    const close = findCloseQuote(text, open + 1);
    if (close >= 0 && ONLY_TRAILING.test(text.slice(close + 1, tokenAt(tokens, close)!.end))) {
      for (const t of tokens) if (t.start <= close) t.kind = 'literal';
      dropped.push(open, close);
    }
  }
  for (const t of tokens) {
    if (t.kind !== 'normal') continue;
    if (t.text.length > 1 && t.text[0] === '\\') {
      t.kind = 'literal';
      dropped.push(t.start);
    } else if (EMAIL_OR_URL.test(t.text)) t.kind = 'literal';
  }

  // Markers: priority, tags, project.
  let priority: QuickAddPriority | null = null;
  const tags: string[] = [];
  let project: { id: string; name: string } | null = null;
  let projects: ProjectIndex | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'normal') continue;
    const word = core(t.text);
    const p = PRIORITY.exec(word);
    if (p) {
      priority = PRIORITY_WORDS[(p[1] ?? p[2])!.toLowerCase()]!;
      t.kind = 'marker';
      span('priority', t.start, t.start + word.length);
    } else if (word[0] === '#' && word.length > 1) {
      const tag = TAG.exec(word)?.[1]?.normalize('NFC').toLowerCase();
      const fits = tag && /\p{L}/u.test(tag) && charLength(tag) <= QUICK_ADD_LIMITS.tag;
      if (fits && (tags.includes(tag) || tags.length < QUICK_ADD_LIMITS.tags)) {
        if (!tags.includes(tag)) tags.push(tag);
        t.kind = 'marker';
        span('tag', t.start, t.start + word.length);
      } else t.kind = 'literal';
    } else if (word[0] === '+' && word.length > 1) {
      projects ??= indexProjects(ctx.projects);
      const found = matchProject(text, tokens, i, projects);
      for (let k = i; k <= found.last; k++) tokens[k]!.kind = found.project ? 'marker' : 'literal';
      if (found.project) {
        project = found.project;
        span('project', t.start, found.end);
      }
      i = found.last;
    }
  }

  // Recurrence: the first phrase counts; later ones stay in the title, untouched.
  let recurrence: QuickAddResult['recurrence'] = null;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.kind !== 'normal' || !RECURRENCE_HEAD.test(tokens[i]!.text)) continue;
    const pieces = piecesFrom(tokens, i, 16);
    const m = pieces.length > 0 ? matchRecurrence(pieces, 0) : null;
    const last = m ? pieces[m.next - 1]! : null;
    if (!m || !last || !ONLY_TRAILING.test(text.slice(last.end, tokens[last.token]!.end))) continue;
    for (let k = i; k <= last.token; k++) tokens[k]!.kind = recurrence ? 'literal' : 'marker';
    if (!recurrence) {
      recurrence = { rule: m.rule, basis: m.basis };
      span('recurrence', tokens[i]!.start, last.end);
    }
    i = last.token;
  }

  // Dates: chrono reads the text without the markers (so "tomorrow !high 9am" is one date).
  let due = findDate(tokens, ctx.now, tz, recurrence?.rule ?? null, span);
  // No date: the first occurrence from today ("every monday" → next Monday, by its end).
  if (!due && recurrence) due = { at: recurrenceDue(recurrence.rule, ctx.now, tz), hasTime: false };

  spans.sort((a, b) => a.start - b.start);
  const title = buildTitle(text, spans, dropped);
  return {
    title: title || text.replace(/\s+/g, ' ').trim(),
    dueDate: due?.at ?? null,
    dueHasTime: due?.hasTime ?? false,
    priority,
    tags,
    projectId: project?.id ?? null,
    projectName: project?.name ?? null,
    recurrence,
    spans,
  };
}

interface ProjectIndex {
  /** Normalised name → project (the first one when two names differ only in case). */
  byName: Map<string, { id: string; name: string }>;
  names: [string, { id: string; name: string }][];
}

function indexProjects(projects: QuickAddContext['projects']): ProjectIndex {
  const byName = new Map<string, { id: string; name: string }>();
  for (const p of projects) {
    const key = normName(p.name);
    if (key && !byName.has(key)) byName.set(key, { id: p.id, name: p.name });
  }
  return { byName, names: [...byName] };
}

function findCloseQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (CLOSE_QUOTE.test(text[i]!)) return i;
  return -1;
}

function tokenAt(tokens: Token[], index: number): Token | undefined {
  return tokens.find((t) => t.start <= index && index < t.end);
}

/**
 * `+Name` / `+"Name with spaces"` at tokens[i]: the exact name (case-insensitive; the longest of
 * up to 6 words), else the one project whose name starts with the word (2+ characters).
 */
function matchProject(
  text: string,
  tokens: Token[],
  i: number,
  projects: ProjectIndex,
): { project: { id: string; name: string } | null; last: number; end: number } {
  const t = tokens[i]!;
  const exact = (name: string) => projects.byName.get(normName(name)) ?? null;
  const prefix = (name: string) => {
    const n = normName(name);
    if (charLength(n) < 2) return null;
    const found = projects.names.filter(([key]) => key.startsWith(n));
    return found.length === 1 ? found[0]![1] : null;
  };
  if (OPEN_QUOTE.test(t.text[1]!)) {
    const close = findCloseQuote(text, t.start + 2);
    const holder = close >= 0 ? tokens.findIndex((x) => x.start <= close && close < x.end) : -1;
    if (holder < 0 || !ONLY_TRAILING.test(text.slice(close + 1, tokens[holder]!.end)))
      return { project: null, last: i, end: t.end };
    const name = text.slice(t.start + 2, close);
    return { project: exact(name) ?? prefix(name), last: holder, end: close + 1 };
  }
  for (let n = Math.min(5, tokens.length - 1 - i); n >= 0; n--) {
    const words = tokens.slice(i, i + n + 1);
    if (words.some((w) => w.kind !== 'normal')) continue;
    const name = [...words.slice(0, -1).map((w) => w.text), core(words[words.length - 1]!.text)]
      .join(' ')
      .slice(1);
    const found = exact(name) ?? (n === 0 ? prefix(name) : null);
    if (found) return { project: found, last: i + n, end: words[n]!.start + core(words[n]!.text).length };
  }
  return { project: null, last: i, end: t.end };
}

/** Word pieces of the run of normal tokens starting at tokens[i] (at most `max` tokens). */
function piecesFrom(tokens: Token[], i: number, max: number): RecurrencePiece[] {
  const out: RecurrencePiece[] = [];
  for (let k = i; k < tokens.length && k < i + max && tokens[k]!.kind === 'normal'; k++) {
    const t = tokens[k]!;
    for (const m of t.text.matchAll(PIECE))
      out.push({
        text: m[0].toLowerCase(),
        start: t.start + m.index,
        end: t.start + m.index + m[0].length,
        token: k,
        first: m.index === 0,
      });
  }
  return out;
}

function findDate(
  tokens: Token[],
  now: Date,
  tz: string,
  rule: string | null,
  span: (kind: 'date', start: number, end: number) => void,
): { at: Date; hasTime: boolean } | null {
  // The text chrono sees: normal words as typed, a barrier for each literal word, no markers.
  let s = '';
  const map: number[] = []; // index in s → index in text (-1: a separator)
  const owner: number[] = []; // index in s → token index
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind === 'marker') continue;
    if (s) {
      s += ' ';
      map.push(-1);
      owner.push(-1);
    }
    const word = t.kind === 'literal' ? BARRIER : t.text;
    s += word;
    for (let c = 0; c < word.length; c++) {
      map.push(t.start + c);
      owner.push(k);
    }
  }
  if (!/\S/.test(s.replaceAll(BARRIER, ''))) return null;

  const refWall = wallTime(now, tz);
  // chrono computes in the runtime's zone: give it a date whose local clock shows the user's.
  const ref = new Date(
    refWall.year,
    refWall.month - 1,
    refWall.day,
    refWall.hour,
    refWall.minute,
    refWall.second,
  );
  let results: chrono.ParsedResult[];
  try {
    results = chrono.casual.parse(s, ref, { forwardDate: true });
  } catch {
    return null;
  }
  for (const r of results) {
    const a = r.index;
    const b = r.index + r.text.length;
    // Whole words only (sentence punctuation may follow), never "issue12/3" or "#2026-01-01".
    if (a < 0 || b > s.length || (a > 0 && s[a - 1] !== ' ')) continue;
    const stop = s.indexOf(' ', b);
    if (!ONLY_TRAILING.test(s.slice(b, stop < 0 ? s.length : stop))) continue;
    const value = evaluate(r, now, refWall, tz, rule);
    if (!value) continue;

    let first = owner[a]!;
    const last = owner[b - 1]!;
    // "at noon", "every month starting dec 5": the connecting word goes with the date.
    let prev = first - 1;
    while (prev >= 0 && tokens[prev]!.kind === 'marker') prev--;
    const connector = prev >= 0 && tokens[prev]!.kind === 'normal' ? tokens[prev]!.text.toLowerCase() : '';
    if (connector === 'at' || connector === 'on' || (rule && START_WORDS.has(connector))) first = prev;
    const startAt = first === owner[a] ? map[a]! : tokens[first]!.start;
    const endAt = map[b - 1]! + 1;
    // One span per run of words: markers in between keep their own spans.
    let runStart = -1;
    for (let k = first; k <= last + 1; k++) {
      const inRun = k <= last && tokens[k]!.kind === 'normal';
      if (inRun && runStart < 0) runStart = k;
      if (!inRun && runStart >= 0) {
        span('date', Math.max(tokens[runStart]!.start, startAt), Math.min(tokens[k - 1]!.end, endAt));
        runStart = -1;
      }
    }
    return value;
  }
  return null;
}

/** The input without the spans and dropped characters, whitespace collapsed. */
function buildTitle(text: string, spans: QuickAddSpan[], dropped: number[]): string {
  const drop = new Set(dropped);
  let out = '';
  let i = 0;
  for (const s of [...spans, { start: text.length, end: text.length }]) {
    for (; i < s.start; i++) if (!drop.has(i)) out += text[i];
    i = Math.max(i, s.end);
    if (s.end > s.start && ',.;:!?'.includes(text[i] ?? ' ')) {
      out = out.trimEnd(); // "Meet tomorrow, then" → "Meet, then"
      if (!out) while (',;:'.includes(text[i] ?? ' ')) i++; // "+Home, paint" → "paint"
    }
  }
  return out.replace(/\s+/g, ' ').trim();
}
