import { ApplicationFailure, log } from '@temporalio/activity';
import type { Pool } from 'pg';
import { parseLinkKeys, replyUrl, signLink, type LinkKeys } from '../common/links';
import type { Unit } from '../domain/units';
import type { CycleResult, NoticeRequest, ReportRecord, StatusUpdate, WorkPointInput } from '../workflows/definitions';
import { deliveryTime } from '../domain/delivery-time';
import { createDeliveryActivities, resolveDelivery, type DeliveryOptions } from './delivery';
import { prepareCycleData, recordCycle } from './prepare-cycle';
import { renderNotice } from './templates';

export { cycleScheduleFor } from './prepare-cycle';

export interface ActivityDeps {
  pool: Pool;
  publicBaseUrl: string;
  linkSecret: string;
  /** How long reply links stay valid. */
  linkTtlDays?: number;
  /** Mailer, webhook fetch, digest and quiet-hours policy (activities/delivery.ts); defaults: no SMTP, 09:00 digest. */
  delivery?: DeliveryOptions;
}

export interface PrepareCycleInput {
  year: number;
  planId: number;
  options?: unknown;
  workflowId: string;
}

/** Non-retryable failure type when the directory cannot resolve every unit of the plan. */
export const UNRESOLVED_ASSIGNEES = 'UnresolvedAssignees';
export const INVALID_CYCLE_OPTIONS = 'InvalidCycleOptions';

export function createActivities(deps: ActivityDeps) {
  const { pool } = deps;
  const keys: LinkKeys = parseLinkKeys(deps.linkSecret);
  const ttlMs = (deps.linkTtlDays ?? 400) * 24 * 3600 * 1000;
  const delivery = resolveDelivery(deps.delivery);

  function linkFor(n: NoticeRequest): string | undefined {
    if (n.link === 'none') return undefined;
    const token = signLink(keys, {
      y: n.cycleYear,
      wp: n.workPoint,
      u: n.unitId,
      p: n.link,
      ...(n.link === 'report' && n.periodId ? { per: n.periodId } : {}),
      exp: Math.floor((n.scheduledFor + ttlMs) / 1000),
    });
    return replyUrl(deps.publicBaseUrl, token);
  }

  return {
    ...createDeliveryActivities(pool, delivery),

    /**
     * Reads the plan and the directory, resolves every work point's units and computes the schedule.
     * Refuses (non-retryable) when anything is unresolved, so a cycle never starts with a silent gap.
     */
    async prepareCycle(input: PrepareCycleInput): Promise<{ workPoints: WorkPointInput[] }> {
      const prepared = await prepareCycleData(pool, input.year, input.planId, input.options);
      if (prepared.kind === 'plan-not-found') {
        throw ApplicationFailure.nonRetryable(`plan ${input.planId} does not exist`, 'PlanNotFound');
      }
      if (prepared.kind === 'invalid-options') {
        throw ApplicationFailure.nonRetryable(prepared.message, INVALID_CYCLE_OPTIONS, prepared.issues);
      }
      if (prepared.kind === 'unresolved') {
        throw ApplicationFailure.nonRetryable(prepared.message, UNRESOLVED_ASSIGNEES, prepared.problems);
      }
      await recordCycle(pool, {
        year: input.year,
        planId: input.planId,
        workflowId: input.workflowId,
        options: input.options,
        workPoints: prepared.workPoints,
      });
      return { workPoints: prepared.workPoints };
    },

    /**
     * Writes notices to the outbox, one row per recipient contact; the idempotency key (workflow
     * ID + event + recipient) makes a retried call write nothing twice. Every channel, log included,
     * waits for the dispatcher (deliverDue) until deliver_after: the digest slot, or for bypassing kinds
     * the end of quiet hours, so the log shows exactly what a unit would receive and when.
     */
    async notify(notices: NoticeRequest[]): Promise<{ written: number }> {
      const unitIds = [...new Set(notices.map((n) => n.unitId))];
      const { rows } = await pool.query<{ id: string; name: string; contacts: Unit['contacts'] }>(
        'SELECT id, name, contacts FROM units WHERE id = ANY($1)',
        [unitIds],
      );
      const units = new Map(rows.map((r) => [r.id, r]));
      let written = 0;
      const calendarMissing = new Set<number>();
      for (const n of notices) {
        const unit = units.get(n.unitId);
        const contacts =
          unit && unit.contacts.length > 0 ? unit.contacts : [{ channel: 'log' as const, address: n.unitId }];
        if (!unit || unit.contacts.length === 0) {
          log.warn('unit has no contacts; notice goes to the log channel', { unitId: n.unitId, key: n.key });
        }
        const link = linkFor(n);
        const { subject, body } = renderNotice(n, unit?.name ?? n.unitId, link);
        const when = deliveryTime(n.scheduledFor, n.kind, delivery.policy, delivery.calendar);
        if (when.calendarMissingYear !== undefined) calendarMissing.add(when.calendarMissingYear);
        for (const c of contacts) {
          const key = contacts.length === 1 ? n.key : `${n.key}:${c.channel}:${c.address}`;
          const res = await pool.query(
            `INSERT INTO outbox (idempotency_key, workflow_id, cycle_year, work_point, unit_id, kind, period, channel, address,
                                 subject, body, link, scheduled_for, due_at, deliver_after, digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, to_timestamp($13 / 1000.0),
                     to_timestamp($14 / 1000.0), to_timestamp($15 / 1000.0), $16)
             ON CONFLICT (idempotency_key) DO NOTHING`,
            [
              key,
              n.workflowId,
              n.cycleYear,
              n.workPoint,
              n.unitId,
              n.kind,
              n.periodId ?? null,
              c.channel,
              c.address,
              subject,
              body,
              link ?? null,
              n.scheduledFor,
              n.dueAt ?? null,
              when.deliverAfter,
              when.digest,
            ],
          );
          written += res.rowCount ?? 0;
        }
      }
      for (const year of calendarMissing) {
        // Delivery goes on (see domain/delivery-time.ts nextDigestSlot); the warning makes the gap visible.
        delivery.logger.warn(
          `没有${year}年的工作日历：每日汇总暂按每天 ${delivery.policy.digestTime} 发送（不区分节假日），请添加 domain/calendar/${year}.json / ` +
            `no working-day calendar for ${year}: digests go out at the next ${delivery.policy.digestTime} on any day until domain/calendar/${year}.json is added`,
          { year },
        );
      }
      return { written };
    },

    /** Stores reports and summaries; the submission id (unique) makes a retry land once. */
    async saveReports(reports: ReportRecord[]): Promise<{ stored: number }> {
      let stored = 0;
      for (const r of reports) {
        const res = await pool.query(
          `INSERT INTO reports (submission_id, workflow_id, cycle_year, work_point, unit_id, period, kind, text, attachments,
                                self_assessment, late, submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, to_timestamp($12 / 1000.0))
           ON CONFLICT (submission_id) DO NOTHING`,
          [
            r.submissionId,
            r.workflowId,
            r.cycleYear,
            r.workPoint,
            r.unitId,
            r.periodId,
            r.kind,
            r.text,
            JSON.stringify(r.attachments),
            r.selfAssessment ?? null,
            r.late,
            r.submittedAt,
          ],
        );
        stored += res.rowCount ?? 0;
      }
      return { stored };
    },

    /** Projection of a work point's status for the API; an older version never overwrites a newer one. */
    async saveStatus(update: StatusUpdate): Promise<void> {
      const { summary: status, version } = update;
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO work_point_status (workflow_id, cycle_year, work_point, status, light, overdue_units, snapshot, version, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
           ON CONFLICT (workflow_id) DO UPDATE SET status = EXCLUDED.status, light = EXCLUDED.light,
             overdue_units = EXCLUDED.overdue_units, snapshot = EXCLUDED.snapshot, version = EXCLUDED.version, updated_at = now()
           WHERE work_point_status.version < EXCLUDED.version`,
          [
            status.workflowId,
            status.cycleYear,
            status.number,
            status.phase,
            status.light,
            status.overdueUnits.map((u) => u.id),
            JSON.stringify(status),
            version,
          ],
        );
        for (const o of update.obligations) {
          await client.query(
            `INSERT INTO work_point_obligations (workflow_id, cycle_year, work_point, unit_id, unit_name, period, state, due_at,
                                                 acknowledged_at, last_submitted_at, submissions, extension, version, facts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0), to_timestamp($10 / 1000.0),
                     $11, $12, $13, $14)
             ON CONFLICT (workflow_id, unit_id, period) DO UPDATE SET unit_name = EXCLUDED.unit_name, state = EXCLUDED.state,
               due_at = EXCLUDED.due_at, acknowledged_at = EXCLUDED.acknowledged_at, last_submitted_at = EXCLUDED.last_submitted_at,
               submissions = EXCLUDED.submissions, extension = EXCLUDED.extension, version = EXCLUDED.version,
               facts = EXCLUDED.facts
             WHERE work_point_obligations.version < EXCLUDED.version`,
            [
              status.workflowId,
              status.cycleYear,
              status.number,
              o.unitId,
              o.unitName,
              o.periodId,
              o.state,
              o.dueAt,
              o.acknowledgedAt ?? null,
              o.lastSubmittedAt ?? null,
              o.submissions,
              o.extension ? JSON.stringify(o.extension) : null,
              version,
              JSON.stringify(o.facts),
            ],
          );
        }
        for (const r of update.removedObligations) {
          await client.query(
            'DELETE FROM work_point_obligations WHERE workflow_id = $1 AND unit_id = $2 AND period = $3 AND version < $4',
            [status.workflowId, r.unitId, r.periodId, version],
          );
        }
        for (const [i, e] of update.timeline.entries()) {
          await client.query(
            `INSERT INTO work_point_timeline (workflow_id, seq, at, kind, unit_id, period, detail)
             VALUES ($1, $2, to_timestamp($3 / 1000.0), $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
            [status.workflowId, update.timelineFrom + i, e.at, e.kind, e.unitId ?? null, e.periodId ?? null, e.detail],
          );
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      } finally {
        client.release();
      }
    },

    async saveCycleResult(result: CycleResult): Promise<void> {
      await pool.query('UPDATE cycles SET result = $2, finished_at = to_timestamp($3 / 1000.0) WHERE year = $1', [
        result.year,
        JSON.stringify(result),
        result.completedAt,
      ]);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
