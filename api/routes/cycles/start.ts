import { z, ZodError } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { latestPlanIdForYear, getPlan } from '../../../db/plans-repo';
import { cyclePlanWorkPoints } from '../../../db/cycles-repo';
import { prepareCycleData, recordCycle } from '../../../services/cycle-preparation';
import { toShanghaiIso } from '../../../domain/schedule';
import {
  ANNUAL_CYCLE_WORKFLOW,
  cycleWorkflowId,
  SA,
  workPointWorkflowId,
  type AnnualCycleWorkflow,
} from '../../../workflows/shared';
import { DomainError, errorResponses } from '../../errors';
import { NoQuery } from '../../schemas/input';
import { temporalUiLink, type TemporalUi } from '../../views/temporal-ui';
import { directoryIncomplete } from '../plans';
import { CycleRefSchema, StartBodySchema } from './schemas';

/** POST /api/cycles: start a plan's annual cycle, once per year. */
const startCycle: FastifyPluginAsyncZod<TemporalUi & { taskQueue: string }> = async (app, opts) => {
  app.post(
    '/api/cycles',
    {
      schema: {
        tags: ['cycles'],
        summary: 'Start the annual cycle (年度周期) of a plan',
        description:
          '202 with the workflow IDs once started. The same year again answers 409 with the existing run. ' +
          'A directory that cannot resolve every unit answers 422 listing what to add.',
        querystring: NoQuery,
        body: StartBodySchema,
        response: {
          ...errorResponses,
          202: CycleRefSchema,
          409: CycleRefSchema.extend({ error: z.object({ code: z.string(), message: z.string() }) }),
        },
      },
    },
    async (request, reply) => {
      const { year } = request.body;
      // A drill's durations count from now: the start instant is recorded with its options, so every later reading
      // of the schedule (workflows, reply pages, dashboard) computes the same dates.
      const options =
        request.body.options?.drill === true && request.body.options.startedAt === undefined
          ? { ...request.body.options, startedAt: toShanghaiIso(Date.now()) }
          : request.body.options;
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
        const handle = await app.temporal.workflow.start<AnnualCycleWorkflow>(ANNUAL_CYCLE_WORKFLOW, {
          workflowId,
          taskQueue: opts.taskQueue,
          args: [{ year, planId, options: options ?? {} }],
          // A failed or terminated cycle may be started again; a running or completed one may not.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          staticSummary: `${options?.drill === true ? '【演练】' : ''}${year} 年度周期 · ${plan?.title ?? `计划 ${planId}`}`,
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
          // The worker's prepare activity uses these inputs for this run instead of preparing them again.
          workPoints: prepared.workPoints,
        });
        return reply.status(202).send({
          year,
          planId,
          workflowId,
          runId: handle.firstExecutionRunId,
          workPoints: prepared.workPoints.map((w) => workPointWorkflowId(year, w.number)),
          temporalUi: temporalUiLink(opts, workflowId, handle.firstExecutionRunId),
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
      const recorded = await cyclePlanWorkPoints(app.db, year);
      return {
        error: {
          code: 'cycle_exists',
          message: `${year} 年度周期已经启动（${d.status.name}），不会重复启动 / the ${year} cycle already exists`,
        },
        year,
        planId: recorded?.planId ?? 0,
        workflowId,
        runId: d.runId,
        workPoints: (recorded?.numbers ?? []).map((n) => workPointWorkflowId(year, n)),
        temporalUi: temporalUiLink(opts, workflowId, d.runId),
      };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }
};

export default startCycle;
