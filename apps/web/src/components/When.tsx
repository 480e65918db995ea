import { fullTime, relativeTime } from '../lib/integrations';
import { useTimeZone } from '../lib/session';

/** An instant as "5 minutes ago" / "in 3 days" / "15 Jan", the whole date and time on hover. */
export function When({ iso }: { iso: string }) {
  const timeZone = useTimeZone();
  return (
    <time dateTime={iso} title={fullTime(iso, timeZone)}>
      {relativeTime(iso, timeZone)}
    </time>
  );
}
