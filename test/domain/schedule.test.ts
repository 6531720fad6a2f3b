import { z } from 'zod';
import { CalendarMissingError, chinaCalendar, loadCalendar } from '../../domain/calendar';
import {
  CycleOptionsSchema,
  DEFAULT_CYCLE_OPTIONS,
  type CycleOptionsInput,
  parseInstant,
  scheduleFor,
  toShanghaiIso,
  tryParseDuration,
} from '../../domain/schedule';

/** The zod issues scheduleFor throws, as [path, message] pairs. */
function issuesOf(fn: () => unknown): [string, string][] {
  try {
    fn();
  } catch (e) {
    if (e instanceof z.ZodError) return e.issues.map((i) => [i.path.join('.'), i.message]);
    throw e;
  }
  throw new Error('expected a ZodError');
}

describe('default 2023 cycle', () => {
  const s = scheduleFor({ year: 2023 }, chinaCalendar);
  const [h1, annual] = s.periods;

  it('has the documented defaults', () => {
    expect(DEFAULT_CYCLE_OPTIONS).toEqual({
      periods: [
        { id: 'H1', label: '上半年', due: '07-10' },
        { id: 'annual', label: '全年', due: '12-10' },
      ],
      dueTime: '18:00',
      opensTime: '09:00',
      reminderBefore: { workdays: 3 },
      leadEscalationAfter: { workdays: 3 },
      officeEscalationAfter: { workdays: 5 },
      review: { request: '12-11', summaryDue: '01-10', rating: '01-20' },
    });
    expect(Object.isFrozen(DEFAULT_CYCLE_OPTIONS.periods)).toBe(true);
  });

  it('H1 is due Monday 2023-07-10 18:00, reminded 3 workdays before, escalated 3 and 5 workdays after', () => {
    expect(h1).toEqual({
      id: 'H1',
      label: '上半年',
      opensAt: '2023-01-01T00:00:00+08:00',
      dueAt: '2023-07-10T18:00:00+08:00',
      reminderAt: '2023-07-05T18:00:00+08:00',
      overdueNoticeAt: '2023-07-10T18:00:00+08:00',
      leadEscalationAt: '2023-07-13T18:00:00+08:00',
      officeEscalationAt: '2023-07-17T18:00:00+08:00',
    });
  });

  it('moves the annual due date from Sunday 12-10 to Monday 12-11 and opens it when H1 is due', () => {
    expect(annual).toMatchObject({
      opensAt: '2023-07-10T18:00:00+08:00',
      dueAt: '2023-12-11T18:00:00+08:00',
      reminderAt: '2023-12-06T18:00:00+08:00',
      leadEscalationAt: '2023-12-14T18:00:00+08:00',
      officeEscalationAt: '2023-12-18T18:00:00+08:00',
    });
  });

  it('runs the year-end review into January 2024', () => {
    expect(s.review).toEqual({
      requestAt: '2023-12-11T18:00:00+08:00',
      summaryDueAt: '2024-01-10T18:00:00+08:00',
      summaryReminderAt: '2024-01-05T18:00:00+08:00', // Fri; 01-08 and 01-09 are the other two workdays
      officeEscalationAt: '2024-01-17T18:00:00+08:00',
      ratingDueAt: '2024-01-22T18:00:00+08:00', // 01-20 is a Saturday
    });
  });

  it('prints instants as Asia/Shanghai wall time that parse back to the same moment', () => {
    expect(Date.parse(h1!.dueAt)).toBe(Date.UTC(2023, 6, 10, 10, 0, 0));
    expect(parseInstant(h1!.dueAt)).toBe(Date.parse(h1!.dueAt));
    expect(toShanghaiIso(Date.UTC(2023, 11, 31, 16, 0, 0, 250))).toBe('2024-01-01T00:00:00.250+08:00');
  });
});

describe('due dates on non-working days', () => {
  it('moves a due date inside the National Day block to the first workday after it, a make-up Saturday', () => {
    const [p] = scheduleFor({ year: 2023, periods: [{ id: 'Q3', label: '三季度', due: '10-01' }] }).periods;
    expect(p).toMatchObject({
      dueAt: '2023-10-07T18:00:00+08:00', // Saturday, 调休 workday
      reminderAt: '2023-09-26T18:00:00+08:00', // 09-28, 09-27, 09-26: the block 09-29..10-06 does not count
      leadEscalationAt: '2023-10-10T18:00:00+08:00', // 10-08 (Sunday, workday), 10-09, 10-10
      officeEscalationAt: '2023-10-12T18:00:00+08:00',
    });
  });

  it('takes explicit instants literally, even on a holiday', () => {
    const [p] = scheduleFor({
      year: 2023,
      periods: [{ id: 'x', label: 'x', due: '2023-10-02T12:00:00+08:00' }],
    }).periods;
    expect(p!.dueAt).toBe('2023-10-02T12:00:00+08:00');
    expect(p!.leadEscalationAt).toBe('2023-10-09T12:00:00+08:00'); // 10-07, 10-08, 10-09
  });
});

describe('overrides', () => {
  it('applies due time, offsets, per-period overrides and review dates', () => {
    const s = scheduleFor(
      {
        periods: [
          { id: 'Q2', label: '二季度', due: '06-30', opens: '04-03' },
          { id: 'Q4', label: '四季度', due: '12-20', leadEscalationAfter: { workdays: 1 } },
        ],
        dueTime: '17:30',
        reminderBefore: 'P2D',
        officeEscalationAfter: { workdays: 10 },
        review: { request: '12-25', summaryDue: '01-15', rating: '2024-02-01T12:00:00+08:00' },
      },
      chinaCalendar,
      '2023-03-01T10:00:00+08:00',
    );
    expect(s.year).toBe(2023);
    expect(s.startsAt).toBe('2023-03-01T10:00:00+08:00');
    const [q2, q4] = s.periods;
    expect(q2).toMatchObject({
      opensAt: '2023-04-03T09:00:00+08:00',
      dueAt: '2023-06-30T17:30:00+08:00', // Friday
      reminderAt: '2023-06-28T17:30:00+08:00', // P2D: plain 48 hours
      leadEscalationAt: '2023-07-05T17:30:00+08:00',
      officeEscalationAt: '2023-07-14T17:30:00+08:00',
    });
    expect(q4).toMatchObject({
      opensAt: '2023-06-30T17:30:00+08:00',
      dueAt: '2023-12-20T17:30:00+08:00',
      leadEscalationAt: '2023-12-21T17:30:00+08:00',
    });
    expect(s.review).toMatchObject({
      requestAt: '2023-12-25T17:30:00+08:00',
      summaryDueAt: '2024-01-15T17:30:00+08:00',
      ratingDueAt: '2024-02-01T12:00:00+08:00',
    });
  });

  it('clamps a reminder that would fall before the period opens', () => {
    const [p] = scheduleFor({ year: 2023 }, chinaCalendar, '2023-07-07T10:00:00+08:00').periods;
    expect(p!.reminderAt).toBe('2023-07-07T10:00:00+08:00');
  });

  it('takes the year from startedAt (Asia/Shanghai) when not given', () => {
    expect(scheduleFor({}, chinaCalendar, '2023-12-31T16:30:00Z').year).toBe(2024);
  });
});

describe('drill cycles with durations', () => {
  const drill: CycleOptionsInput = {
    periods: [
      { id: 'd1', label: '演练一', due: 'PT2M' },
      { id: 'd2', label: '演练二', due: 'PT2M' },
    ],
    reminderBefore: 'PT30S',
    leadEscalationAfter: 'PT30S',
    officeEscalationAfter: 'PT1M',
    review: { request: 'PT10S', summaryDue: 'PT1M', rating: 'PT1M30S' },
  };

  it('runs in minutes from startedAt, without any calendar data for the year', () => {
    const s = scheduleFor(drill, loadCalendar([2023]), '2030-03-01T10:00:00Z');
    expect(s.periods).toEqual([
      {
        id: 'd1',
        label: '演练一',
        opensAt: '2030-03-01T18:00:00+08:00',
        dueAt: '2030-03-01T18:02:00+08:00',
        reminderAt: '2030-03-01T18:01:30+08:00',
        overdueNoticeAt: '2030-03-01T18:02:00+08:00',
        leadEscalationAt: '2030-03-01T18:02:30+08:00',
        officeEscalationAt: '2030-03-01T18:03:00+08:00',
      },
      {
        id: 'd2',
        label: '演练二',
        opensAt: '2030-03-01T18:02:00+08:00',
        dueAt: '2030-03-01T18:04:00+08:00',
        reminderAt: '2030-03-01T18:03:30+08:00',
        overdueNoticeAt: '2030-03-01T18:04:00+08:00',
        leadEscalationAt: '2030-03-01T18:04:30+08:00',
        officeEscalationAt: '2030-03-01T18:05:00+08:00',
      },
    ]);
    expect(s.review).toEqual({
      requestAt: '2030-03-01T18:04:10+08:00',
      summaryDueAt: '2030-03-01T18:05:10+08:00',
      summaryReminderAt: '2030-03-01T18:04:40+08:00',
      officeEscalationAt: '2030-03-01T18:06:10+08:00',
      ratingDueAt: '2030-03-01T18:06:40+08:00',
    });
  });

  it('needs the calendar as soon as a workday offset is used', () => {
    expect(() =>
      scheduleFor({ ...drill, leadEscalationAfter: { workdays: 1 } }, chinaCalendar, '2030-03-01T10:00:00Z'),
    ).toThrow(CalendarMissingError);
  });

  it('parses durations down to seconds and rejects years and months', () => {
    expect(tryParseDuration('PT30S')).toBe(30_000);
    expect(tryParseDuration('PT1H30M')).toBe(5_400_000);
    expect(tryParseDuration('P2D')).toBe(172_800_000);
    expect(tryParseDuration('P1W')).toBe(604_800_000);
    expect(tryParseDuration('PT0.5S')).toBe(500);
    expect(tryParseDuration('P1Y')).toBeUndefined();
    expect(tryParseDuration('P1M')).toBeUndefined();
    expect(tryParseDuration('PT')).toBeUndefined();
  });
});

describe('bad options', () => {
  it('rejects periods out of order', () => {
    const options: CycleOptionsInput = {
      year: 2023,
      periods: [
        { id: 'annual', label: '全年', due: '12-10' },
        { id: 'H1', label: '上半年', due: '07-10' },
      ],
    };
    expect(issuesOf(() => CycleOptionsSchema.parse(options))).toEqual([
      ['periods.1.due', 'periods must be in order of due date: "H1" (07-10) is not after "annual" (12-10)'],
    ]);
    expect(issuesOf(() => scheduleFor(options))).toHaveLength(1);
  });

  it('rejects a due date before the period opens, also when only the computed instants show it', () => {
    expect(
      issuesOf(() =>
        scheduleFor({ year: 2023, periods: [{ id: 'H1', label: '上半年', due: '07-10', opens: '08-01' }] }),
      ),
    ).toEqual([['periods.0.due', 'period "H1" is due (07-10) before it opens (08-01)']]);
    const late = issuesOf(() => scheduleFor({ year: 2023 }, chinaCalendar, '2023-08-01T09:00:00+08:00'));
    expect(late).toHaveLength(1);
    expect(late[0]![0]).toBe('periods.0.due');
    expect(late[0]![1]).toMatch(/due at 2023-07-10T18:00:00\+08:00, not after it opens at 2023-08-01T09:00:00\+08:00/);
  });

  it('names every malformed field', () => {
    const issues = issuesOf(() =>
      scheduleFor({
        year: 2023,
        periods: [{ id: 'H 1', label: '', due: '13-01' }],
        dueTime: '25:00',
        reminderBefore: 'P1M',
        leadEscalationAfter: { workdays: -1 },
        review: { rating: 'tomorrow' },
        color: 'red',
      } as CycleOptionsInput),
    );
    expect(issues.map(([path]) => path).sort()).toEqual(
      [
        '',
        'dueTime',
        'leadEscalationAfter.workdays',
        'periods.0.due',
        'periods.0.id',
        'periods.0.label',
        'reminderBefore',
        'review.rating',
      ].sort(),
    );
    expect(issues.find(([path]) => path === 'reminderBefore')![1]).toMatch(/workdays.*ISO-8601 duration/);
    expect(issues.find(([path]) => path === '')![1]).toMatch(/color/);
  });

  it('rejects duplicate period ids, 02-29 in a common year and a review out of order', () => {
    expect(
      issuesOf(() =>
        scheduleFor({
          year: 2023,
          periods: [
            { id: 'p', label: 'a', due: '02-28' },
            { id: 'p', label: 'b', due: '03-01' },
          ],
        }),
      ),
    ).toEqual([['periods.1.id', 'duplicate period id "p"']]);
    expect(issuesOf(() => scheduleFor({ year: 2023, periods: [{ id: 'p', label: 'p', due: '02-29' }] }))).toEqual([
      ['periods.0.due', '02-29 does not exist in 2023'],
    ]);
    expect(issuesOf(() => scheduleFor({ year: 2023, review: { request: '12-01' } }))[0]![0]).toBe('review.request');
    expect(issuesOf(() => scheduleFor({ year: 2023, review: { rating: '01-05' } }))[0]![0]).toBe('review.rating');
  });

  it('rejects an office escalation earlier than the lead escalation', () => {
    expect(
      issuesOf(() =>
        scheduleFor({ year: 2023, leadEscalationAfter: { workdays: 5 }, officeEscalationAfter: { workdays: 2 } }),
      ),
    ).toHaveLength(2);
  });

  it('needs a year or a start instant', () => {
    expect(issuesOf(() => scheduleFor({}))).toEqual([['year', 'year is required when the cycle has no startedAt']]);
    expect(issuesOf(() => scheduleFor({ year: 2023 }, chinaCalendar, '2023-06-01 09:00'))[0]![0]).toBe('startedAt');
  });
});
