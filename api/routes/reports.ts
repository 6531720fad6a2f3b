import { z } from 'zod';
import ExcelJS from 'exceljs';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  annualReportCsv,
  barChartSvg,
  buildAnnualReport,
  OUTCOME_LABEL,
  type AnnualReport,
} from '../../domain/annual-report';
import { toShanghaiIso } from '../../domain/schedule';
import { loadReportInput } from '../../db/report-repo';
import { savePlan } from '../../db/plans-repo';
import { DomainError, errorResponses } from '../errors';
import { MAX_WORK_POINT, NoQuery, strictObject, YearParam } from '../schemas/input';
import { html, page, raw } from '../views/html';

const FORMATS = ['json', 'csv', 'xlsx', 'html'] as const;

const ReportQuery = strictObject({
  format: z.enum(FORMATS).default('json').describe('json, csv, xlsx (Excel) or printable html'),
  asOf: z.iso.datetime({ offset: true }).optional().describe('assemble the report as of this instant (default now)'),
});

const pct = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);

export function charts(r: AnnualReport): { onTime: string; escalations: string } {
  const ranked = r.units.filter((u) => u.onTimeRate !== null);
  const maxEsc = Math.max(1, ...r.workPoints.map((w) => w.escalations.lead + w.escalations.office));
  return {
    onTime: barChartSvg(
      '各单位按时报送率',
      ranked.map((u) => ({
        label: u.unitName,
        value: u.onTimeRate ?? 0,
        max: 1,
        text: `${pct(u.onTimeRate)}（${u.onTime}/${u.due}）`,
      })),
      '#1f883d',
    ),
    escalations: barChartSvg(
      '各要点督办与通报次数',
      r.workPoints.map((w) => ({
        label: `${w.number}. ${w.title.slice(0, 10)}`,
        value: w.escalations.lead + w.escalations.office,
        max: maxEsc,
        text: `督办 ${w.escalations.lead} · 通报 ${w.escalations.office}`,
      })),
      '#cf222e',
    ),
  };
}

export function annualReportHtml(r: AnnualReport): string {
  const c = charts(r);
  const body = html` <style>
      @media print {
        header {
          display: none;
        }
        section {
          break-inside: avoid;
          border: 0;
        }
      }
    </style>
    <section>
      <h2>${r.year} 年度报告 · ${r.planTitle ?? ''}</h2>
      <p class="meta">
        ${r.final ? '最终结果（已全部评定）' : `阶段性结果，截至 ${toShanghaiIso(r.asOf).slice(0, 16).replace('T', ' ')}`}
      </p>
      <table>
        <tr>
          <th>要点</th>
          <td>
            ${r.totals.workPoints} 项：完成 ${r.totals.ratings['完成']}，基本完成
            ${r.totals.ratings['基本完成']}，未完成 ${r.totals.ratings['未完成']}，未评定 ${r.totals.ratings['未评定']}
          </td>
        </tr>
        <tr>
          <th>报送</th>
          <td>按时 ${r.totals.onTime}，逾期 ${r.totals.late}，未报 ${r.totals.missing}</td>
        </tr>
        <tr>
          <th>督办 / 通报</th>
          <td>${r.totals.escalationsLead} / ${r.totals.escalationsOffice}</td>
        </tr>
      </table>
    </section>
    <section>${raw(c.onTime)}</section>
    <section>${raw(c.escalations)}</section>
    <section>
      <h2>单位排名</h2>
      <table>
        <tr>
          <th>名次</th>
          <th>单位</th>
          <th>按时率</th>
          <th>按时</th>
          <th>逾期</th>
          <th>未报</th>
          <th>免报</th>
        </tr>
        ${r.units.map(
          (u) =>
            html`<tr>
              <td>${u.rank ?? '—'}</td>
              <td>${u.unitName}</td>
              <td>${pct(u.onTimeRate)}</td>
              <td>${u.onTime}</td>
              <td>${u.late}</td>
              <td>${u.missing}</td>
              <td>${u.waived}</td>
            </tr>`,
        )}
      </table>
    </section>
    <section>
      <h2>各要点情况</h2>
      <table>
        <tr>
          <th>要点</th>
          <th>评定</th>
          <th>按时</th>
          <th>逾期</th>
          <th>未报</th>
          <th>督办</th>
          <th>通报</th>
        </tr>
        ${r.workPoints.map(
          (w) =>
            html`<tr>
              <td>${w.number}. ${w.title}</td>
              <td>${w.rating ?? '未评定'}${w.comment ? html`<br /><span class="meta">${w.comment}</span>` : ''}</td>
              <td>${w.counts['on-time']}</td>
              <td>${w.counts.late}</td>
              <td>${w.counts.missing}</td>
              <td>${w.escalations.lead}</td>
              <td>${w.escalations.office}</td>
            </tr>`,
        )}
      </table>
    </section>
    <section>
      <h2>结转候选（未完成事项）</h2>
      ${
        r.carryOver.length === 0
          ? html`<p>无。</p>`
          : html`<ol>
                ${r.carryOver.map((i) => html`<li>第${i.origin.number}条 ${i.title}（${i.origin.rating ?? '未评定'}）</li>`)}
              </ol>
              <p class="meta">可用 POST /api/plans/carry-over 导入下一年度的工作要点，并保留来源链接。</p>`
      }
    </section>`;
  return page(`${r.year} 年度报告`, body);
}

export async function annualReportXlsx(r: AnnualReport): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'duban';
  const summary = wb.addWorksheet('要点');
  summary.columns = [
    { header: '要点', key: 'n', width: 6 },
    { header: '标题', key: 't', width: 40 },
    { header: '评定', key: 'r', width: 10 },
    { header: '按时', key: 'on', width: 8 },
    { header: '逾期', key: 'late', width: 8 },
    { header: '未报', key: 'miss', width: 8 },
    { header: '督办', key: 'lead', width: 8 },
    { header: '通报', key: 'office', width: 8 },
  ];
  for (const w of r.workPoints) {
    summary.addRow({
      n: w.number,
      t: w.title,
      r: w.rating ?? '未评定',
      on: w.counts['on-time'],
      late: w.counts.late,
      miss: w.counts.missing,
      lead: w.escalations.lead,
      office: w.escalations.office,
    });
  }
  const units = wb.addWorksheet('单位排名');
  units.columns = [
    { header: '名次', key: 'rank', width: 6 },
    { header: '单位', key: 'name', width: 24 },
    { header: '按时率', key: 'rate', width: 10, style: { numFmt: '0.0%' } },
    { header: '按时', key: 'on', width: 8 },
    { header: '逾期', key: 'late', width: 8 },
    { header: '未报', key: 'miss', width: 8 },
    { header: '免报', key: 'waived', width: 8 },
  ];
  for (const u of r.units)
    units.addRow({
      rank: u.rank,
      name: u.unitName,
      rate: u.onTimeRate,
      on: u.onTime,
      late: u.late,
      miss: u.missing,
      waived: u.waived,
    });
  const detail = wb.addWorksheet('明细');
  detail.columns = [
    { header: '要点', key: 'n', width: 6 },
    { header: '单位', key: 'u', width: 24 },
    { header: '时段', key: 'p', width: 10 },
    { header: '报送情况', key: 'o', width: 10 },
  ];
  for (const w of r.workPoints)
    for (const o of w.obligations)
      detail.addRow({ n: w.number, u: o.unitName, p: o.periodLabel, o: OUTCOME_LABEL[o.outcome] });
  const carry = wb.addWorksheet('结转候选');
  carry.columns = [
    { header: '来源', key: 'o', width: 14 },
    { header: '标题', key: 't', width: 40 },
    { header: '评定', key: 'r', width: 10 },
    { header: '牵头单位', key: 'l', width: 30 },
  ];
  for (const c of r.carryOver)
    carry.addRow({
      o: `${c.origin.year}年第${c.origin.number}条`,
      t: c.title,
      r: c.origin.rating ?? '未评定',
      l: c.leadUnits.join('、'),
    });
  for (const ws of [summary, units, detail, carry]) ws.getRow(1).font = { bold: true };
  return Buffer.from(await wb.xlsx.writeBuffer());
}

const reports: FastifyPluginAsyncZod = async (app) => {
  const load = async (year: number, asOf?: string) => {
    const input = await loadReportInput(app.db, year, asOf ? Date.parse(asOf) : Date.now());
    if (!input) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
    return buildAnnualReport(input);
  };

  app.get(
    '/api/cycles/:year/report',
    {
      schema: {
        tags: ['cycles'],
        summary:
          'The annual report (年度报告): outcomes, ratings, on-time rates and ranking, escalations, carry-over candidates',
        description:
          'format=json (default), csv (UTF-8 with BOM), xlsx (Excel) or html (printable, with SVG charts). Before the year-end rating it is provisional.',
        params: z.object({ year: YearParam }),
        querystring: ReportQuery,
        produces: [
          'application/json',
          'text/csv',
          'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
          'text/html',
        ],
        response: { 200: z.unknown().describe('the report in the requested format'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const report = await load(request.params.year, request.query.asOf);
      const name = `duban-${report.year}-annual-report`;
      switch (request.query.format) {
        case 'csv':
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${name}.csv"`)
            .send(annualReportCsv(report));
        case 'xlsx':
          return reply
            .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
            .header('content-disposition', `attachment; filename="${name}.xlsx"`)
            .send(await annualReportXlsx(report));
        case 'html':
          return reply.type('text/html; charset=utf-8').send(annualReportHtml(report));
        default:
          return report;
      }
    },
  );

  app.post(
    '/api/plans/carry-over',
    {
      schema: {
        tags: ['plans'],
        summary: "Import a cycle's items not completed (carry-over candidates) as a plan for another year",
        description:
          'Each work point keeps a link back to its origin (year, number, workflow ID, rating). 422 when there is nothing to carry over.',
        querystring: NoQuery,
        body: strictObject({
          fromYear: z.number().int().min(2000).max(2100),
          toYear: z.number().int().min(2000).max(2100),
          numbers: z
            .array(z.number().int().positive().max(MAX_WORK_POINT))
            .optional()
            .describe('only these work points (default: every candidate); one that is not a candidate is a 422'),
        }),
        response: {
          201: z.object({ id: z.number().int(), created: z.boolean(), workPoints: z.number().int() }),
          200: z.object({ id: z.number().int(), created: z.boolean(), workPoints: z.number().int() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { fromYear, toYear, numbers } = request.body;
      if (toYear <= fromYear)
        throw new DomainError(422, 'bad_years', `结转目标年度（${toYear}）应晚于来源年度（${fromYear}）`);
      const report = await load(fromYear);
      const candidates = new Set(report.carryOver.map((c) => c.origin.number));
      const notCandidates = [...new Set(numbers ?? [])].filter((n) => !candidates.has(n));
      if (notCandidates.length > 0) {
        // Dropping them silently would import a different plan than the one asked for.
        throw new DomainError(
          422,
          'not_carry_over_candidates',
          `第${notCandidates.join('、')}条不是 ${fromYear} 年度的结转候选（可结转：${[...candidates].join('、') || '无'}） / ` +
            `work point(s) ${notCandidates.join(', ')} of ${fromYear} cannot be carried over`,
          { notCandidates, candidates: [...candidates] },
        );
      }
      const items = report.carryOver.filter((c) => !numbers || numbers.includes(c.origin.number));
      if (items.length === 0) throw new DomainError(422, 'nothing_to_carry', `${fromYear} 年度没有可结转的未完成事项`);
      const plan = {
        title: `${toYear}年结转事项（来自${fromYear}年${report.planTitle ?? '工作要点'}）`,
        issuer: null,
        docNumber: null,
        issuedAt: null,
        year: toYear,
        sections: [{ number: '一', title: `${fromYear}年未完成事项结转` }],
        workPoints: items.map((c, i) => ({
          number: i + 1,
          section: '一',
          title: c.title,
          text: c.text,
          leadUnits: c.leadUnits,
          responsibleUnits: c.responsibleUnits,
        })),
      };
      const sourceText = JSON.stringify({ carryOverFrom: fromYear, items: items.map((c) => c.origin) });
      const saved = await savePlan(app.db, plan, sourceText, []);
      if (saved.created) {
        for (const [i, c] of items.entries()) {
          await app.db.query('UPDATE work_points SET origin = $3 WHERE plan_id = $1 AND number = $2', [
            saved.id,
            i + 1,
            JSON.stringify(c.origin),
          ]);
        }
      }
      return reply
        .status(saved.created ? 201 : 200)
        .send({ id: saved.id, created: saved.created, workPoints: items.length });
    },
  );
};

export default reports;
