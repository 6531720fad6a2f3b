/**
 * The one schedule function: every date of an annual cycle (period openings, due dates, reminders,
 * overdue notices, escalations, year-end review) comes from `scheduleFor`, so workflows, API and
 * tests cannot disagree about when something happens.
 *
 * Time zone: Asia/Shanghai, which has been a fixed UTC+08:00 since 1991, so plain offset arithmetic
 * is exact and no time-zone database is needed (none is available in Temporal's workflow sandbox
 * anyway). Every instant is returned as an ISO-8601 string in +08:00, e.g. '2023-07-10T18:00:00+08:00':
 * it reads as local office time and still parses unambiguously with Date.parse.
 *
 * Three ways to write a date (`due`, `opens`, review dates):
 * - 'MM-DD': a calendar day in the cycle year (review summary and rating: the following year), at
 *   `dueTime` (`opens`: at `opensTime`); a day that is not a working day moves to the next
 *   working day at the same time of day. Needs the working-day calendar of that year.
 * - an explicit instant with offset, '2023-07-10T18:00:00+08:00' or '…Z': taken literally, never moved.
 * - an ISO-8601 duration, 'PT2M': relative to the preceding milestone (opens → cycle start,
 *   due → the period's opening, review request → last period's due, summary due → request,
 *   rating → summary due). Plain arithmetic, no calendar: this is how a drill cycle runs in minutes.
 *
 * Two ways to write an offset (`reminderBefore`, `leadEscalationAfter`, `officeEscalationAfter`):
 * - `{ workdays: n }`: n working days before/after, at the same time of day as the due instant
 *   (see calendar.ts addWorkdays for the counting rule). Needs the calendar: in a year without
 *   data this throws CalendarMissingError rather than guessing.
 * - an ISO-8601 duration ('PT30S', 'P2D', 'PT1H30M'; weeks, days, hours, minutes, seconds — no years or
 *   months, which have no fixed length): plain arithmetic, no calendar.
 */
import { z } from 'zod';
import { type Calendar, addWorkdays, chinaCalendar, nextWorkdayOnOrAfter } from './calendar';
import {
  isValidMonthDay,
  MONTH_DAY_RE,
  parseInstant,
  shanghaiDate,
  shanghaiMidnight,
  TIME_RE,
  timeOfDayMs,
  toShanghaiIso,
  tryParseDuration,
  tryParseInstant,
} from './instants';

export { parseInstant, shanghaiDate, toShanghaiIso, tryParseDuration, tryParseInstant } from './instants';

// ---------------------------------------------------------------------------------------------
// Options

/** 'MM-DD', an ISO instant with offset, or an ISO-8601 duration (see the module comment). */
export const DateSpecSchema = z.string().refine(
  // 2024 is a leap year: '02-29' is a valid spec; whether it exists in the cycle year is checked in scheduleFor.
  (s) =>
    (MONTH_DAY_RE.test(s) && isValidMonthDay(s, 2024)) ||
    tryParseInstant(s) !== undefined ||
    tryParseDuration(s) !== undefined,
  {
    message:
      "expected 'MM-DD' (e.g. '07-10'), an ISO instant with offset (e.g. '2023-07-10T18:00:00+08:00') or an ISO-8601 duration (e.g. 'PT30S')",
  },
);
export type DateSpec = z.infer<typeof DateSpecSchema>;

const OFFSET_MESSAGE =
  "expected { workdays: n } (n = 0…250) or an ISO-8601 duration such as 'PT30S', 'PT1H30M' or 'P2D' (no years or months)";
/** `{ workdays: n }` or an ISO-8601 duration with weeks/days/hours/minutes/seconds. */
export const OffsetSchema = z.union(
  [
    z.strictObject({ workdays: z.int().min(0).max(250) }),
    z.string().refine((s) => tryParseDuration(s) !== undefined, { message: OFFSET_MESSAGE }),
  ],
  { error: OFFSET_MESSAGE },
);
export type Offset = z.infer<typeof OffsetSchema>;

const TimeOfDaySchema = z.string().regex(TIME_RE, { message: "expected a time of day 'HH:MM' (Asia/Shanghai)" });

export const PeriodOptionsSchema = z.strictObject({
  /** Stable id, used in report keys: 'H1', 'annual', 'Q3'. */
  id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { message: 'period id: 1–32 characters of A-Z a-z 0-9 _ -' }),
  label: z.string().min(1),
  due: DateSpecSchema,
  /** Default: cycle start for the first period, the previous period's due instant otherwise. */
  opens: DateSpecSchema.optional(),
  /** Per-period overrides of the cycle-wide offsets. */
  reminderBefore: OffsetSchema.optional(),
  leadEscalationAfter: OffsetSchema.optional(),
  officeEscalationAfter: OffsetSchema.optional(),
});
export type PeriodOptions = z.infer<typeof PeriodOptionsSchema>;

export const ReviewOptionsSchema = z.strictObject({
  /** When the office asks lead units for the year-end summary. 'MM-DD' = cycle year, at dueTime. */
  request: DateSpecSchema.default('12-11'),
  /** Summary deadline. 'MM-DD' = the year after the cycle year, at dueTime. */
  summaryDue: DateSpecSchema.default('01-10'),
  /** Office rating deadline (完成 / 基本完成 / 未完成). 'MM-DD' = the year after the cycle year, at dueTime. */
  rating: DateSpecSchema.default('01-20'),
  /** Overrides of the cycle-wide offsets for the summary. */
  reminderBefore: OffsetSchema.optional(),
  officeEscalationAfter: OffsetSchema.optional(),
});
export type ReviewOptions = z.infer<typeof ReviewOptionsSchema>;

function defaultPeriods(): PeriodOptions[] {
  return [
    { id: 'H1', label: '上半年', due: '07-10' },
    { id: 'annual', label: '全年', due: '12-10' },
  ];
}

function defaultReview(): ReviewOptions {
  return { request: '12-11', summaryDue: '01-10', rating: '01-20' };
}

function monthDayOrder(a: string, b: string): number | undefined {
  return MONTH_DAY_RE.test(a) && MONTH_DAY_RE.test(b) ? a.localeCompare(b) : undefined;
}

/**
 * Options of one annual cycle. Every field is optional; the defaults (DEFAULT_CYCLE_OPTIONS) are:
 * - year: the Asia/Shanghai year of `startedAt` (required when scheduleFor gets no startedAt);
 * - periods: H1 上半年 due 07-10, annual 全年 due 12-10; each opens at the previous due (first: cycle start);
 * - dueTime 18:00 (close of business), opensTime 09:00 (for 'MM-DD' opens);
 * - reminderBefore 3 workdays, leadEscalationAfter 3 workdays, officeEscalationAfter 5 workdays;
 * - review: request 12-11 (cycle year), summaryDue 01-10 and rating 01-20 (following year).
 * Unknown keys are rejected so that a typo does not silently fall back to a default.
 */
export const CycleOptionsSchema = z
  .strictObject({
    year: z.int().min(2000).max(2100).optional(),
    /**
     * A rehearsal (演练): marked as such wherever it shows, its notices go out at once, the office may cancel it, and
     * its durations count from the moment it starts (`startedAt`, set by the API when the drill starts).
     */
    drill: z.boolean().optional(),
    /** The instant the cycle started; durations of `opens` count from it. Unset: 00:00 on 1 January of the year. */
    startedAt: z
      .string()
      .refine(
        (v) => tryParseInstant(v) !== undefined,
        'must be an ISO instant with offset, e.g. 2026-12-02T10:00:00+08:00',
      )
      .optional(),
    periods: z.array(PeriodOptionsSchema).min(1).default(defaultPeriods),
    dueTime: TimeOfDaySchema.default('18:00'),
    opensTime: TimeOfDaySchema.default('09:00'),
    reminderBefore: OffsetSchema.default({ workdays: 3 }),
    leadEscalationAfter: OffsetSchema.default({ workdays: 3 }),
    officeEscalationAfter: OffsetSchema.default({ workdays: 5 }),
    review: ReviewOptionsSchema.default(defaultReview),
  })
  .superRefine((o, ctx) => {
    const seen = new Set<string>();
    o.periods.forEach((p, i) => {
      if (seen.has(p.id))
        ctx.addIssue({ code: 'custom', path: ['periods', i, 'id'], message: `duplicate period id "${p.id}"` });
      seen.add(p.id);
      if (p.opens !== undefined && (monthDayOrder(p.opens, p.due) ?? -1) >= 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['periods', i, 'due'],
          message: `period "${p.id}" is due (${p.due}) before it opens (${p.opens})`,
        });
      }
      const prev = o.periods[i - 1];
      if (prev && (monthDayOrder(prev.due, p.due) ?? -1) >= 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['periods', i, 'due'],
          message: `periods must be in order of due date: "${p.id}" (${p.due}) is not after "${prev.id}" (${prev.due})`,
        });
      }
    });
  });
/** The zod schema, under the name the rest of the code base uses for it. */
export const CycleOptions = CycleOptionsSchema;
/** Parsed options, defaults filled in. */
export type CycleOptions = z.output<typeof CycleOptionsSchema>;
/** What callers may pass: every field optional. */
export type CycleOptionsInput = z.input<typeof CycleOptionsSchema>;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** The defaults, spelled out (year has none: it comes from the cycle's start). Frozen: copy before changing. */
export const DEFAULT_CYCLE_OPTIONS: Readonly<CycleOptions> = deepFreeze(CycleOptionsSchema.parse({}));

// ---------------------------------------------------------------------------------------------
// Schedule

export interface PeriodSchedule {
  id: string;
  label: string;
  /** When units are told what to report for this period. */
  opensAt: string;
  dueAt: string;
  /** Reminder to units that have not reported; never before opensAt. */
  reminderAt: string;
  /** 催办 to late units: the due instant itself. */
  overdueNoticeAt: string;
  /** 督办: the lead unit is told who is late. */
  leadEscalationAt: string;
  /** 通报: the office is told. */
  officeEscalationAt: string;
}

export interface ReviewSchedule {
  /** Year-end summary requested from lead units; never before the last period's due. */
  requestAt: string;
  summaryDueAt: string;
  /** Never before requestAt. */
  summaryReminderAt: string;
  /** Missing summaries go straight to the office: the lead units are the ones who owe them. */
  officeEscalationAt: string;
  /** Office rating deadline. */
  ratingDueAt: string;
}

export interface CycleSchedule {
  year: number;
  /** startedAt if given, otherwise 00:00 on 1 January of the cycle year. */
  startsAt: string;
  periods: PeriodSchedule[];
  review: ReviewSchedule;
}

type Path = (string | number)[];

/**
 * Computes every date of a cycle. Throws a z.ZodError for invalid options or an impossible
 * order of dates (path names the offending option), and CalendarMissingError when a 'MM-DD' date
 * or a workday offset falls in a year without calendar data.
 */
export function scheduleFor(
  options: CycleOptionsInput = {},
  calendar: Calendar = chinaCalendar,
  startedAt?: string,
): CycleSchedule {
  const o = CycleOptionsSchema.parse(options);
  const issues: z.core.$ZodIssue[] = [];
  const fail = (path: Path, message: string): void => {
    issues.push({ code: 'custom', path, message });
  };

  startedAt ??= o.startedAt;
  const startedMs = startedAt === undefined ? undefined : tryParseInstant(startedAt);
  if (startedAt !== undefined && startedMs === undefined) {
    fail(['startedAt'], `startedAt "${startedAt}" is not an ISO instant with offset (e.g. 2023-06-01T09:00:00+08:00)`);
  }
  const cycleYear = o.year ?? (startedMs === undefined ? undefined : Number(shanghaiDate(startedMs).slice(0, 4)));
  if (cycleYear === undefined) fail(['year'], 'year is required when the cycle has no startedAt');
  if (cycleYear === undefined || issues.length > 0) throw new z.ZodError(issues);
  const startsMs = startedMs ?? shanghaiMidnight(`${cycleYear}-01-01`);

  const resolveDate = (spec: string, specYear: number, time: string, anchorMs: number, path: Path): number => {
    if (MONTH_DAY_RE.test(spec)) {
      if (!isValidMonthDay(spec, specYear)) {
        // Stop here: computing offsets from a made-up date would only add confusing follow-up errors.
        fail(path, `${spec} does not exist in ${specYear}`);
        throw new z.ZodError(issues);
      }
      const day = nextWorkdayOnOrAfter(calendar, `${specYear}-${spec}`);
      return shanghaiMidnight(day) + timeOfDayMs(time);
    }
    const duration = tryParseDuration(spec);
    if (duration !== undefined) return anchorMs + duration;
    return parseInstant(spec);
  };

  const applyOffset = (baseMs: number, offset: Offset, direction: 1 | -1): number => {
    if (typeof offset === 'string') return baseMs + direction * (tryParseDuration(offset) ?? 0);
    const date = shanghaiDate(baseMs);
    const timeOfDay = baseMs - shanghaiMidnight(date);
    return shanghaiMidnight(addWorkdays(calendar, date, direction * offset.workdays)) + timeOfDay;
  };

  const periods: PeriodSchedule[] = [];
  let prevDueMs: number | undefined;
  o.periods.forEach((p, i) => {
    const path: Path = ['periods', i];
    const opensMs =
      p.opens === undefined
        ? (prevDueMs ?? startsMs)
        : resolveDate(p.opens, cycleYear, o.opensTime, startsMs, [...path, 'opens']);
    const dueMs = resolveDate(p.due, cycleYear, o.dueTime, opensMs, [...path, 'due']);
    if (dueMs <= opensMs) {
      fail(
        [...path, 'due'],
        `period "${p.id}" is due at ${toShanghaiIso(dueMs)}, not after it opens at ${toShanghaiIso(opensMs)}: ` +
          'set a later due date, an earlier opens, or drop the period',
      );
    } else if (prevDueMs !== undefined && dueMs <= prevDueMs) {
      fail(
        [...path, 'due'],
        `periods must be in order of due date: "${p.id}" is due at ${toShanghaiIso(dueMs)}, not after the previous period`,
      );
    }
    const reminderMs = Math.max(opensMs, applyOffset(dueMs, p.reminderBefore ?? o.reminderBefore, -1));
    const leadMs = applyOffset(dueMs, p.leadEscalationAfter ?? o.leadEscalationAfter, 1);
    const officeMs = applyOffset(dueMs, p.officeEscalationAfter ?? o.officeEscalationAfter, 1);
    if (officeMs < leadMs) {
      fail(
        [...path, 'officeEscalationAfter'],
        `office escalation (${toShanghaiIso(officeMs)}) would come before lead escalation (${toShanghaiIso(leadMs)}) for period "${p.id}"`,
      );
    }
    periods.push({
      id: p.id,
      label: p.label,
      opensAt: toShanghaiIso(opensMs),
      dueAt: toShanghaiIso(dueMs),
      reminderAt: toShanghaiIso(reminderMs),
      overdueNoticeAt: toShanghaiIso(dueMs),
      leadEscalationAt: toShanghaiIso(leadMs),
      officeEscalationAt: toShanghaiIso(officeMs),
    });
    prevDueMs = dueMs;
  });

  const lastDueMs = prevDueMs ?? startsMs;
  const r = o.review;
  const requestMs = resolveDate(r.request, cycleYear, o.dueTime, lastDueMs, ['review', 'request']);
  if (requestMs < lastDueMs) {
    fail(
      ['review', 'request'],
      `the year-end review request (${toShanghaiIso(requestMs)}) comes before the last period is due (${toShanghaiIso(lastDueMs)})`,
    );
  }
  const summaryDueMs = resolveDate(r.summaryDue, cycleYear + 1, o.dueTime, requestMs, ['review', 'summaryDue']);
  if (summaryDueMs <= requestMs) {
    fail(
      ['review', 'summaryDue'],
      `the summary is due (${toShanghaiIso(summaryDueMs)}) before it is requested (${toShanghaiIso(requestMs)})`,
    );
  }
  const ratingMs = resolveDate(r.rating, cycleYear + 1, o.dueTime, summaryDueMs, ['review', 'rating']);
  if (ratingMs <= summaryDueMs) {
    fail(
      ['review', 'rating'],
      `the rating is due (${toShanghaiIso(ratingMs)}) before the summaries are (${toShanghaiIso(summaryDueMs)})`,
    );
  }
  const summaryReminderMs = Math.max(requestMs, applyOffset(summaryDueMs, r.reminderBefore ?? o.reminderBefore, -1));
  const reviewOfficeMs = applyOffset(summaryDueMs, r.officeEscalationAfter ?? o.officeEscalationAfter, 1);
  if (issues.length > 0) throw new z.ZodError(issues);

  return {
    year: cycleYear,
    startsAt: toShanghaiIso(startsMs),
    periods,
    review: {
      requestAt: toShanghaiIso(requestMs),
      summaryDueAt: toShanghaiIso(summaryDueMs),
      summaryReminderAt: toShanghaiIso(summaryReminderMs),
      officeEscalationAt: toShanghaiIso(reviewOfficeMs),
      ratingDueAt: toShanghaiIso(ratingMs),
    },
  };
}
