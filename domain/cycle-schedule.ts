import { chinaCalendar, type Calendar } from './calendar';
import type { CycleSchedule } from './model';
import { scheduleFor, type CycleOptionsInput } from './schedule';

/**
 * The schedule of one cycle from its stored options, with epoch-millisecond instants as the workflows use them. The
 * one place a cycle's dates come from: cycle preparation, the API's pages and the annual report all read it here.
 * Throws as scheduleFor does (ZodError for invalid options, CalendarMissingError for a year without calendar data).
 */
export function cycleSchedule(year: number, options: unknown, calendar: Calendar = chinaCalendar): CycleSchedule {
  const given = options && typeof options === 'object' ? (options as CycleOptionsInput) : {};
  const s = scheduleFor({ ...given, year }, calendar);
  const ms = (iso: string) => Date.parse(iso);
  return {
    periods: s.periods.map((p) => ({
      id: p.id,
      label: p.label,
      opensAt: ms(p.opensAt),
      dueAt: ms(p.dueAt),
      reminderAt: ms(p.reminderAt),
      overdueNoticeAt: ms(p.overdueNoticeAt),
      leadEscalationAt: ms(p.leadEscalationAt),
      officeEscalationAt: ms(p.officeEscalationAt),
    })),
    review: {
      requestAt: ms(s.review.requestAt),
      summaryReminderAt: ms(s.review.summaryReminderAt),
      summaryDueAt: ms(s.review.summaryDueAt),
      officeEscalationAt: ms(s.review.officeEscalationAt),
      ratingDueAt: ms(s.review.ratingDueAt),
    },
  };
}
