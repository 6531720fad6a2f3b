import { z, ZodError } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { latestPlanIdForYear, getPlan } from '../../db/plans-repo';
import { insertPendingAudit, settleAudit } from '../../db/audit-repo';
import { cycleWorkPointNumbers, deleteCycleRecords, isDrillOptions } from '../../db/cycles-repo';
import { getCycle, getWorkPoint } from '../../db/replies-repo';
import { cycleScheduleFor, prepareCycleData, recordCycle } from '../../services/cycle-preparation';
import type { Light } from '../../domain/light';
import { toShanghaiIso } from '../../domain/schedule';
import { annualCycle } from '../../workflows';
import {
  OBLIGATION_STATES,
  REVIEW_RATINGS,
  type ExtensionRequest,
  type Obligation,
  type ObligationState,
  type ReviewRating,
  type UnitRef,
  type WorkPointStatus,
} from '../../domain/model';
import { cycleWorkflowId, SA, statusQuery, workPointWorkflowId } from '../../workflows/shared';
import { DomainError, errorResponses } from '../errors';
import { NoQuery, strictObject, WorkPointParam, YearParam } from '../schemas/input';
import { directoryIncomplete } from './plans';

const StartBodySchema = strictObject({
  year: z.number().int().min(2000).max(2100).describe('the cycle year'),
  planId: z.number().int().positive().optional().describe('defaults to the latest plan imported for the year'),
  options: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'cycle options (periods, due dates, reminder and escalation offsets, review dates; see README); ' +
        'an unknown option, at any level, is refused with 422 invalid_options',
    ),
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
  drill: z.boolean().describe('a rehearsal (演练), started with options.drill'),
});

const YearParams = z.object({ year: YearParam });
const WorkPointParams = YearParams.extend({ n: WorkPointParam });

/** How long `?live=true` waits for the workflow's status query before answering 503. */
const LIVE_QUERY_DEADLINE_MS = 3_000;

const instant = z.string().describe('ISO-8601 instant in Beijing time (+08:00)');
const iso = (d: Date | number): string => toShanghaiIso(typeof d === 'number' ? d : d.getTime());

const LightSchema = z.enum(['green', 'yellow', 'red']);
const UnitRefSchema = z.object({ id: z.string(), name: z.string() });
const CountsSchema = z
  .record(z.enum(OBLIGATION_STATES), z.number().int())
  .describe('obligations (unit × period) per state, every state listed');

export const ESCALATION_RUNGS = ['none', 'overdue', 'lead', 'office'] as const;
export type EscalationRung = (typeof ESCALATION_RUNGS)[number];
const EscalationSchema = z
  .enum(ESCALATION_RUNGS)
  .describe('highest rung reached by a unit without a report: overdue (催办), lead (督办), office (通报)');

const zeroCounts = (): Record<ObligationState, number> =>
  Object.fromEntries(OBLIGATION_STATES.map((s) => [s, 0])) as Record<ObligationState, number>;

/** Reported, waived and not-yet-due units do not count: the rung says how far the chase of a late unit has gone. */
export function escalationRung(counts: Record<ObligationState, number>): EscalationRung {
  if (counts['escalated-office'] > 0) return 'office';
  if (counts['escalated-lead'] > 0) return 'lead';
  if (counts.overdue > 0) return 'overdue';
  return 'none';
}

/** work_point_status.snapshot: the workflow's status without timeline and obligations (older rows may lack fields). */
type ProjectedSummary = Partial<Omit<WorkPointStatus, 'timeline' | 'obligations'>>;

const WorkPointDetailSchema = z
  .object({
    year: z.number().int(),
    number: z.number().int(),
    workflowId: z.string(),
    title: z.string(),
    section: z.string().nullable(),
    text: z.string().nullable().describe('the work point as the plan states it'),
    source: z.enum(['projection', 'live']).describe('projection: as last recorded; live: the workflow answered'),
    phase: z.string(),
    light: LightSchema,
    escalation: EscalationSchema,
    asOf: instant.describe('the instant the state was computed for'),
    updatedAt: instant.describe('when the projection last changed'),
    temporalUi: z.string(),
    waitingOn: z.string().describe('what the work point waits for (Markdown, as shown in the Temporal UI)'),
    leadUnits: z.array(UnitRefSchema),
    units: z.array(UnitRefSchema).describe('the responsible units currently assigned'),
    overdueUnits: z.array(UnitRefSchema),
    counts: CountsSchema,
    periods: z.array(z.object({ id: z.string(), label: z.string(), opensAt: instant, dueAt: instant })),
    obligations: z.array(
      z.object({
        unitId: z.string(),
        unitName: z.string(),
        periodId: z.string(),
        periodLabel: z.string(),
        state: z.enum(OBLIGATION_STATES),
        dueAt: instant,
        acknowledgedAt: instant.nullable().describe('签收: when the unit first opened its link'),
        lastSubmittedAt: instant.nullable(),
        submissionCount: z.number().int(),
        submissions: z.array(
          z.object({
            submissionId: z.string(),
            submittedAt: instant,
            receivedAt: instant,
            late: z.boolean(),
            round: z.number().int().describe('rework round: 0 first, +1 after each return'),
            attachments: z.number().int(),
          }),
        ),
        extension: z
          .object({
            requestId: z.string(),
            reason: z.string(),
            wantedDueAt: instant,
            requestedAt: instant,
            status: z.enum(['pending', 'approved', 'rejected']),
            decidedAt: instant.nullable(),
            comment: z.string().nullable(),
          })
          .nullable()
          .describe('the latest extension request (延期申请)'),
        waived: z.object({ reason: z.string(), by: z.string(), at: instant }).nullable(),
        returns: z.array(z.object({ reason: z.string(), by: z.string(), at: instant })),
      }),
    ),
    review: z.object({
      requested: z.boolean().describe('the year-end summary (年终述职) has been asked for'),
      summaryDueAt: instant,
      ratingDueAt: instant,
      summaries: z.array(
        z.object({
          unitId: z.string(),
          unitName: z.string(),
          submissionId: z.string(),
          selfAssessment: z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]),
          submittedAt: instant,
          late: z.boolean(),
        }),
      ),
      rating: z
        .object({
          rating: z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]),
          comment: z.string(),
          by: z.string(),
          at: instant,
        })
        .nullable(),
    }),
    timeline: z.array(
      z.object({
        seq: z.number().int(),
        at: instant,
        kind: z.string().describe('notice, report, waived, deadline-extended, returned, rejected, …'),
        unitId: z.string().nullable(),
        unitName: z.string().nullable(),
        periodId: z.string().nullable(),
        detail: z.string(),
      }),
    ),
  })
  .meta({ id: 'WorkPointDetail' });

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
        const handle = await app.temporal.workflow.start(annualCycle, {
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

  app.delete(
    '/api/cycles/:year',
    {
      schema: {
        tags: ['cycles'],
        summary: 'Cancel a drill (演练): stop its workflows and remove its records, so the year is free again',
        description:
          'Only a cycle started with options.drill = true can be cancelled; a real cycle answers 409 not_a_drill. ' +
          'The audit trail keeps the cancellation.',
        params: YearParams,
        querystring: NoQuery,
        response: {
          200: z.object({
            year: z.number().int(),
            cancelled: z.literal(true),
            terminated: z.array(z.string()).describe('workflows that were still running'),
            deleted: z.record(z.string(), z.number().int()).describe('rows removed, per table'),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { year } = request.params;
      const cycle = await getCycle(app.db, year);
      if (!cycle) throw new DomainError(404, 'cycle_not_found', `没有 ${year} 年度周期 / no cycle for ${year}`);
      if (!isDrillOptions(cycle.options)) {
        throw new DomainError(
          409,
          'not_a_drill',
          `${year} 年度周期是正式督办，不是演练，不能取消；如需调整请用延期、免报等操作 / the ${year} cycle is not a drill and cannot be cancelled`,
        );
      }
      const actor = request.actor?.name ?? 'unknown';
      const auditId = await insertPendingAudit(app.db, {
        actor,
        action: 'cancel-drill',
        target: cycleWorkflowId(year),
        reason: '取消演练 / drill cancelled',
        details: { year },
      });
      const numbers = await cycleWorkPointNumbers(app.db, year);
      const terminated: string[] = [];
      for (const id of [cycleWorkflowId(year), ...numbers.map((n) => workPointWorkflowId(year, n))]) {
        try {
          await app.temporal.workflow.getHandle(id).terminate(`演练已取消 / drill cancelled by ${actor}`);
          terminated.push(id);
        } catch (err) {
          // Already finished (a child goes with its parent) or never started: nothing to stop.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
      const deleted = await deleteCycleRecords(app.db, year);
      await settleAudit(app.db, auditId, 'accepted', { terminated: terminated.length, deleted });
      return { year, cancelled: true as const, terminated, deleted };
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
        querystring: NoQuery,
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
        options: unknown;
      }>(
        `SELECT c.year, c.plan_id, c.workflow_id, c.run_id, c.started_at, c.finished_at, c.options,
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
        drill: isDrillOptions(r.options),
      }));
    },
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
      const cycle = await app.db.query<{ workflow_id: string; run_id: string | null; finished_at: Date | null }>(
        'SELECT workflow_id, run_id, finished_at FROM cycles WHERE year = $1',
        [year],
      );
      const row = cycle.rows[0];
      if (!row) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
      const [statuses, states] = await Promise.all([
        app.db.query<{
          work_point: number;
          workflow_id: string;
          status: string;
          light: Light;
          overdue_units: string[];
          snapshot: { title?: string; overdueUnits?: UnitRef[] };
          updated_at: Date;
        }>(
          `SELECT work_point, workflow_id, status, light, overdue_units, snapshot, updated_at
           FROM work_point_status WHERE cycle_year = $1 ORDER BY work_point`,
          [year],
        ),
        app.db.query<{ workflow_id: string; state: ObligationState; n: number }>(
          `SELECT workflow_id, state, count(*)::int AS n FROM work_point_obligations
           WHERE cycle_year = $1 GROUP BY workflow_id, state`,
          [year],
        ),
      ]);
      const countsOf = new Map<string, Record<ObligationState, number>>();
      for (const s of states.rows) {
        const counts = countsOf.get(s.workflow_id) ?? zeroCounts();
        if (s.state in counts) counts[s.state] += s.n;
        countsOf.set(s.workflow_id, counts);
      }
      return {
        year,
        workflowId: row.workflow_id,
        temporalUi: uiLink(row.workflow_id, row.run_id ?? undefined),
        finishedAt: row.finished_at ? iso(row.finished_at) : null,
        workPoints: statuses.rows.map((r) => {
          const counts = countsOf.get(r.workflow_id) ?? zeroCounts();
          const names = new Map((r.snapshot.overdueUnits ?? []).map((u) => [u.id, u.name]));
          return {
            number: r.work_point,
            workflowId: r.workflow_id,
            title: r.snapshot.title ?? '',
            phase: r.status,
            light: r.light,
            counts,
            overdueUnits: r.overdue_units.map((id) => names.get(id) ?? id),
            overdueUnitIds: r.overdue_units,
            escalation: escalationRung(counts),
            temporalUi: uiLink(r.workflow_id),
            updatedAt: iso(r.updated_at),
          };
        }),
      };
    },
  );

  app.get(
    '/api/cycles/:year/work-points/:n',
    {
      schema: {
        tags: ['cycles'],
        summary: 'One work point: units, every obligation, the review and the timeline',
        description:
          'From the status projection by default. `?live=true` asks the workflow itself (its `status` query, ' +
          '3 s deadline) and answers 503 when Temporal or the worker cannot answer; submission details then ' +
          'still come from the projection, which the query does not carry.',
        params: WorkPointParams,
        querystring: strictObject({
          live: z
            .enum(['true', 'false', '1', '0'])
            .optional()
            .describe('true: query the running workflow instead of reading the projection'),
        }),
        response: { 200: WorkPointDetailSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { year, n } = request.params;
      const live = request.query.live === 'true' || request.query.live === '1';
      const workflowId = workPointWorkflowId(year, n);
      const cycle = await getCycle(app.db, year);
      if (!cycle) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
      const [status, obligations, timeline, wp] = await Promise.all([
        app.db.query<{ status: string; light: Light; snapshot: ProjectedSummary; updated_at: Date }>(
          'SELECT status, light, snapshot, updated_at FROM work_point_status WHERE workflow_id = $1',
          [workflowId],
        ),
        app.db.query<{
          unit_id: string;
          unit_name: string;
          period: string;
          state: ObligationState;
          due_at: Date;
          acknowledged_at: Date | null;
          last_submitted_at: Date | null;
          submissions: number;
          extension: ExtensionRequest | null;
          facts: Obligation | null;
        }>(
          `SELECT unit_id, unit_name, period, state, due_at, acknowledged_at, last_submitted_at, submissions, extension, facts
           FROM work_point_obligations WHERE workflow_id = $1 ORDER BY unit_name, period`,
          [workflowId],
        ),
        app.db.query<{
          seq: number;
          at: Date;
          kind: string;
          unit_id: string | null;
          unit_name: string | null;
          period: string | null;
          detail: string;
        }>(
          `SELECT t.seq, t.at, t.kind, t.unit_id, u.name AS unit_name, t.period, t.detail
           FROM work_point_timeline t LEFT JOIN units u ON u.id = t.unit_id
           WHERE t.workflow_id = $1 ORDER BY t.seq`,
          [workflowId],
        ),
        getWorkPoint(app.db, cycle.planId, n),
      ]);
      const projected = status.rows[0];
      if (!projected) {
        throw wp
          ? new DomainError(
              404,
              'work_point_not_started',
              `第${n}条的督办流程尚未运行（worker 是否在运行？） / work point ${n} of ${year} has not started yet`,
            )
          : new DomainError(404, 'work_point_not_found', `${year} 年度没有第${n}条 / no work point ${n} in ${year}`);
      }

      const schedule = cycleScheduleFor(year, cycle.options);
      const periodLabel = (id: string) => schedule.periods.find((p) => p.id === id)?.label ?? id;
      const facts = new Map(obligations.rows.map((o) => [`${o.unit_id}|${o.period}`, o.facts]));
      const snapshot = live ? await queryLive(workflowId) : undefined;
      const summary: ProjectedSummary = snapshot ?? projected.snapshot;

      const unitNames = new Map<string, string>(
        [...(summary.units ?? []), ...(summary.leadUnits ?? [])].map((u) => [u.id, u.name]),
      );
      const rows = snapshot
        ? snapshot.obligations.map((o) => ({
            unitId: o.unitId,
            unitName: o.unitName,
            periodId: o.periodId,
            state: o.state,
            dueAt: o.dueAt,
            acknowledgedAt: o.acknowledgedAt ?? null,
            lastSubmittedAt: o.lastSubmittedAt ?? null,
            submissionCount: o.submissions,
            extension: o.extension ?? null,
          }))
        : obligations.rows.map((o) => ({
            unitId: o.unit_id,
            unitName: o.unit_name,
            periodId: o.period,
            state: o.state,
            dueAt: o.due_at.getTime(),
            acknowledgedAt: o.acknowledged_at?.getTime() ?? null,
            lastSubmittedAt: o.last_submitted_at?.getTime() ?? null,
            submissionCount: o.submissions,
            extension: o.extension,
          }));
      const counts = zeroCounts();
      for (const o of rows) counts[o.state] += 1;
      const review = summary.review;
      const entries = snapshot
        ? snapshot.timeline.map((e, seq) => ({
            seq,
            at: e.at,
            kind: e.kind,
            unitId: e.unitId ?? null,
            unitName: e.unitId ? (unitNames.get(e.unitId) ?? null) : null,
            periodId: e.periodId ?? null,
            detail: e.detail,
          }))
        : timeline.rows.map((e) => ({
            seq: e.seq,
            at: e.at.getTime(),
            kind: e.kind,
            unitId: e.unit_id,
            unitName: e.unit_name ?? (e.unit_id ? (unitNames.get(e.unit_id) ?? null) : null),
            periodId: e.period,
            detail: e.detail,
          }));

      return {
        year,
        number: n,
        workflowId,
        title: summary.title ?? wp?.title ?? '',
        section: wp?.section ?? null,
        text: wp?.text ?? null,
        source: snapshot ? ('live' as const) : ('projection' as const),
        phase: snapshot?.phase ?? projected.status,
        light: snapshot?.light ?? projected.light,
        escalation: escalationRung(counts),
        asOf: iso(snapshot?.asOf ?? summary.asOf ?? projected.updated_at.getTime()),
        updatedAt: iso(projected.updated_at),
        temporalUi: uiLink(workflowId),
        waitingOn: summary.waitingOn ?? '',
        leadUnits: summary.leadUnits ?? [],
        units: summary.units ?? [],
        overdueUnits: summary.overdueUnits ?? [],
        counts,
        periods: schedule.periods.map((p) => ({
          id: p.id,
          label: p.label,
          opensAt: iso(p.opensAt),
          dueAt: iso(p.dueAt),
        })),
        obligations: rows.map((o) => {
          const f = facts.get(`${o.unitId}|${o.periodId}`);
          return {
            unitId: o.unitId,
            unitName: o.unitName,
            periodId: o.periodId,
            periodLabel: periodLabel(o.periodId),
            state: o.state,
            dueAt: iso(o.dueAt),
            acknowledgedAt: o.acknowledgedAt !== null ? iso(o.acknowledgedAt) : null,
            lastSubmittedAt: o.lastSubmittedAt !== null ? iso(o.lastSubmittedAt) : null,
            submissionCount: o.submissionCount,
            submissions: (f?.submissions ?? []).map((s) => ({
              submissionId: s.submissionId,
              submittedAt: iso(s.submittedAt),
              receivedAt: iso(s.receivedAt),
              late: s.late,
              round: s.round,
              attachments: s.attachments,
            })),
            extension: o.extension
              ? {
                  requestId: o.extension.requestId,
                  reason: o.extension.reason,
                  wantedDueAt: iso(o.extension.wantedDueAt),
                  requestedAt: iso(o.extension.requestedAt),
                  status: o.extension.status,
                  decidedAt: o.extension.decidedAt !== undefined ? iso(o.extension.decidedAt) : null,
                  comment: o.extension.comment ?? null,
                }
              : null,
            waived: f?.waived ? { reason: f.waived.reason, by: f.waived.by, at: iso(f.waived.at) } : null,
            returns: (f?.returns ?? []).map((r) => ({ reason: r.reason, by: r.by, at: iso(r.at) })),
          };
        }),
        review: {
          requested: review?.requested ?? false,
          summaryDueAt: iso(schedule.review.summaryDueAt),
          ratingDueAt: iso(schedule.review.ratingDueAt),
          summaries: Object.entries(review?.summaries ?? {}).map(([unitId, s]) => ({
            unitId,
            unitName: unitNames.get(unitId) ?? unitId,
            submissionId: s.submissionId,
            selfAssessment: s.selfAssessment,
            submittedAt: iso(s.submittedAt),
            late: s.late,
          })),
          rating: review?.rating
            ? {
                rating: review.rating.rating,
                comment: review.rating.comment,
                by: review.rating.by,
                at: iso(review.rating.at),
              }
            : null,
        },
        timeline: entries.map((e) => ({ ...e, at: iso(e.at) })),
      };
    },
  );

  /** The workflow's own status; a 503 names what to do when Temporal or the worker cannot answer in time. */
  async function queryLive(workflowId: string): Promise<WorkPointStatus> {
    try {
      return await app.temporal.withDeadline(Date.now() + LIVE_QUERY_DEADLINE_MS, () =>
        app.temporal.workflow.getHandle(workflowId).query(statusQuery),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new DomainError(
          404,
          'workflow_not_found',
          `Temporal 中没有流程 ${workflowId}（可能已超过保留期）；去掉 live=true 查看记录 / ` +
            `workflow ${workflowId} is not on the Temporal server; omit live=true to read the projection`,
        );
      }
      app.log.warn({ err, workflowId }, 'live status query failed');
      throw new DomainError(
        503,
        'temporal_unavailable',
        `督办服务（Temporal 或 worker）${LIVE_QUERY_DEADLINE_MS / 1000} 秒内未应答；去掉 live=true 可查看最近记录 / ` +
          `Temporal or the worker did not answer within ${LIVE_QUERY_DEADLINE_MS / 1000} s; omit live=true to read the projection`,
      );
    }
  }
};

export default cycles;
