import fc from 'fast-check';
import { addCalendarDays, chinaCalendar, isWorkday, loadCalendar } from '../../domain/calendar';
import {
  afterQuietHours,
  DEFAULT_DELIVERY_POLICY,
  deliveryTime,
  isQuiet,
  nextDigestSlot,
  parseQuietHours,
  retryDelayMs,
  type DeliveryPolicy,
} from '../../domain/delivery-time';
import { parseInstant, shanghaiDate, toShanghaiIso } from '../../domain/schedule';

/** '2025-03-12T09:00' in Beijing time → epoch ms. */
const bj = (local: string): number => parseInstant(`${local}:00+08:00`);
const show = (ms: number): string => toShanghaiIso(ms).slice(0, 16);

const QUIET = DEFAULT_DELIVERY_POLICY.quietHours;

describe('digest slot (每日汇总)', () => {
  const slot = (local: string, kind = 'reminder') => {
    const r = deliveryTime(bj(local), kind);
    return { at: show(r.deliverAfter), digest: r.digest };
  };

  it('collects a notice raised before 09:00 into that morning and one raised after into the next working morning', () => {
    expect(slot('2025-03-11T18:00')).toEqual({ at: '2025-03-12T09:00', digest: true });
    expect(slot('2025-03-12T08:30')).toEqual({ at: '2025-03-12T09:00', digest: true });
    expect(slot('2025-03-12T00:00')).toEqual({ at: '2025-03-12T09:00', digest: true });
  });

  it('sends a notice raised exactly at the send time in that slot, one a minute later the next working day', () => {
    expect(slot('2025-03-12T09:00').at).toBe('2025-03-12T09:00');
    expect(slot('2025-03-12T09:01').at).toBe('2025-03-13T09:00');
  });

  it('skips weekends: Friday afternoon and Saturday go out on Monday', () => {
    expect(slot('2025-03-14T10:00').at).toBe('2025-03-17T09:00');
    expect(slot('2025-03-15T12:00').at).toBe('2025-03-17T09:00');
  });

  it('skips the National Day holiday and uses the make-up Saturday (调休) as a working day', () => {
    expect(slot('2025-09-30T10:00').at).toBe('2025-10-09T09:00');
    expect(slot('2025-10-10T12:00').at).toBe('2025-10-11T09:00');
    // 2025-09-28 is a Sunday declared a working day.
    expect(slot('2025-09-27T12:00').at).toBe('2025-09-28T09:00');
  });

  it('uses the configured send time', () => {
    const policy: DeliveryPolicy = { ...DEFAULT_DELIVERY_POLICY, digestTime: '14:30' };
    expect(show(deliveryTime(bj('2025-03-12T14:00'), 'overdue', policy).deliverAfter)).toBe('2025-03-12T14:30');
    expect(show(deliveryTime(bj('2025-03-12T15:00'), 'overdue', policy).deliverAfter)).toBe('2025-03-13T14:30');
  });

  it('moves a send time configured inside quiet hours to the end of the quiet window', () => {
    const policy: DeliveryPolicy = { ...DEFAULT_DELIVERY_POLICY, digestTime: '07:00' };
    expect(show(deliveryTime(bj('2025-03-12T06:00'), 'reminder', policy).deliverAfter)).toBe('2025-03-12T08:00');
  });
});

describe('a year without calendar data', () => {
  const only2025 = loadCalendar([2025]);

  it('falls back to the next send time on any day and names the missing year, instead of throwing', () => {
    // 2025-12-31 after 09:00: the next candidate day is in 2026, which this calendar lacks.
    expect(nextDigestSlot(bj('2025-12-31T10:00'), '09:00', only2025)).toEqual({
      at: bj('2026-01-01T09:00'),
      calendarMissingYear: 2026,
    });
    const r = deliveryTime(bj('2030-05-04T10:00'), 'reminder', DEFAULT_DELIVERY_POLICY, only2025);
    expect(r).toEqual({ deliverAfter: bj('2030-05-05T09:00'), digest: true, calendarMissingYear: 2030 });
  });

  it('reports nothing missing when the calendar covers the date', () => {
    expect(deliveryTime(bj('2025-06-03T10:00'), 'reminder', DEFAULT_DELIVERY_POLICY, only2025)).toEqual({
      deliverAfter: bj('2025-06-04T09:00'),
      digest: true,
    });
  });

  it('does not need the calendar for bypassing notices', () => {
    expect(deliveryTime(bj('2030-05-04T10:00'), 'escalation-office', DEFAULT_DELIVERY_POLICY, only2025)).toEqual({
      deliverAfter: bj('2030-05-04T10:00'),
      digest: false,
    });
  });
});

describe('bypassing notices and quiet hours (21:00–08:00)', () => {
  const at = (local: string, kind = 'escalation-office') => show(deliveryTime(bj(local), kind).deliverAfter);

  it('sends office escalations and extension requests at once during the day, on any day', () => {
    expect(at('2025-03-12T10:17')).toBe('2025-03-12T10:17');
    expect(at('2025-03-15T10:00', 'review-escalation-office')).toBe('2025-03-15T10:00');
    expect(at('2025-03-12T20:59', 'extension-request')).toBe('2025-03-12T20:59');
    expect(deliveryTime(bj('2025-03-12T10:00'), 'escalation-office').digest).toBe(false);
  });

  it('holds them during quiet hours until 08:00', () => {
    expect(at('2025-03-12T21:00')).toBe('2025-03-13T08:00');
    expect(at('2025-03-12T23:59')).toBe('2025-03-13T08:00');
    expect(at('2025-03-13T03:00')).toBe('2025-03-13T08:00');
    expect(at('2025-03-13T08:00')).toBe('2025-03-13T08:00');
  });

  it('sends everything on its own when the digest is off, still outside quiet hours', () => {
    const policy: DeliveryPolicy = { ...DEFAULT_DELIVERY_POLICY, digest: false };
    expect(deliveryTime(bj('2025-03-12T10:00'), 'reminder', policy)).toEqual({
      deliverAfter: bj('2025-03-12T10:00'),
      digest: false,
    });
    expect(show(deliveryTime(bj('2025-03-12T22:00'), 'reminder', policy).deliverAfter)).toBe('2025-03-13T08:00');
  });

  it('honours a configured bypass list and no quiet hours', () => {
    const policy: DeliveryPolicy = { ...DEFAULT_DELIVERY_POLICY, bypassKinds: ['overdue'], quietHours: null };
    expect(deliveryTime(bj('2025-03-12T23:00'), 'overdue', policy)).toEqual({
      deliverAfter: bj('2025-03-12T23:00'),
      digest: false,
    });
    expect(deliveryTime(bj('2025-03-12T10:00'), 'escalation-office', policy).digest).toBe(true);
  });

  it('handles windows that do not wrap midnight and zero-length windows', () => {
    const lunch = { start: '12:00', end: '14:00' };
    expect(isQuiet(bj('2025-03-12T11:59'), lunch)).toBe(false);
    expect(isQuiet(bj('2025-03-12T12:00'), lunch)).toBe(true);
    expect(isQuiet(bj('2025-03-12T14:00'), lunch)).toBe(false);
    expect(show(afterQuietHours(bj('2025-03-12T13:00'), lunch))).toBe('2025-03-12T14:00');
    expect(isQuiet(bj('2025-03-12T12:00'), { start: '12:00', end: '12:00' })).toBe(false);
  });
});

describe('parseQuietHours', () => {
  it('reads HH:MM-HH:MM and off', () => {
    expect(parseQuietHours('21:00-08:00')).toEqual({ start: '21:00', end: '08:00' });
    expect(parseQuietHours(' 22:30 – 07:15 ')).toEqual({ start: '22:30', end: '07:15' });
    expect(parseQuietHours('off')).toBeNull();
    expect(parseQuietHours('none')).toBeNull();
  });

  it('rejects malformed windows', () => {
    expect(() => parseQuietHours('21-8')).toThrow(RangeError);
    expect(() => parseQuietHours('25:00-08:00')).toThrow(RangeError);
  });
});

describe('retryDelayMs', () => {
  it('doubles from one minute and stops at an hour', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => retryDelayMs(n) / 60_000)).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
  });
});

describe('properties', () => {
  // 2023–2026 are bundled; stay inside them so every slot is a real working day.
  const instants = fc.integer({ min: bj('2023-01-01T00:00'), max: bj('2026-12-20T00:00') });
  const kinds = fc.constantFrom('reminder', 'overdue', 'assignment', 'escalation-office', 'extension-request');

  it('never sends before the notice was raised, never in quiet hours, and digests only on working days at 09:00', () => {
    fc.assert(
      fc.property(instants, kinds, (t, kind) => {
        const r = deliveryTime(t, kind);
        expect(r.deliverAfter).toBeGreaterThanOrEqual(t);
        expect(isQuiet(r.deliverAfter, QUIET)).toBe(false);
        expect(r.calendarMissingYear).toBeUndefined();
        if (r.digest) {
          expect(show(r.deliverAfter).slice(11)).toBe('09:00');
          expect(isWorkday(chinaCalendar, shanghaiDate(r.deliverAfter))).toBe(true);
          // And it is the first such slot: no working-day 09:00 lies between t and the slot.
          for (let d = shanghaiDate(t); d < shanghaiDate(r.deliverAfter); d = addCalendarDays(d, 1)) {
            if (bj(`${d}T09:00`) >= t) expect(isWorkday(chinaCalendar, d)).toBe(false);
          }
        } else {
          expect(r.deliverAfter - t).toBeLessThanOrEqual(11 * 3_600_000);
        }
      }),
      { numRuns: 500 },
    );
  });
});
