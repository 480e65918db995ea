// The operations dashboard (admins): its query, refreshed every 10 s, and the wording of its figures.
import { useQuery } from '@tanstack/react-query';
import { type Schemas, TaskmanError, unwrap } from '@taskman/sdk';
import { api } from './api';

export type Dashboard = Schemas['Dashboard'];
export type HealthStatus = Dashboard['health']['status'];
export type Alert = Dashboard['alerts'][number];
export type ProcessInfo = Dashboard['processes'][number];

export const REFRESH_MS = 10_000;

export function useDashboard(enabled: boolean) {
  return useQuery({
    queryKey: ['admin', 'dashboard'],
    enabled,
    queryFn: () => unwrap(api.GET('/api/v1/admin/dashboard')),
    refetchInterval: REFRESH_MS,
    // Always the latest on arrival; the figures on screen stay while the next ones load.
    staleTime: 0,
  });
}

/** A 403: not an admin, or an admin from an address ADMIN_IP_ALLOWLIST does not allow. */
export const isForbidden = (err: unknown) => err instanceof TaskmanError && err.status === 403;

/** What the health badge says: a word (never the colour alone) and its tone. */
export const HEALTH: Record<HealthStatus, { label: string; tone: 'ok' | 'warn' | 'danger' }> = {
  ok: { label: 'OK', tone: 'ok' },
  degraded: { label: 'Degraded', tone: 'warn' },
  unavailable: { label: 'Down', tone: 'danger' },
};

/** Critical first, then warnings, each in the server's order. */
export function sortAlerts(alerts: Alert[]): Alert[] {
  const rank = (a: Alert) => (a.severity === 'critical' ? 0 : 1);
  return alerts
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i)
    .map((x) => x.a);
}

const DASH = '—';
const trim = (s: string) => s.replace(/\.0$/, '');

/** 950, 1.2k, 34k, 1.5M; small rates keep a decimal (0.4). */
export function compact(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return DASH;
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${trim((n / 1e9).toFixed(1))}G`;
  if (abs >= 1e6) return `${trim((n / 1e6).toFixed(1))}M`;
  if (abs >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (abs >= 1e3) return `${trim((n / 1e3).toFixed(1))}k`;
  if (abs >= 10 || n === 0 || Number.isInteger(n)) return String(Math.round(n));
  return trim(n.toFixed(1));
}

/** 0.4 ms, 5.8 ms, 35 ms, 1.2 s. */
export function millis(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return DASH;
  if (ms >= 1000) return `${trim((ms / 1000).toFixed(1))} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms > 0 && ms < 0.1) return '< 0.1 ms';
  return `${trim(ms.toFixed(1))} ms`;
}

/** A percentage given as 0–100: 0%, 0.2%, 4.5%, 12%, 100%. */
export function pct(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return DASH;
  if (value === 0) return '0%';
  if (value < 0.1) return '< 0.1%';
  if (value < 10) return `${trim(value.toFixed(1))}%`;
  return `${Math.round(value)}%`;
}

/** A rate given as 0–1 (error rate, hit rate) as a percentage. */
export const ratio = (rate: number | null) => (rate === null ? DASH : pct(rate * 100));

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
/** 512 B, 8.5 MB, 1.4 GB (powers of 1024, as operating systems count). */
export function bytes(n: number | null): string {
  if (n === null || !Number.isFinite(n) || n < 0) return DASH;
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${trim(value.toFixed(digits))} ${UNITS[unit]}`;
}

/** "< 1 s", "45 s", "12 min", "3 h 12 min", "2 d 4 h": a duration in its two largest units. */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return DASH;
  const s = Math.floor(seconds);
  if (s < 1) return '< 1 s';
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** The same, as a screen reader should say it: "3 hours 12 minutes". */
export function spokenDuration(seconds: number | null): string {
  const plural = (n: string, word: string) => `${n} ${word}${n === '1' ? '' : 's'}`;
  return duration(seconds)
    .replace(DASH, 'none')
    .replace('< 1 s', 'under a second')
    .replace(/(\d+) d\b/, (_, n) => plural(n, 'day'))
    .replace(/(\d+) h\b/, (_, n) => plural(n, 'hour'))
    .replace(/(\d+) min\b/, (_, n) => plural(n, 'minute'))
    .replace(/(\d+) s\b/, (_, n) => plural(n, 'second'));
}

/** "14:05:10": a time of day with seconds, in the user's time zone. */
export function clock(iso: string | number, timeZone: string): string {
  return new Intl.DateTimeFormat(undefined, { timeZone, timeStyle: 'medium' }).format(new Date(iso));
}
