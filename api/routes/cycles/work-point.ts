import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { getWorkPoint } from '../../../db/replies-repo';
import { getCycleRecord } from '../../../db/cycles-repo';
import { getStatus, listObligations, listTimeline, type ProjectedSummary } from '../../../db/projection-repo';
import { cycleSchedule } from '../../../domain/cycle-schedule';
import type { WorkPointStatus } from '../../../domain/model';
import { statusQuery, workPointWorkflowId } from '../../../workflows/shared';
import { DomainError, errorResponses } from '../../errors';
import { strictObject } from '../../schemas/input';
import { temporalUiLink, type TemporalUi } from '../../views/temporal-ui';
import { rungOfCounts } from '../../../domain/escalation';
import { iso, WorkPointDetailSchema, WorkPointParams, zeroCounts } from './schemas';

/** How long `?live=true` waits for the workflow's status query before answering 503. */
const LIVE_QUERY_DEADLINE_MS = 3_000;

/** GET /api/cycles/:year/work-points/:n: one work point in full, from the projection or (live) the workflow. */
const workPointDetail: FastifyPluginAsyncZod<TemporalUi> = async (app, opts) => {
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
      const cycle = await getCycleRecord(app.db, year);
      if (!cycle) throw new DomainError(404, 'cycle_not_found', `${year} 年度周期尚未启动 / no cycle for ${year}`);
      const [projected, obligations, timeline, wp] = await Promise.all([
        getStatus(app.db, workflowId),
        listObligations(app.db, workflowId),
        listTimeline(app.db, workflowId),
        getWorkPoint(app.db, cycle.planId, n),
      ]);
      if (!projected) {
        throw wp
          ? new DomainError(
              404,
              'work_point_not_started',
              `第${n}条的督办流程尚未运行（worker 是否在运行？） / work point ${n} of ${year} has not started yet`,
            )
          : new DomainError(404, 'work_point_not_found', `${year} 年度没有第${n}条 / no work point ${n} in ${year}`);
      }

      const schedule = cycleSchedule(year, cycle.options);
      const periodLabel = (id: string) => schedule.periods.find((p) => p.id === id)?.label ?? id;
      const facts = new Map(obligations.map((o) => [`${o.unitId}|${o.period}`, o.facts]));
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
        : obligations.map((o) => ({
            unitId: o.unitId,
            unitName: o.unitName,
            periodId: o.period,
            state: o.state,
            dueAt: o.dueAt.getTime(),
            acknowledgedAt: o.acknowledgedAt?.getTime() ?? null,
            lastSubmittedAt: o.lastSubmittedAt?.getTime() ?? null,
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
        : timeline.map((e) => ({
            seq: e.seq,
            at: e.at.getTime(),
            kind: e.kind,
            unitId: e.unitId,
            unitName: e.unitName ?? (e.unitId ? (unitNames.get(e.unitId) ?? null) : null),
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
        escalation: rungOfCounts(counts),
        asOf: iso(snapshot?.asOf ?? summary.asOf ?? projected.updatedAt.getTime()),
        updatedAt: iso(projected.updatedAt),
        temporalUi: temporalUiLink(opts, workflowId),
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

export default workPointDetail;
