import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { isDrillOptions } from '../../../db/cycles-repo';
import { getCycleRecord } from '../../../db/cycles-repo';
import { countObligationStates, listCycleOverviews, listStatuses } from '../../../db/projection-repo';
import type { ObligationState } from '../../../domain/model';
import { DomainError, errorResponses } from '../../errors';
import { NoQuery } from '../../schemas/input';
import { temporalUiLink, type TemporalUi } from '../../views/temporal-ui';
import { rungOfCounts } from '../../../domain/escalation';
import {
  CountsSchema,
  EscalationSchema,
  CycleSummarySchema,
  instant,
  iso,
  LightSchema,
  YearParams,
  zeroCounts,
} from './schemas';

/** GET /api/cycles and GET /api/cycles/:year: the cycles, and one cycle's work points, from the status projection. */
const cycleOverview: FastifyPluginAsyncZod<TemporalUi> = async (app, opts) => {
  app.get(
    '/api/cycles',
    {
      schema: {
        tags: ['cycles'],
        summary: 'List the cycles started',
        querystring: NoQuery,
        response: { 200: z.array(CycleSummarySchema), ...errorResponses },
      },
    },
    async () =>
      (await listCycleOverviews(app.db)).map((c) => ({
        year: c.year,
        planId: c.planId,
        workflowId: c.workflowId,
        runId: c.runId,
        startedAt: c.startedAt.toISOString(),
        finishedAt: c.finishedAt?.toISOString() ?? null,
        workPoints: c.planWorkPoints,
        lights: c.lights,
        drill: isDrillOptions(c.options),
      })),
  );

  app.get(
    '/api/cycles/:year',
    {
      schema: {
        tags: ['cycles'],
        summary: 'A cycle: per work point its light, phase, state counts, overdue units and escalation rung',
        description:
          'From the status projection the workflows write at every change and milestone (no workflow is queried). ' +
          '`escalation` is the highest rung reached by a unit that has not reported: none, overdue (催办), ' +
          'lead (督办) or office (通报).',
        params: YearParams,
        querystring: NoQuery,
        response: {
          200: z.object({
            year: z.number().int(),
            workflowId: z.string(),
            temporalUi: z.string(),
            finishedAt: instant.nullable().describe('when the last work point was rated and the cycle closed'),
            workPoints: z.array(
              z.object({
                number: z.number().int(),
                workflowId: z.string(),
                title: z.string(),
                phase: z.string().describe('open, overdue, escalated, review or closed'),
                light: LightSchema,
                counts: CountsSchema,
                overdueUnits: z.array(z.string()).describe('names of the units past due without a report'),
                overdueUnitIds: z.array(z.string()),
                escalation: EscalationSchema,
                temporalUi: z.string().describe('the work point workflow in the Temporal UI'),
                updatedAt: instant.describe('when the projection last changed'),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { year } = request.params;
      const cycle = await getCycleRecord(app.db, year);
      if (!cycle) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
      const [statuses, states] = await Promise.all([listStatuses(app.db, year), countObligationStates(app.db, year)]);
      const countsOf = new Map<string, Record<ObligationState, number>>();
      for (const s of states) {
        const counts = countsOf.get(s.workflowId) ?? zeroCounts();
        if (s.state in counts) counts[s.state] += s.n;
        countsOf.set(s.workflowId, counts);
      }
      return {
        year,
        workflowId: cycle.workflowId,
        temporalUi: temporalUiLink(opts, cycle.workflowId, cycle.runId ?? undefined),
        finishedAt: cycle.finishedAt ? iso(cycle.finishedAt) : null,
        workPoints: statuses.map((r) => {
          const counts = countsOf.get(r.workflowId) ?? zeroCounts();
          const names = new Map((r.snapshot.overdueUnits ?? []).map((u) => [u.id, u.name]));
          return {
            number: r.workPoint,
            workflowId: r.workflowId,
            title: r.snapshot.title ?? '',
            phase: r.status,
            light: r.light,
            counts,
            overdueUnits: r.overdueUnitIds.map((id) => names.get(id) ?? id),
            overdueUnitIds: r.overdueUnitIds,
            escalation: rungOfCounts(counts),
            temporalUi: temporalUiLink(opts, r.workflowId),
            updatedAt: iso(r.updatedAt),
          };
        }),
      };
    },
  );
};

export default cycleOverview;
