import {
  CALENDAR_DATA,
  CalendarMissingError,
  addWorkdays,
  buildCalendar,
  chinaCalendar as cal,
  dayOfWeek,
  isWorkday,
  loadCalendar,
  nextWorkdayOnOrAfter,
  previousWorkdayOnOrBefore,
  workdaysBetween,
} from '../../domain/calendar';

const years = Object.values(CALENDAR_DATA);

describe('bundled holiday notices', () => {
  it('cover 2023 to 2026, each citing its State Council notice', () => {
    expect(cal.years).toEqual([2023, 2024, 2025, 2026]);
    for (const y of years)
      expect(y.source).toMatch(new RegExp(`国务院办公厅关于${y.year}年部分节假日安排的通知.*国办发明电`));
  });

  it.each(years.map((y) => [y.year, y] as const))(
    '%i: every make-up day is a weekend day that is a workday',
    (_, y) => {
      expect(y.makeupWorkdays.length).toBeGreaterThan(0);
      for (const d of y.makeupWorkdays) {
        expect([0, 6]).toContain(dayOfWeek(d));
        expect(isWorkday(cal, d)).toBe(true);
      }
    },
  );

  it.each(years.map((y) => [y.year, y] as const))('%i: no listed holiday is a workday', (year, y) => {
    for (const d of y.holidays.filter((d) => d.startsWith(`${year}-`))) expect(isWorkday(cal, d)).toBe(false);
  });

  // Net weekdays lost = statutory days off: 11 until 2024, 13 from 2025 (春节 and 劳动节 +1 each).
  // Catches a mistyped date in a file, which would shift a holiday onto a working day.
  it.each([
    [2023, 11],
    [2024, 11],
    [2025, 13],
    [2026, 13],
  ])('%i: weekday holidays minus make-up days equal the %i statutory days', (year, statutory) => {
    const y = CALENDAR_DATA[year]!;
    const weekdayHolidays = y.holidays.filter((d) => d.startsWith(`${year}-`) && ![0, 6].includes(dayOfWeek(d)));
    expect(weekdayHolidays.length - y.makeupWorkdays.length).toBe(statutory);
  });

  it('has the 2023 make-up days of 国办发明电〔2022〕16号', () => {
    expect(CALENDAR_DATA[2023]!.makeupWorkdays).toEqual([
      '2023-01-28',
      '2023-01-29',
      '2023-04-23',
      '2023-05-06',
      '2023-06-25',
      '2023-10-07',
      '2023-10-08',
    ]);
  });
});

describe('isWorkday', () => {
  it('treats Sunday 2023-04-23 as a workday (劳动节 make-up day)', () => {
    expect(dayOfWeek('2023-04-23')).toBe(0);
    expect(isWorkday(cal, '2023-04-23')).toBe(true);
  });

  it('treats Monday 2023-10-02 as a holiday (National Day block)', () => {
    expect(dayOfWeek('2023-10-02')).toBe(1);
    expect(isWorkday(cal, '2023-10-02')).toBe(false);
  });

  it('falls back to Monday–Friday on ordinary days', () => {
    expect(isWorkday(cal, '2023-07-10')).toBe(true); // Monday
    expect(isWorkday(cal, '2023-07-14')).toBe(true); // Friday
    expect(isWorkday(cal, '2023-07-15')).toBe(false); // Saturday
    expect(isWorkday(cal, '2023-07-16')).toBe(false); // Sunday
  });

  it('keeps the 2024 eve of Spring Festival (only "encouraged" off) a workday and the 2025 eve a holiday', () => {
    expect(isWorkday(cal, '2024-02-09')).toBe(true);
    expect(isWorkday(cal, '2025-01-28')).toBe(false);
  });

  it('rejects malformed and impossible dates', () => {
    expect(() => isWorkday(cal, '2023-02-30')).toThrow(RangeError);
    expect(() => isWorkday(cal, '2023-7-1')).toThrow(RangeError);
  });
});

describe('a year without data', () => {
  it.each(['2022-06-01', '2027-03-01'])('throws CalendarMissingError for %s instead of guessing', (date) => {
    expect(() => isWorkday(cal, date)).toThrow(CalendarMissingError);
    const year = Number(date.slice(0, 4));
    try {
      isWorkday(cal, date);
    } catch (e) {
      expect(e).toBeInstanceOf(CalendarMissingError);
      expect((e as CalendarMissingError).year).toBe(year);
      expect((e as Error).message).toContain(`没有${year}年的工作日历`);
      expect((e as Error).message).toContain(`No working-day calendar for ${year}`);
    }
  });

  it('throws when counting workdays runs past the last loaded year', () => {
    expect(() => addWorkdays(cal, '2026-12-30', 3)).toThrow(CalendarMissingError);
    expect(() => addWorkdays(cal, '2023-01-03', -3)).toThrow(CalendarMissingError);
  });

  it('throws when loading a year that is not bundled', () => {
    expect(() => loadCalendar([2023, 2027])).toThrow(CalendarMissingError);
    expect(loadCalendar([2024]).years).toEqual([2024]);
    expect(() => isWorkday(loadCalendar([2024]), '2023-07-10')).toThrow(CalendarMissingError);
  });

  it('rejects a notice whose make-up day is a weekday', () => {
    expect(() => buildCalendar([{ year: 2030, source: 'x', holidays: [], makeupWorkdays: ['2030-01-02'] }])).toThrow(
      /weekday/,
    );
  });
});

describe('addWorkdays and nextWorkdayOnOrAfter', () => {
  it('skips the 2023 National Day block and counts its make-up weekend', () => {
    // Thursday 09-28 is the last workday before the block 09-29..10-06; Sat 10-07 and Sun 10-08 are workdays.
    expect(addWorkdays(cal, '2023-09-28', 1)).toBe('2023-10-07');
    expect(addWorkdays(cal, '2023-09-28', 2)).toBe('2023-10-08');
    expect(addWorkdays(cal, '2023-09-28', 3)).toBe('2023-10-09');
    expect(addWorkdays(cal, '2023-10-07', -1)).toBe('2023-09-28');
    // From a holiday, the first workday after it counts as 1.
    expect(addWorkdays(cal, '2023-10-01', 1)).toBe('2023-10-07');
  });

  it('counts ordinary weeks and crosses years that are loaded', () => {
    expect(addWorkdays(cal, '2023-07-10', 3)).toBe('2023-07-13');
    expect(addWorkdays(cal, '2023-07-10', 5)).toBe('2023-07-17');
    expect(addWorkdays(cal, '2023-07-10', -3)).toBe('2023-07-05');
    expect(addWorkdays(cal, '2023-12-29', 1)).toBe('2024-01-02'); // 2024-01-01 is 元旦
  });

  it('with n = 0 returns the date if it is a workday, otherwise the next workday', () => {
    expect(addWorkdays(cal, '2023-07-10', 0)).toBe('2023-07-10');
    expect(addWorkdays(cal, '2023-07-15', 0)).toBe('2023-07-17');
  });

  it('moves to the next/previous workday only when needed', () => {
    expect(nextWorkdayOnOrAfter(cal, '2023-10-01')).toBe('2023-10-07');
    expect(nextWorkdayOnOrAfter(cal, '2023-12-10')).toBe('2023-12-11');
    expect(nextWorkdayOnOrAfter(cal, '2023-12-11')).toBe('2023-12-11');
    expect(previousWorkdayOnOrBefore(cal, '2023-10-06')).toBe('2023-09-28');
  });

  it('rejects a fractional count', () => {
    expect(() => addWorkdays(cal, '2023-07-10', 1.5)).toThrow(RangeError);
  });
});

describe('workdaysBetween', () => {
  it('counts the workdays after the first date up to and including the second, across the 2023 National Day break', () => {
    // 2023-09-29 .. 10-06 were off; 10-07 (Sat) and 10-08 (Sun) were make-up workdays.
    expect(workdaysBetween(cal, '2023-09-28', '2023-10-09')).toBe(3);
    expect(workdaysBetween(cal, '2023-10-09', '2023-09-28')).toBe(-3);
    expect(workdaysBetween(cal, '2023-07-10', '2023-07-10')).toBe(0);
    expect(workdaysBetween(cal, '2023-07-07', '2023-07-10')).toBe(1);
  });
});
