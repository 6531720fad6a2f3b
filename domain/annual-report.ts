/**
 * The annual report (年度报告) of a cycle: per work point its outcome and rating, per unit and period
 * whether the report came on time, late or not at all, the escalations; per unit an on-time rate and a
 * ranking; and the items not completed, as carry-over candidates for next year's plan. Pure: the API
 * gathers the facts and renders this as HTML, CSV, Excel or JSON.
 */

export type Outcome = 'on-time' | 'late' | 'missing' | 'waived' | 'not-due';
export type Rating = '完成' | '基本完成' | '未完成';

export interface ReportInput {
  year: number;
  planTitle: string | null;
  /** When the report was assembled; obligations due after it count as not yet due. */
  asOf: number;
  final: boolean;
  workPoints: {
    number: number;
    title: string;
    text: string;
    section: string | null;
    leadUnits: { id: string; name: string }[];
    responsibleUnits: string[];
    rating: Rating | null;
    comment: string | null;
    workflowId: string;
    obligations: { unitId: string; unitName: string; periodId: string; periodLabel: string; outcome: Outcome }[];
    escalations: { lead: number; office: number };
  }[];
}

export interface UnitStanding {
  unitId: string;
  unitName: string;
  due: number;
  onTime: number;
  late: number;
  missing: number;
  waived: number;
  /** on time / due (waived and not-yet-due excluded); null when nothing was due. */
  onTimeRate: number | null;
  rank: number | null;
}

export interface AnnualReport {
  year: number;
  planTitle: string | null;
  asOf: number;
  final: boolean;
  totals: {
    workPoints: number;
    ratings: Record<Rating | '未评定', number>;
    onTime: number;
    late: number;
    missing: number;
    escalationsLead: number;
    escalationsOffice: number;
  };
  workPoints: (ReportInput['workPoints'][number] & { counts: Record<Outcome, number> })[];
  units: UnitStanding[];
  carryOver: {
    origin: { year: number; number: number; workflowId: string; rating: Rating | null };
    title: string;
    text: string;
    leadUnits: string[];
    responsibleUnits: string[];
  }[];
}

const OUTCOMES: Outcome[] = ['on-time', 'late', 'missing', 'waived', 'not-due'];

export function buildAnnualReport(input: ReportInput): AnnualReport {
  const workPoints = input.workPoints.map((wp) => {
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
    for (const o of wp.obligations) counts[o.outcome] += 1;
    return { ...wp, counts };
  });

  const byUnit = new Map<string, UnitStanding>();
  for (const wp of workPoints) {
    for (const o of wp.obligations) {
      const blank: UnitStanding = {
        unitId: o.unitId,
        unitName: o.unitName,
        due: 0,
        onTime: 0,
        late: 0,
        missing: 0,
        waived: 0,
        onTimeRate: null,
        rank: null,
      };
      const s = byUnit.get(o.unitId) ?? blank;
      byUnit.set(o.unitId, s);
      if (o.outcome === 'waived') s.waived += 1;
      if (o.outcome === 'waived' || o.outcome === 'not-due') continue;
      s.due += 1;
      if (o.outcome === 'on-time') s.onTime += 1;
      if (o.outcome === 'late') s.late += 1;
      if (o.outcome === 'missing') s.missing += 1;
    }
  }
  const units = [...byUnit.values()].map((s) => ({ ...s, onTimeRate: s.due > 0 ? s.onTime / s.due : null }));
  // Ranking: on-time rate, then fewer missing, then more reports due; equal standings share a rank.
  const ranked = units
    .filter((u) => u.onTimeRate !== null)
    .sort(
      (a, b) =>
        (b.onTimeRate ?? 0) - (a.onTimeRate ?? 0) ||
        a.missing - b.missing ||
        b.due - a.due ||
        a.unitName.localeCompare(b.unitName, 'zh-CN'),
    );
  ranked.forEach((u, i) => {
    const prev = ranked[i - 1];
    u.rank = prev && prev.onTimeRate === u.onTimeRate && prev.missing === u.missing ? prev.rank : i + 1;
  });
  const unrankable = units
    .filter((u) => u.onTimeRate === null)
    .sort((a, b) => a.unitName.localeCompare(b.unitName, 'zh-CN'));

  const ratings = { 完成: 0, 基本完成: 0, 未完成: 0, 未评定: 0 } as Record<Rating | '未评定', number>;
  for (const wp of workPoints) ratings[wp.rating ?? '未评定'] += 1;

  return {
    year: input.year,
    planTitle: input.planTitle,
    asOf: input.asOf,
    final: input.final,
    totals: {
      workPoints: workPoints.length,
      ratings,
      onTime: units.reduce((n, u) => n + u.onTime, 0),
      late: units.reduce((n, u) => n + u.late, 0),
      missing: units.reduce((n, u) => n + u.missing, 0),
      escalationsLead: workPoints.reduce((n, w) => n + w.escalations.lead, 0),
      escalationsOffice: workPoints.reduce((n, w) => n + w.escalations.office, 0),
    },
    workPoints,
    units: [...ranked, ...unrankable],
    carryOver: workPoints
      .filter((wp) => wp.rating !== '完成')
      .map((wp) => ({
        origin: { year: input.year, number: wp.number, workflowId: wp.workflowId, rating: wp.rating },
        title: wp.title,
        text: wp.text,
        leadUnits: wp.leadUnits.map((u) => u.name),
        responsibleUnits: wp.responsibleUnits,
      })),
  };
}

export const OUTCOME_LABEL: Record<Outcome, string> = {
  'on-time': '按时',
  late: '逾期',
  missing: '未报',
  waived: '免报',
  'not-due': '未到期',
};

/** Text a spreadsheet would read as a formula (OWASP "CSV injection"): =, +, -, @, tab or carriage return first. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field. Text that a spreadsheet would run as a formula gets a leading `'` (OWASP's advice), so a unit name
 * or title such as `=HYPERLINK(…)` arrives as the text it is. Numbers are the report's own counts and stay numbers,
 * negative ones included (the report has none today); only values typed as text are neutralised, so text that merely
 * looks numeric ("-1") is text and is prefixed too.
 */
export function csvField(v: string | number | null): string {
  const s = v === null ? '' : typeof v === 'number' ? String(v) : FORMULA_START.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * CSV (RFC 4180, UTF-8 with BOM so Excel opens it as UTF-8): one row per work point × unit × period. Text fields are
 * neutralised against formula injection (csvField).
 */
export function annualReportCsv(r: AnnualReport): string {
  const lines = [['年度', '要点', '标题', '评定', '单位', '时段', '报送情况', '督办次数', '通报次数'].join(',')];
  for (const wp of r.workPoints) {
    for (const o of wp.obligations) {
      lines.push(
        [
          r.year,
          wp.number,
          wp.title,
          wp.rating ?? '未评定',
          o.unitName,
          o.periodLabel,
          OUTCOME_LABEL[o.outcome],
          wp.escalations.lead,
          wp.escalations.office,
        ]
          .map(csvField)
          .join(','),
      );
    }
  }
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

/** A horizontal bar chart as SVG text (no dependencies; renders in browsers, printers and PNG screenshots). */
export function barChartSvg(
  title: string,
  bars: { label: string; value: number; max: number; text: string }[],
  color: string,
): string {
  const rowH = 22;
  const labelW = 150;
  const barW = 380;
  const h = 40 + bars.length * rowH;
  const esc = (s: string) =>
    s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
  const rows = bars
    .map((b, i) => {
      const y = 32 + i * rowH;
      const w = b.max > 0 ? Math.round((b.value / b.max) * barW) : 0;
      return `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end" font-size="12">${esc(b.label)}</text><rect x="${labelW}" y="${y + 3}" width="${w}" height="15" fill="${color}"/><text x="${labelW + w + 4}" y="${y + 15}" font-size="11">${esc(b.text)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 120}" height="${h}" role="img" aria-label="${esc(title)}"><text x="0" y="18" font-size="14" font-weight="bold">${esc(title)}</text>${rows}</svg>`;
}
