import { z, ZodError } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { latestPlanIdForYear, getPlan } from '../../db/plans-repo';
import { prepareCycleData, recordCycle } from '../../activities/prepare-cycle';
import { annualCycle } from '../../workflows';
import { cycleWorkflowId, SA, workPointWorkflowId } from '../../workflows/definitions';
import { DomainError, errorResponses } from '../errors';
import { directoryIncomplete } from './plans';

const StartBodySchema = z.object({
  year: z.number().int().min(2000).max(2100).describe('the cycle year'),
  planId: z.number().int().positive().optional().describe('defaults to the latest plan imported for the year'),
  options: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('cycle options (periods, due dates, reminder and escalation offsets, review dates); see README'),
});

const CycleRefSchema = z.object({
  year: z.number().int(),
  planId: z.number().int(),
  workflowId: z.string(),
  runId: z.string(),
  workPoints: z.array(z.string()).describe('the work point workflow IDs (wp-<year>-<nn>)'),
  temporalUi: z.string().describe('link to the cycle in the Temporal UI'),
});

const CycleSummarySchema = z.object({
  year: z.number().int(),
  planId: z.number().int(),
  workflowId: z.string(),
  runId: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  workPoints: z.number().int(),
  lights: z.object({ green: z.number().int(), yellow: z.number().int(), red: z.number().int() }),
});

const YearParams = z.object({ year: z.coerce.number().int().min(2000).max(2100) });

const cycles: FastifyPluginAsyncZod<{ taskQueue: string; temporalUiUrl: string; namespace: string }> = async (
  app,
  opts,
) => {
  const uiLink = (workflowId: string, runId?: string) =>
    `${opts.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(opts.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}`;

  app.post(
    '/api/cycles',
    {
      schema: {
        tags: ['cycles'],
        summary: 'Start the annual cycle (年度周期) of a plan',
        description:
          '202 with the workflow IDs once started. The same year again answers 409 with the existing run. ' +
          'A directory that cannot resolve every unit answers 422 listing what to add.',
        body: StartBodySchema,
        response: {
          ...errorResponses,
          202: CycleRefSchema,
          409: CycleRefSchema.extend({ error: z.object({ code: z.string(), message: z.string() }) }),
        },
      },
    },
    async (request, reply) => {
      const { year, options } = request.body;
      const workflowId = cycleWorkflowId(year);
      const planId = request.body.planId ?? (await latestPlanIdForYear(app.db, year));
      if (planId === undefined) {
        throw new DomainError(
          422,
          'plan_missing',
          `没有 ${year} 年的工作要点：请先用 POST /api/plans 导入 / no plan for ${year}`,
        );
      }

      const existing = await describeExisting(workflowId);
      if (existing) return reply.status(409).send(existing);

      const prepared = await prepareCycleData(app.db, year, planId, options).catch((err: unknown) => {
        if (err instanceof ZodError) throw directoryIncomplete(err);
        throw err;
      });
      if (prepared.kind === 'plan-not-found')
        throw new DomainError(404, 'plan_not_found', `没有编号为 ${planId} 的计划 / no plan ${planId}`);
      if (prepared.kind === 'invalid-options')
        throw new DomainError(422, 'invalid_options', prepared.message, prepared.issues);
      if (prepared.kind === 'unresolved')
        throw new DomainError(422, 'unresolved_assignees', prepared.message, prepared.problems);

      const plan = await getPlan(app.db, planId);
      if (plan && plan.year !== year) {
        throw new DomainError(
          422,
          'plan_year_mismatch',
          `计划 ${planId} 是 ${plan.year} 年的工作要点，不能用于 ${year} 年度周期 / plan ${planId} is for ${plan.year}, not ${year}`,
        );
      }
      try {
        const handle = await app.temporal.workflow.start(annualCycle, {
          workflowId,
          taskQueue: opts.taskQueue,
          args: [{ year, planId, options: options ?? {} }],
          // A failed or terminated cycle may be started again; a running or completed one may not.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          staticSummary: `${year} 年度周期 · ${plan?.title ?? `计划 ${planId}`}`,
          staticDetails: `${prepared.workPoints.length} 项要点 · 计划编号 ${planId}`,
          typedSearchAttributes: [
            { key: SA.year, value: year },
            { key: SA.status, value: 'starting' },
          ],
        });
        await recordCycle(app.db, {
          year,
          planId,
          workflowId,
          runId: handle.firstExecutionRunId,
          options: options ?? {},
        });
        return reply.status(202).send({
          year,
          planId,
          workflowId,
          runId: handle.firstExecutionRunId,
          workPoints: prepared.workPoints.map((w) => workPointWorkflowId(year, w.number)),
          temporalUi: uiLink(workflowId, handle.firstExecutionRunId),
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          const again = await describeExisting(workflowId);
          if (again) return reply.status(409).send(again);
        }
        throw err;
      }
    },
  );

  /** The existing run of a cycle that blocks a new start (running or completed), as a 409 body. */
  async function describeExisting(workflowId: string) {
    try {
      const d = await app.temporal.workflow.getHandle(workflowId).describe();
      const blocking =
        d.status.name === 'RUNNING' || d.status.name === 'COMPLETED' || d.status.name === 'CONTINUED_AS_NEW';
      if (!blocking) return undefined;
      const year = Number(workflowId.replace('cycle-', ''));
      // The plan's work points, not the resolved assignees: those appear only once the worker has prepared the cycle.
      const { rows } = await app.db.query<{ plan_id: string; numbers: number[] | null }>(
        'SELECT c.plan_id, array(SELECT w.number FROM work_points w WHERE w.plan_id = c.plan_id ORDER BY w.number) AS numbers FROM cycles c WHERE c.year = $1',
        [year],
      );
      const row = rows[0];
      return {
        error: {
          code: 'cycle_exists',
          message: `${year} 年度周期已经启动（${d.status.name}），不会重复启动 / the ${year} cycle already exists`,
        },
        year,
        planId: row ? Number(row.plan_id) : 0,
        workflowId,
        runId: d.runId,
        workPoints: (row?.numbers ?? []).map((n) => workPointWorkflowId(year, n)),
        temporalUi: uiLink(workflowId, d.runId),
      };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  app.get(
    '/api/cycles',
    {
      schema: {
        tags: ['cycles'],
        summary: 'List the cycles started',
        response: { 200: z.array(CycleSummarySchema), ...errorResponses },
      },
    },
    async () => {
      const { rows } = await app.db.query<{
        year: number;
        plan_id: string;
        workflow_id: string;
        run_id: string | null;
        started_at: Date;
        finished_at: Date | null;
        work_points: string;
        green: string;
        yellow: string;
        red: string;
      }>(
        `SELECT c.year, c.plan_id, c.workflow_id, c.run_id, c.started_at, c.finished_at,
                (SELECT count(*) FROM work_points w WHERE w.plan_id = c.plan_id) AS work_points,
                count(s.*) FILTER (WHERE s.light = 'green') AS green,
                count(s.*) FILTER (WHERE s.light = 'yellow') AS yellow,
                count(s.*) FILTER (WHERE s.light = 'red') AS red
         FROM cycles c LEFT JOIN work_point_status s ON s.cycle_year = c.year
         GROUP BY c.year ORDER BY c.year DESC`,
      );
      return rows.map((r) => ({
        year: r.year,
        planId: Number(r.plan_id),
        workflowId: r.workflow_id,
        runId: r.run_id,
        startedAt: r.started_at.toISOString(),
        finishedAt: r.finished_at?.toISOString() ?? null,
        workPoints: Number(r.work_points),
        lights: { green: Number(r.green), yellow: Number(r.yellow), red: Number(r.red) },
      }));
    },
  );

  app.get(
    '/api/cycles/:year',
    {
      schema: {
        tags: ['cycles'],
        summary: 'A cycle: per work point its phase, light and overdue units (from the status projection)',
        params: YearParams,
        response: {
          200: z.object({
            year: z.number().int(),
            workflowId: z.string(),
            temporalUi: z.string(),
            workPoints: z.array(
              z.object({
                number: z.number().int(),
                workflowId: z.string(),
                phase: z.string(),
                light: z.enum(['green', 'yellow', 'red']),
                overdueUnits: z.array(z.string()),
                updatedAt: z.string(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { year } = request.params;
      const cycle = await app.db.query<{ workflow_id: string; run_id: string | null }>(
        'SELECT workflow_id, run_id FROM cycles WHERE year = $1',
        [year],
      );
      const row = cycle.rows[0];
      if (!row) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
      const { rows } = await app.db.query<{
        work_point: number;
        workflow_id: string;
        status: string;
        light: 'green' | 'yellow' | 'red';
        overdue_units: string[];
        updated_at: Date;
      }>(
        'SELECT work_point, workflow_id, status, light, overdue_units, updated_at FROM work_point_status WHERE cycle_year = $1 ORDER BY work_point',
        [year],
      );
      return {
        year,
        workflowId: row.workflow_id,
        temporalUi: uiLink(row.workflow_id, row.run_id ?? undefined),
        workPoints: rows.map((r) => ({
          number: r.work_point,
          workflowId: r.workflow_id,
          phase: r.status,
          light: r.light,
          overdueUnits: r.overdue_units,
          updatedAt: r.updated_at.toISOString(),
        })),
      };
    },
  );
};

export default cycles;
