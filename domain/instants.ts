/**
 * Instants, durations and times of day as duban writes them: ISO-8601 with an explicit offset, shown in
 * Asia/Shanghai (UTC+8 all year, no daylight saving). Split from schedule.ts, which re-exports the public part.
 */
import { dayNumber, formatDayNumber } from './civil-dates';

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const MS_PER_DAY = 86_400_000;

export const MONTH_DAY_RE = /^(\d{2})-(\d{2})$/;
const INSTANT_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|([+-])(\d{2}):(\d{2}))$/;
const DURATION_RE = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;
export const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

// ---------------------------------------------------------------------------------------------
// Instants and durations

/** Epoch milliseconds of an ISO instant that carries an explicit offset ('Z' or '±HH:MM'); undefined if invalid. */
export function tryParseInstant(iso: string): number | undefined {
  const m = INSTANT_RE.exec(iso);
  if (!m) return undefined;
  const [, date = '', hh, mm, ss, frac, zone, sign, oh, om] = m;
  let day: number;
  try {
    day = dayNumber(date);
  } catch {
    return undefined;
  }
  const h = Number(hh);
  const mi = Number(mm);
  const s = Number(ss ?? 0);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Number((frac ?? '').padEnd(3, '0'));
  const offsetMs = zone === 'Z' ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3_600_000 + Number(om) * 60_000);
  return day * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + s * 1000 + ms - offsetMs;
}

/** Epoch milliseconds of an ISO instant with explicit offset; throws RangeError if invalid. */
export function parseInstant(iso: string): number {
  const ms = tryParseInstant(iso);
  if (ms === undefined) throw new RangeError(`Invalid instant "${iso}": expected e.g. 2023-07-10T18:00:00+08:00`);
  return ms;
}

/** Milliseconds of an ISO-8601 duration limited to W, D, H, M, S; undefined if invalid or empty. */
export function tryParseDuration(iso: string): number | undefined {
  const m = DURATION_RE.exec(iso);
  if (!m || iso === 'P' || iso.endsWith('T')) return undefined;
  const [, w, d, h, mi, s] = m;
  return (
    Number(w ?? 0) * 7 * MS_PER_DAY +
    Number(d ?? 0) * MS_PER_DAY +
    Number(h ?? 0) * 3_600_000 +
    Number(mi ?? 0) * 60_000 +
    Math.round(Number(s ?? 0) * 1000)
  );
}

/** The instant as Asia/Shanghai wall time: 'YYYY-MM-DDTHH:mm:ss[.sss]+08:00'. */
export function toShanghaiIso(ms: number): string {
  const local = new Date(ms + SHANGHAI_OFFSET_MS).toISOString(); // 'YYYY-MM-DDTHH:mm:ss.sssZ'
  const millis = local.slice(19, 23);
  return `${local.slice(0, 19)}${millis === '.000' ? '' : millis}+08:00`;
}

/** The Asia/Shanghai civil date of an instant. */
export function shanghaiDate(ms: number): string {
  return formatDayNumber(Math.floor((ms + SHANGHAI_OFFSET_MS) / MS_PER_DAY));
}

/** Epoch milliseconds of midnight starting `date` in Asia/Shanghai. */
export function shanghaiMidnight(date: string): number {
  return dayNumber(date) * MS_PER_DAY - SHANGHAI_OFFSET_MS;
}

export function timeOfDayMs(time: string): number {
  const m = TIME_RE.exec(time);
  if (!m) throw new RangeError(`Invalid time of day "${time}"`);
  return Number(m[1]) * 3_600_000 + Number(m[2]) * 60_000 + Number(m[3] ?? 0) * 1000;
}

export function isValidMonthDay(md: string, year: number): boolean {
  try {
    dayNumber(`${String(year).padStart(4, '0')}-${md}`);
    return true;
  } catch {
    return false;
  }
}
