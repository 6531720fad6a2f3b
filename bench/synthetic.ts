import type { Plan } from '../domain/plan';
import { toShanghaiIso } from '../domain/schedule';
import type { UnitInput } from '../domain/units';

/** Synthetic data for load: units, a plan of any size, and cycle options whose periods are instants. */

const SECTION_NUMERALS = ['一', '二', '三', '四', '五', '六', '七', '八'];

export function syntheticUnits(count: number, prefix = 'bench'): UnitInput[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(3, '0');
    const id = `${prefix}-unit-${n}`;
    return {
      id,
      name: `基准测试单位${n}`,
      aliases: [],
      kind: 'department',
      tags: [],
      contacts: [{ channel: 'log', address: id }],
      active: true,
    };
  });
}

/** W work points in 8 sections; the first unit leads every work point, all `unitNames` are responsible. */
export function syntheticPlan(year: number, workPoints: number, unitNames: string[], leadNames: string[]): Plan {
  const sections = SECTION_NUMERALS.map((number) => ({ number, title: `基准测试第${number}部分` }));
  const perSection = Math.ceil(workPoints / sections.length);
  return {
    title: `${year}年基准测试工作要点（合成数据）`,
    issuer: '基准测试',
    docNumber: null,
    issuedAt: null,
    year,
    sections,
    workPoints: Array.from({ length: workPoints }, (_, i) => ({
      number: i + 1,
      section: SECTION_NUMERALS[Math.min(SECTION_NUMERALS.length - 1, Math.floor(i / perSection))] ?? '一',
      title: `合成要点${i + 1}`,
      text: `合成要点${i + 1}。按期报送工作进展。`,
      leadUnits: leadNames,
      responsibleUnits: unitNames,
    })),
  };
}

export interface DrillTimes {
  /** Epoch ms. */
  opensAt: number;
  dueAt: number;
  /** Seconds after the due instant; the reminder comes `reminderBeforeS` before it. */
  reminderBeforeS: number;
  leadAfterS: number;
  officeAfterS: number;
}

/**
 * Cycle options with one period given as explicit instants (taken literally by domain/schedule.ts, no
 * calendar) and offsets as ISO-8601 durations; the year-end review comes a day after the due instant.
 */
export function instantCycleOptions(t: DrillTimes): Record<string, unknown> {
  return {
    periods: [{ id: 'P1', label: '演练时段', opens: toShanghaiIso(t.opensAt), due: toShanghaiIso(t.dueAt) }],
    reminderBefore: `PT${t.reminderBeforeS}S`,
    leadEscalationAfter: `PT${t.leadAfterS}S`,
    officeEscalationAfter: `PT${t.officeAfterS}S`,
    review: { request: 'P1D', summaryDue: 'P10D', rating: 'P10D' },
  };
}

/** A deterministic PRNG (mulberry32), so a drill or a shuffled load can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
