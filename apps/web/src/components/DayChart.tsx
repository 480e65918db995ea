import { type RefObject, useId, useLayoutEffect, useRef, useState } from 'react';
import { byWeek, formatDate, type Report } from '../lib/reports';

/** Longer periods than this are drawn per week: 366 bars of a pixel say nothing. */
const MAX_DAILY_BARS = 92;
const HEIGHT = 220;
const PAD = { top: 22, right: 8, bottom: 30, left: 34 };

/** A step of 1, 2 or 5 × 10ⁿ that cuts 0…max into at most four parts. */
function niceStep(max: number): number {
  const rough = Math.max(max / 4, 1);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  return Math.max(1, step);
}

function useWidth<T extends HTMLElement>(): [RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry!.contentRect.width)));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

/**
 * Tasks added and completed per day, as grouped bars (hand-made SVG), with its figures in a table
 * that a button shows: the chart is a picture, the table is what a screen reader reads. `added`
 * names the first series ("Added" in reports, "Created" on the operations dashboard); `title`
 * replaces the caption.
 */
export function DayChart({
  days,
  title,
  added = 'Added',
}: {
  days: Report['days'];
  title?: string;
  added?: string;
}) {
  const id = useId();
  const [wrap, width] = useWidth<HTMLDivElement>();
  const [table, setTable] = useState(false);
  const weekly = days.length > MAX_DAILY_BARS;
  const series = weekly ? byWeek(days) : days;
  const unit = weekly ? 'week' : 'day';
  const addedWord = added.toLowerCase();
  const caption = title ?? `${added} and completed per ${unit}`;

  const max = Math.max(1, ...series.map((d) => Math.max(d.created, d.completed)));
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const ticks = Array.from({ length: top / step + 1 }, (_, i) => i * step);

  const plotW = Math.max(0, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const band = series.length ? plotW / series.length : 0;
  const gap = Math.max(1, Math.min(band * 0.25, 12));
  const barW = Math.max(1, Math.min((band - gap) / 2, 20));
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const h = (v: number) => (v === 0 ? 0 : Math.max(2, (v / top) * plotH));

  const shortLabel = (date: string) =>
    series.length <= 7
      ? formatDate(date, { weekday: 'short', day: 'numeric' })
      : formatDate(date, { day: 'numeric', month: 'short' });
  const longLabel = (date: string) =>
    weekly
      ? `Week of ${formatDate(date, { day: 'numeric', month: 'short', year: 'numeric' })}`
      : formatDate(date, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
  // One date label every `every` bars, so that labels never touch.
  const labelWidth = series.length <= 7 ? 52 : 46;
  const every = Math.max(1, Math.ceil(series.length / Math.max(1, Math.floor(plotW / labelWidth))));

  const busiest = (key: 'created' | 'completed') =>
    series.reduce((best, d) => (d[key] > best[key] ? d : best), series[0]!);
  const summary = series.length
    ? `Most ${addedWord}: ${busiest('created').created} (${longLabel(busiest('created').date)}). Most completed: ${busiest('completed').completed} (${longLabel(busiest('completed').date)}).`
    : '';

  return (
    <figure className="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`} className="chart-head">
        <span className="chart-title">{caption}</span>
        <span className="chart-legend" aria-hidden="true">
          <span className="legend-item">
            <span className="swatch swatch-added" /> {added}
          </span>
          <span className="legend-item">
            <span className="swatch swatch-completed" /> Completed
          </span>
        </span>
      </figcaption>
      <div ref={wrap} className="chart-plot">
        {width > 0 && (
          <svg
            width={width}
            height={HEIGHT}
            role="img"
            aria-label={`Bar chart of tasks ${addedWord} and completed per ${unit}, ${series.length} ${unit}s. ${summary} The table below has every figure.`}
          >
            <text className="axis-title" x={PAD.left - 6} y={11} textAnchor="end">
              Tasks
            </text>
            {ticks.map((t) => (
              <g key={t} className="tick">
                <line x1={PAD.left} x2={width - PAD.right} y1={y(t)} y2={y(t)} />
                <text x={PAD.left - 6} y={y(t)} dy="0.32em" textAnchor="end">
                  {t}
                </text>
              </g>
            ))}
            {series.map((d, i) => {
              const x0 = PAD.left + i * band;
              const x = x0 + (band - 2 * barW) / 2;
              return (
                <g key={d.date} className="chart-day" data-date={d.date}>
                  <title>{`${longLabel(d.date)}: ${d.created} ${addedWord}, ${d.completed} completed`}</title>
                  <rect className="hit" x={x0} y={PAD.top} width={band} height={plotH} />
                  <rect
                    className="bar-added"
                    x={x}
                    y={y(0) - h(d.created)}
                    width={barW}
                    height={h(d.created)}
                    rx={Math.min(2, barW / 3)}
                  />
                  <rect
                    className="bar-completed"
                    x={x + barW}
                    y={y(0) - h(d.completed)}
                    width={barW}
                    height={h(d.completed)}
                    rx={Math.min(2, barW / 3)}
                  />
                  {i % every === 0 && (
                    <text
                      className="x-label"
                      x={x0 + band / 2}
                      y={HEIGHT - PAD.bottom + 16}
                      textAnchor="middle"
                    >
                      {shortLabel(d.date)}
                    </text>
                  )}
                </g>
              );
            })}
            <line className="axis" x1={PAD.left} x2={width - PAD.right} y1={y(0)} y2={y(0)} />
          </svg>
        )}
      </div>
      <p className="chart-foot faint">
        {weekly
          ? 'Each bar is a week, Monday to Sunday (the first and last may be partial).'
          : 'Each bar is a day.'}{' '}
        <button
          type="button"
          className="btn-link btn-inline"
          aria-expanded={table}
          aria-controls={`${id}-table`}
          onClick={() => setTable((t) => !t)}
        >
          {table ? 'Hide the table' : 'Show as a table'}
        </button>
      </p>
      <div id={`${id}-table`} className="chart-table" hidden={!table}>
        <table className="data-table">
          <caption className="sr-only">
            Tasks {addedWord} and completed per {unit}
          </caption>
          <thead>
            <tr>
              <th scope="col">{weekly ? 'Week of' : 'Day'}</th>
              <th scope="col">{added}</th>
              <th scope="col">Completed</th>
            </tr>
          </thead>
          <tbody>
            {series.map((d) => (
              <tr key={d.date}>
                <th scope="row">{longLabel(d.date)}</th>
                <td>{d.created}</td>
                <td>{d.completed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
