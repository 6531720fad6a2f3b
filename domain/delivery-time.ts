/**
 * When a notice may leave the outbox (基层减负: a unit gets one message a day, not one per event).
 *
 * - Digest notices wait for the contact's next digest slot: the configured send time (default 09:00
 *   Asia/Shanghai) on a working day, at or after the instant the notice was scheduled for. Everything a
 *   contact collects up to that slot goes out as one message.
 * - Bypassing kinds (by default the escalations to the office and extension requests, which the office
 *   acts on the same day) go out at once — except in quiet hours, when they wait for the end of the
 *   quiet window. Quiet hours apply to digest slots too, so a misconfigured send time cannot wake anyone.
 *
 * Pure and deterministic: no clock, no I/O. Asia/Shanghai is a fixed UTC+08:00 (see schedule.ts).
 */
import {
  addCalendarDays,
  CalendarMissingError,
  chinaCalendar,
  dayNumber,
  nextWorkdayOnOrAfter,
  type Calendar,
} from './calendar';
import { shanghaiDate } from './schedule';

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const MS_PER_DAY = 86_400_000;
const MINUTE = 60_000;
const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;

export interface QuietHours {
  /** 'HH:MM' Asia/Shanghai; the window may wrap midnight (21:00–08:00). */
  start: string;
  end: string;
}

export interface DeliveryPolicy {
  /** Whether digest kinds are collected at all; false sends every notice on its own (drills). */
  digest: boolean;
  /** Daily digest send time, 'HH:MM' Asia/Shanghai, on working days. */
  digestTime: string;
  /** Notice kinds that go out on their own, at once (quiet hours still apply). */
  bypassKinds: readonly string[];
  /** No message leaves during these hours; null: none. */
  quietHours: QuietHours | null;
}

export const DEFAULT_BYPASS_KINDS: readonly string[] = [
  'escalation-office',
  'review-escalation-office',
  'extension-request',
];

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  digest: true,
  digestTime: '09:00',
  bypassKinds: DEFAULT_BYPASS_KINDS,
  quietHours: { start: '21:00', end: '08:00' },
};

export interface DeliveryTime {
  /** Epoch ms before which the notice must not be sent. */
  deliverAfter: number;
  /** True when the notice joins its contact's digest; false when it goes out on its own. */
  digest: boolean;
  /**
   * Set when the working-day calendar has no data for this year: the digest slot is then the next
   * send time on any day (see deliveryTime), and the caller should warn so someone adds the year.
   */
  calendarMissingYear?: number;
}

/** Minutes since midnight of 'HH:MM'; throws RangeError on anything else. */
export function parseTimeOfDay(time: string): number {
  const m = TIME_RE.exec(time);
  if (!m) throw new RangeError(`Invalid time of day "${time}": expected HH:MM (00:00–23:59)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** 'a,b c' → ['a', 'b', 'c']; 'none' → [] (the DIGEST_BYPASS_KINDS syntax). */
export function parseKindList(text: string): string[] {
  const t = text.trim();
  return t.toLowerCase() === 'none' ? [] : t.split(/[\s,]+/).filter(Boolean);
}

/** 'HH:MM-HH:MM' → quiet hours; 'off' / 'none' / '' → null. Throws RangeError when malformed. */
export function parseQuietHours(text: string): QuietHours | null {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'off' || t === 'none') return null;
  const m = /^(\d{2}:\d{2})\s*[-–~]\s*(\d{2}:\d{2})$/.exec(t);
  if (!m?.[1] || !m[2]) throw new RangeError(`Invalid quiet hours "${text}": expected HH:MM-HH:MM, e.g. 21:00-08:00`);
  parseTimeOfDay(m[1]);
  parseTimeOfDay(m[2]);
  return { start: m[1], end: m[2] };
}

function shanghaiMidnight(date: string): number {
  return dayNumber(date) * MS_PER_DAY - SHANGHAI_OFFSET_MS;
}

/** Minutes since Shanghai midnight of an instant (fractional minutes dropped). */
function minuteOfDay(t: number): number {
  return Math.floor(((((t + SHANGHAI_OFFSET_MS) % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY) / MINUTE);
}

/** True when `t` falls inside the quiet window [start, end). A zero-length window is no window. */
export function isQuiet(t: number, quiet: QuietHours | null): boolean {
  if (!quiet) return false;
  const start = parseTimeOfDay(quiet.start);
  const end = parseTimeOfDay(quiet.end);
  if (start === end) return false;
  const m = minuteOfDay(t);
  return start < end ? m >= start && m < end : m >= start || m < end;
}

/** `t` itself outside quiet hours, otherwise the end of the quiet window that contains it. */
export function afterQuietHours(t: number, quiet: QuietHours | null): number {
  if (!quiet || !isQuiet(t, quiet)) return t;
  const endToday = shanghaiMidnight(shanghaiDate(t)) + parseTimeOfDay(quiet.end) * MINUTE;
  return endToday > t ? endToday : endToday + MS_PER_DAY;
}

/**
 * The first digest slot at or after `t`: the send time on a working day.
 *
 * A year without calendar data must not stop delivery: the slot falls back to the next send time on
 * any day, and `calendarMissingYear` names the year. Holding notices until someone adds the holiday
 * notice would silently delay every reminder and escalation; guessing from weekends alone would be
 * wrong both ways (make-up Saturdays, weekday holidays), so the fallback does not pretend to know and
 * the warning makes the gap visible.
 */
export function nextDigestSlot(
  t: number,
  digestTime: string,
  calendar: Calendar = chinaCalendar,
): { at: number; calendarMissingYear?: number } {
  const offset = parseTimeOfDay(digestTime) * MINUTE;
  const today = shanghaiDate(t);
  const first = shanghaiMidnight(today) + offset >= t ? today : addCalendarDays(today, 1);
  try {
    return { at: shanghaiMidnight(nextWorkdayOnOrAfter(calendar, first)) + offset };
  } catch (err) {
    if (!(err instanceof CalendarMissingError)) throw err;
    return { at: shanghaiMidnight(first) + offset, calendarMissingYear: err.year };
  }
}

/** When a notice of `kind`, scheduled for `scheduledFor`, may be sent, and whether it joins the digest. */
export function deliveryTime(
  scheduledFor: number,
  kind: string,
  policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY,
  calendar: Calendar = chinaCalendar,
): DeliveryTime {
  if (!policy.digest || policy.bypassKinds.includes(kind)) {
    return { deliverAfter: afterQuietHours(scheduledFor, policy.quietHours), digest: false };
  }
  const slot = nextDigestSlot(scheduledFor, policy.digestTime, calendar);
  return {
    deliverAfter: afterQuietHours(slot.at, policy.quietHours),
    digest: true,
    ...(slot.calendarMissingYear !== undefined ? { calendarMissingYear: slot.calendarMissingYear } : {}),
  };
}

/**
 * Wait before the next delivery attempt after `attempts` failed ones: 1, 2, 4 … minutes, capped at an
 * hour, so a mail server that is down for a while is not hammered and one that is back is used soon.
 */
export function retryDelayMs(attempts: number): number {
  const n = Math.max(1, Math.floor(attempts));
  return Math.min(MINUTE * 2 ** Math.min(n - 1, 10), 60 * MINUTE);
}
