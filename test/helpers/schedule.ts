import { toShanghaiIso } from '../../domain/schedule';
import type { CycleSchedule } from '../../domain/model';

const dur = (ms: number) => `PT${Math.round(ms / 1000)}S`;

/**
 * Cycle options that reproduce the schedule `real` moved by `shift` milliseconds and nothing else:
 * every period and review instant explicit, every offset the exact duration the calendar gave.
 * The time-skipping test server's clock starts at the present and cannot go back to, say, 2023.
 */
export function shiftedOptions(real: CycleSchedule, shift: number) {
  const iso = (ms: number) => toShanghaiIso(ms + shift);
  return {
    periods: real.periods.map((p) => ({
      id: p.id,
      label: p.label,
      opens: iso(p.opensAt),
      due: iso(p.dueAt),
      reminderBefore: dur(p.dueAt - p.reminderAt),
      leadEscalationAfter: dur(p.leadEscalationAt - p.dueAt),
      officeEscalationAfter: dur(p.officeEscalationAt - p.dueAt),
    })),
    review: {
      request: iso(real.review.requestAt),
      summaryDue: iso(real.review.summaryDueAt),
      rating: iso(real.review.ratingDueAt),
      reminderBefore: dur(real.review.summaryDueAt - real.review.summaryReminderAt),
      officeEscalationAfter: dur(real.review.officeEscalationAt - real.review.summaryDueAt),
    },
  };
}

const DAY = 86_400_000;

/** A test period due 10 days after it opens: reminder 2 days before, lead escalation 2 and office 4 days after. */
export function tenDayPeriod(id: string, label: string, opensAt: number): CycleSchedule['periods'][number] {
  const dueAt = opensAt + 10 * DAY;
  return {
    id,
    label,
    opensAt,
    dueAt,
    reminderAt: dueAt - 2 * DAY,
    overdueNoticeAt: dueAt,
    leadEscalationAt: dueAt + 2 * DAY,
    officeEscalationAt: dueAt + 4 * DAY,
  };
}
