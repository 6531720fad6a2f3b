/**
 * Working days of mainland China: Monday–Friday, minus the official days off, plus the weekend
 * days that the State Council declares working days (调休 make-up workdays).
 *
 * Pure and deterministic: no I/O, no clock, no time-zone database. Dates are plain civil dates
 * ('YYYY-MM-DD'); time of day is the schedule's business (see schedule.ts).
 *
 * The data comes from the State Council General Office's yearly notice (国务院办公厅关于X年部分节假日安排的通知),
 * one JSON file per year under `domain/calendar/`. The notice for a year appears only in the
 * preceding November/December, so a date in a year without a file is an error
 * (`CalendarMissingError`), never a silent guess from weekends: a guessed deadline on a holiday
 * would send reminders and escalations on days nobody works.
 */
import { z } from 'zod';
import data2023 from './calendar/2023.json';
import data2024 from './calendar/2024.json';
import data2025 from './calendar/2025.json';
import data2026 from './calendar/2026.json';
import { addCalendarDays, dayNumber, dayOfWeek } from './civil-dates';

export { addCalendarDays, dayNumber, dayOfWeek, formatDayNumber } from './civil-dates';

/** Thrown when a date falls in a year for which no holiday notice has been loaded. */
export class CalendarMissingError extends Error {
  readonly code = 'CALENDAR_MISSING';

  constructor(readonly year: number) {
    super(
      `没有${year}年的工作日历（节假日安排）：请依据国务院办公厅关于${year}年部分节假日安排的通知添加 domain/calendar/${year}.json。` +
        ` No working-day calendar for ${year}: add domain/calendar/${year}.json from the State Council holiday notice for ${year}.`,
    );
    this.name = 'CalendarMissingError';
  }
}

function isWeekend(date: string): boolean {
  const dow = dayOfWeek(date);
  return dow === 0 || dow === 6;
}

const IsoDate = z.string().refine(
  (s) => {
    try {
      dayNumber(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a real date YYYY-MM-DD' },
);

/**
 * One year's notice. `holidays` lists every day of each holiday block as announced, weekends
 * inside the block included; a block that starts in late December of the previous year (元旦) may
 * list those December days too, so the file mirrors the notice. `makeupWorkdays` are the weekend
 * days declared working days.
 */
export const CalendarYearSchema = z
  .object({
    year: z.int().min(1991),
    source: z.string().min(1),
    note: z.string().optional(),
    holidays: z.array(IsoDate),
    makeupWorkdays: z.array(IsoDate),
  })
  .superRefine((y, ctx) => {
    const inScope = (d: string): boolean => d.startsWith(`${y.year}-`) || d.startsWith(`${y.year - 1}-12-`);
    y.holidays.forEach((d, i) => {
      if (!inScope(d)) ctx.addIssue({ code: 'custom', path: ['holidays', i], message: `${d} is outside ${y.year}` });
    });
    const holidaySet = new Set(y.holidays);
    y.makeupWorkdays.forEach((d, i) => {
      if (!d.startsWith(`${y.year}-`)) {
        ctx.addIssue({ code: 'custom', path: ['makeupWorkdays', i], message: `${d} is outside ${y.year}` });
      } else if (!isWeekend(d)) {
        ctx.addIssue({ code: 'custom', path: ['makeupWorkdays', i], message: `${d} is a weekday, not a make-up day` });
      }
      if (holidaySet.has(d)) {
        ctx.addIssue({ code: 'custom', path: ['makeupWorkdays', i], message: `${d} is also listed as a holiday` });
      }
    });
  });
export type CalendarYear = z.infer<typeof CalendarYearSchema>;

export interface Calendar {
  /** Years whose notice is loaded, ascending. Dates outside these years throw CalendarMissingError. */
  readonly years: readonly number[];
  readonly holidays: ReadonlySet<string>;
  readonly makeupWorkdays: ReadonlySet<string>;
  /** Notice title and document number per year, for display and audit. */
  readonly sources: Readonly<Record<number, string>>;
}

/** The bundled notices, keyed by year. */
export const CALENDAR_DATA: Readonly<Record<number, CalendarYear>> = Object.fromEntries(
  [data2023, data2024, data2025, data2026].map((raw) => {
    const parsed = CalendarYearSchema.parse(raw);
    return [parsed.year, parsed];
  }),
);

/** Builds a calendar from notices (e.g. the bundled ones, or ones stored elsewhere). Later duplicates of a year win. */
export function buildCalendar(yearsData: readonly CalendarYear[]): Calendar {
  const byYear = new Map<number, CalendarYear>();
  for (const raw of yearsData) {
    const y = CalendarYearSchema.parse(raw);
    byYear.set(y.year, y);
  }
  const all = [...byYear.values()];
  return {
    years: [...byYear.keys()].sort((a, b) => a - b),
    holidays: new Set(all.flatMap((y) => y.holidays)),
    makeupWorkdays: new Set(all.flatMap((y) => y.makeupWorkdays)),
    sources: Object.fromEntries(all.map((y) => [y.year, y.source])),
  };
}

/**
 * A calendar from the bundled notices: all of them, or only `years` (each must be bundled,
 * otherwise CalendarMissingError).
 */
export function loadCalendar(years?: readonly number[]): Calendar {
  const wanted = years ?? Object.keys(CALENDAR_DATA).map(Number);
  return buildCalendar(
    wanted.map((year) => {
      const y = CALENDAR_DATA[year];
      if (!y) throw new CalendarMissingError(year);
      return y;
    }),
  );
}

/** Every bundled year (2023–2026 at present). */
export const chinaCalendar: Calendar = loadCalendar();

function assertCovered(cal: Calendar, date: string): void {
  dayNumber(date);
  const year = Number(date.slice(0, 4));
  if (!cal.years.includes(year)) throw new CalendarMissingError(year);
}

/** True on Monday–Friday unless an official day off, and on make-up weekend days. */
export function isWorkday(cal: Calendar, date: string): boolean {
  assertCovered(cal, date);
  if (cal.makeupWorkdays.has(date)) return true;
  if (cal.holidays.has(date)) return false;
  return !isWeekend(date);
}

/** `date` itself if it is a workday, otherwise the first workday after it. */
export function nextWorkdayOnOrAfter(cal: Calendar, date: string): string {
  let d = date;
  while (!isWorkday(cal, d)) d = addCalendarDays(d, 1);
  return d;
}

/** `date` itself if it is a workday, otherwise the last workday before it. */
export function previousWorkdayOnOrBefore(cal: Calendar, date: string): string {
  let d = date;
  while (!isWorkday(cal, d)) d = addCalendarDays(d, -1);
  return d;
}

/**
 * Counts workdays the way deadlines are counted in an office:
 * - n > 0: the n-th workday strictly after `date` ("3 workdays after the due date");
 * - n < 0: the |n|-th workday strictly before `date` ("3 workdays before the due date");
 * - n = 0: `date` if it is a workday, otherwise the next workday (same as nextWorkdayOnOrAfter).
 * `date` itself need not be a workday. Crossing into a year without data throws CalendarMissingError.
 */
export function addWorkdays(cal: Calendar, date: string, n: number): string {
  if (!Number.isInteger(n)) throw new RangeError(`addWorkdays: n must be an integer, got ${n}`);
  if (n === 0) return nextWorkdayOnOrAfter(cal, date);
  const step = n > 0 ? 1 : -1;
  let remaining = Math.abs(n);
  let d = date;
  assertCovered(cal, d);
  while (remaining > 0) {
    d = addCalendarDays(d, step);
    if (isWorkday(cal, d)) remaining -= 1;
  }
  return d;
}

/**
 * Workdays from `from` (exclusive) to `to` (inclusive); negative when `to` is before `from`.
 * "还剩 N 个工作日" on the due date's eve is 1; "已逾期 N 个工作日" counts the workdays since the due date.
 */
export function workdaysBetween(cal: Calendar, from: string, to: string): number {
  if (from === to) return 0;
  const step = from < to ? 1 : -1;
  let n = 0;
  let d = from;
  while (d !== to) {
    d = addCalendarDays(d, step);
    if (isWorkday(cal, d)) n += 1;
  }
  return step * n;
}
