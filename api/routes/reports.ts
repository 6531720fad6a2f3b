import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { buildAnnualReport } from '../../domain/annual-report';
import { reportTables, tableCsv } from '../../domain/report-table';
import { loadReportInput } from '../../db/report-repo';
import { savePlan } from '../../db/plans-repo';
import { setWorkPointOrigins } from '../../db/plans-repo';
import { DomainError, errorResponses } from '../errors';
import { MAX_WORK_POINT, NoQuery, strictObject, YearParam } from '../schemas/input';
import { annualReportHtml } from '../views/report-html';
import { annualReportXlsx } from '../views/report-xlsx';

const FORMATS = ['json', 'csv', 'xlsx', 'html'] as const;

const ReportQuery = strictObject({
  format: z.enum(FORMATS).default('json').describe('json, csv, xlsx (Excel) or printable html'),
  asOf: z.iso.datetime({ offset: true }).optional().describe('assemble the report as of this instant (default now)'),
});

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
            .send(tableCsv(reportTables(report).detail));
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
      if (saved.created)
        await setWorkPointOrigins(
          app.db,
          saved.id,
          items.map((c) => c.origin),
        );
      return reply
        .status(saved.created ? 201 : 200)
        .send({ id: saved.id, created: saved.created, workPoints: items.length });
    },
  );
};

export default reports;
