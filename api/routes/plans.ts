import { z, ZodError } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { parsePlan } from '../../domain/plan-parser';
import {
  ParseWarningSchema,
  PlanSchema,
  SectionSchema,
  WorkPointSchema,
  type ParseWarning,
  type Plan,
} from '../../domain/plan';
import { resolvePlanAssignees } from '../../domain/units';
import { copyPlan, getPlan, listPlans, savePlan } from '../../db/plans-repo';
import { loadDirectory } from '../../db/units-repo';
import { DomainError, errorResponses } from '../errors';
import { NoQuery, strictObject } from '../schemas/input';

const PlanSummarySchema = z.object({
  id: z.number().int(),
  year: z.number().int(),
  title: z.string().nullable(),
  docNumber: z.string().nullable(),
  issuedAt: z.string().nullable(),
  workPoints: z.number().int(),
  warnings: z.number().int(),
  createdAt: z.string(),
  derivedFrom: z.number().int().nullable().describe('the plan this one was copied from (another year)'),
});

const StoredPlanSchema = PlanSchema.and(
  z.object({
    id: z.number().int(),
    year: z.number().int(),
    createdAt: z.string(),
    warnings: z.array(ParseWarningSchema),
  }),
);

/**
 * A structured plan as a request gives it: strict at every level (PlanSchema itself is not, because stored
 * plans come back through it with more fields), then PlanSchema's own checks (unique numbers, known sections).
 */
const PlanInputSchema = strictObject({
  ...PlanSchema.shape,
  sections: z.array(strictObject(SectionSchema.shape)),
  workPoints: z.array(strictObject(WorkPointSchema.shape)),
}).pipe(PlanSchema);

const ImportBodySchema = z.union(
  [
    z.string().min(1).describe('the document as plain text (Content-Type: text/plain)'),
    strictObject({ text: z.string().min(1).describe('the document as plain text') }),
    strictObject({ plan: PlanInputSchema.describe('an already structured plan') }),
  ],
  {
    error:
      '应为纯文本文档（Content-Type: text/plain）、{ "text": … } 或 { "plan": … } / ' +
      'expected the document as text/plain, { "text": … } or { "plan": … }',
  },
);

const ImportQuerySchema = strictObject({
  dryRun: z.enum(['true', 'false']).default('false').describe('true: parse and report, store nothing'),
  acceptWarnings: z
    .enum(['true', 'false'])
    .default('false')
    .describe('true: store even though the parser warned (the warnings are stored with the plan)'),
  year: z.coerce.number().int().min(2000).max(2100).optional().describe('the plan year when the document does not say'),
});

const ImportResultSchema = z.object({
  stored: z.boolean(),
  id: z.number().int().optional(),
  created: z.boolean().optional(),
  plan: PlanSchema,
  warnings: z.array(ParseWarningSchema),
});

const AssigneesSchema = z.object({
  planId: z.number().int(),
  ok: z.boolean(),
  workPoints: z.array(
    z.object({
      number: z.number().int(),
      lead: z.array(z.object({ id: z.string(), name: z.string(), via: z.array(z.unknown()) })),
      responsible: z.array(z.object({ id: z.string(), name: z.string(), via: z.array(z.unknown()) })),
    }),
  ),
  problems: z.array(
    z.object({
      code: z.string(),
      message: z.string(),
      workPoint: z.number().int(),
      role: z.string(),
      name: z.string(),
    }),
  ),
});

const IdParams = z.object({
  id: z
    .string()
    .regex(/^[1-9]\d{0,14}$/, { error: '计划编号应为正整数 / expected a plan id, a positive whole number' })
    .transform(Number),
});

const CopyResultSchema = z
  .object({
    id: z.number().int().describe('the copy'),
    year: z.number().int(),
    derivedFrom: z.number().int().describe('the plan it was copied from'),
    created: z.boolean(),
  })
  .meta({ id: 'PlanCopy' });

/** The stored unit directory cannot be used at all (e.g. it is empty): say so and how to fix it, not a 500. */
export function directoryIncomplete(err: ZodError): DomainError {
  const issues = err.issues.map((i) => i.message);
  return new DomainError(
    422,
    'directory_incomplete',
    `单位目录不完整：${issues.join('；')}。请先用 PUT /api/units 导入单位目录（含园区依法治区办） / ` +
      'the unit directory is incomplete: import it with PUT /api/units (including the office)',
    issues,
  );
}

function readBody(body: z.infer<typeof ImportBodySchema>): {
  text: string;
  plan: Plan | null;
  warnings: ParseWarning[];
} {
  if (typeof body === 'string' || 'text' in body) {
    const text = typeof body === 'string' ? body : body.text;
    return { text, ...parsePlan(text) };
  }
  return { text: JSON.stringify(body.plan), plan: body.plan, warnings: [] };
}

const plans: FastifyPluginAsyncZod = async (app) => {
  const planOr404 = async (id: number) => {
    const plan = await getPlan(app.db, id);
    if (!plan) throw new DomainError(404, 'plan_not_found', `没有编号为 ${id} 的计划 / no plan ${id}`);
    return plan;
  };

  app.post(
    '/api/plans',
    {
      schema: {
        tags: ['plans'],
        summary: 'Import a plan (工作要点) from its document text or as JSON',
        description:
          'A document with parser warnings is refused with 422 and the warnings (nothing is stored) unless acceptWarnings=true. ' +
          'dryRun=true returns the parse without storing. Importing the same document again returns the stored plan.',
        querystring: ImportQuerySchema,
        body: ImportBodySchema,
        response: { 200: ImportResultSchema, 201: ImportResultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { text, plan, warnings } = readBody(request.body);
      if (!plan || plan.workPoints.length === 0) {
        throw new DomainError(422, 'plan_unreadable', '无法从文档中读出工作要点 / no work points could be read', {
          warnings,
        });
      }
      const year = plan.year ?? request.query.year;
      if (request.query.dryRun === 'true') return reply.status(200).send({ stored: false, plan, warnings });
      if (year === undefined) {
        throw new DomainError(
          422,
          'plan_year_unknown',
          '无法确定计划年度：请在标题中写明年度（如“2024年…工作要点”）或传入 ?year= / the plan year is unknown',
          {
            warnings,
          },
        );
      }
      if (warnings.length > 0 && request.query.acceptWarnings !== 'true') {
        throw new DomainError(
          422,
          'plan_has_warnings',
          `文档有 ${warnings.length} 处无法确定的内容，未保存：请修改文档后重新导入，或确认无误后加 ?acceptWarnings=true / ${warnings.length} warnings, nothing stored`,
          { warnings },
        );
      }
      const saved = await savePlan(app.db, { ...plan, year }, text, warnings);
      return reply
        .status(saved.created ? 201 : 200)
        .send({ stored: true, id: saved.id, created: saved.created, plan: { ...plan, year }, warnings });
    },
  );

  app.get(
    '/api/plans',
    {
      schema: {
        tags: ['plans'],
        summary: 'List imported plans',
        querystring: NoQuery,
        response: { 200: z.array(PlanSummarySchema), ...errorResponses },
      },
    },
    async () => listPlans(app.db),
  );

  app.get(
    '/api/plans/:id',
    {
      schema: {
        tags: ['plans'],
        summary: 'One plan with its sections and work points',
        params: IdParams,
        querystring: NoQuery,
        response: { 200: StoredPlanSchema, ...errorResponses },
      },
    },
    async (request) => {
      const plan = await planOr404(request.params.id);
      return plan;
    },
  );

  app.post(
    '/api/plans/:id/copy',
    {
      schema: {
        tags: ['plans'],
        summary: "Carry a plan into another year (e.g. to start the current year with last year's plan)",
        description:
          'The same work points, the year (and the year in the title) changed, recorded as derived from the original. ' +
          'The same copy again answers 200 with the first copy.',
        params: IdParams,
        querystring: NoQuery,
        body: strictObject({ year: z.number().int().min(2000).max(2100).describe('the year to carry the plan into') }),
        response: {
          201: CopyResultSchema,
          200: CopyResultSchema,
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const plan = await planOr404(request.params.id);
      const { year } = request.body;
      if (plan.year === year) {
        throw new DomainError(
          422,
          'same_year',
          `计划 ${plan.id} 已是 ${year} 年的工作要点 / plan ${plan.id} is already for ${year}`,
        );
      }
      const copy = await copyPlan(app.db, plan.id, year);
      if (!copy) throw new DomainError(404, 'plan_not_found', `没有编号为 ${plan.id} 的计划 / no plan ${plan.id}`);
      return reply
        .status(copy.created ? 201 : 200)
        .send({ id: copy.id, year, derivedFrom: copy.derivedFrom, created: copy.created });
    },
  );

  app.get(
    '/api/plans/:id/assignees',
    {
      schema: {
        tags: ['plans', 'units'],
        summary: 'Per work point: the resolved units with provenance, and what the directory cannot resolve',
        params: IdParams,
        querystring: NoQuery,
        response: { 200: AssigneesSchema, ...errorResponses },
      },
    },
    async (request) => {
      const plan = await planOr404(request.params.id);
      const directory = await loadDirectory(app.db).catch((err: unknown) => {
        // loadDirectory refuses a stored directory without exactly one office — what a fresh install has.
        if (err instanceof ZodError) throw directoryIncomplete(err);
        throw err;
      });
      const resolved = resolvePlanAssignees(plan.workPoints, directory);
      const unitView = (r: { unit: { id: string; name: string }; via: unknown[] }) => ({
        id: r.unit.id,
        name: r.unit.name,
        via: r.via,
      });
      return {
        planId: plan.id,
        ok: resolved.problems.length === 0,
        workPoints: resolved.workPoints.map((w) => ({
          number: w.number,
          lead: w.lead.map(unitView),
          responsible: w.responsible.map(unitView),
        })),
        problems: resolved.problems.map((p) => ({
          code: p.code,
          message: p.message,
          workPoint: p.workPoint,
          role: p.role,
          name: p.name,
        })),
      };
    },
  );
};

export default plans;
