/**
 * Civil dates ('YYYY-MM-DD') as day numbers since 1970-01-01: pure arithmetic without load-time state, so the
 * workflow bundle can use it without the holiday calendar (calendar.ts, which re-exports these) or zod.
 */

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

/** Day number since 1970-01-01 of a valid 'YYYY-MM-DD'; throws RangeError on anything else. */
export function dayNumber(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) throw new RangeError(`Invalid date "${date}": expected YYYY-MM-DD`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  // Date.UTC silently rolls 02-30 over into March; a round trip exposes such dates.
  if (formatDayNumber(ms / MS_PER_DAY) !== date) throw new RangeError(`Invalid date "${date}": no such day`);
  return ms / MS_PER_DAY;
}

/** Inverse of dayNumber. */
export function formatDayNumber(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** 0 = Sunday … 6 = Saturday. */
export function dayOfWeek(date: string): number {
  // 1970-01-01 was a Thursday.
  return (((dayNumber(date) + 4) % 7) + 7) % 7;
}

/** The civil date `days` calendar days after (or before, if negative) `date`. */
export function addCalendarDays(date: string, days: number): string {
  return formatDayNumber(dayNumber(date) + days);
}
