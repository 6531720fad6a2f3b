import { activityInfo, ApplicationFailure, asyncLocalStorage, log } from '@temporalio/activity';
import type { Pool } from 'pg';
import { parseLinkKeys, replyUrl, signLink, type LinkKeys } from '../common/links';
import type {
  CycleResult,
  NoticeRequest,
  PersistBatch,
  ReportRecord,
  StatusUpdate,
  WorkPointInput,
} from '../domain/model';
import { deliveryTime } from '../domain/delivery-time';
import { drillYears, recordedInputsFor, recordedWorkPointInputs, saveCycleResult } from '../db/cycles-repo';
import { insertOutbox, type OutboxRow } from '../db/outbox-repo';
import { writeStatus } from '../db/projection-repo';
import { writeReports } from '../db/submissions-repo';
import { unitContacts } from '../db/units-repo';
import { resolveDelivery, type DeliveryOptions } from './delivery';
import { createDeliveryActivities } from './delivery-pass';
import { createStartActivities } from './start-work-points';
import { prepareCycleData, recordCycle } from '../services/cycle-preparation';
import { renderNotice } from '../services/notice-templates';

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

  /**
   * The numbers of the cycle's work points, their inputs recorded in cycle_assignees. The API prepared and recorded
   * them for this run when it started the cycle (to answer 422 before starting anything): then they are used as they
   * are. Otherwise (a cycle started without the API, a retry, the activity ahead of the API's record) this reads the
   * plan and the directory, resolves every work point's units, computes the schedule and records the cycle; it
   * refuses (non-retryable) when anything is unresolved, so a cycle never starts with a silent gap.
   */
  async function prepareAndRecord(input: PrepareCycleInput): Promise<number[]> {
    // Outside an activity (tests calling the function directly) there is no run to match a record against.
    const runId = asyncLocalStorage.getStore() ? activityInfo().workflowExecution?.runId : undefined;
    if (runId !== undefined) {
      const recorded = await recordedInputsFor(pool, { ...input, runId });
      if (recorded) return recorded;
    }
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
      ...(runId !== undefined ? { inputsRunId: runId } : {}),
    });
    return prepared.workPoints.map((w) => w.number);
  }

  /**
   * Writes notices to the outbox, one row per recipient contact, in one statement; the idempotency key (workflow
   * ID + event + recipient) makes a retried call write nothing twice.
   */
  async function writeNotices(notices: NoticeRequest[]): Promise<{ written: number }> {
    const unitIds = [...new Set(notices.map((n) => n.unitId))];
    const units = await unitContacts(pool, unitIds);
    const drills = await drillYears(pool, [...new Set(notices.map((n) => n.cycleYear))]);
    const calendarMissing = new Set<number>();
    const outbox: OutboxRow[] = [];
    for (const n of notices) {
      const unit = units.get(n.unitId);
      const contacts =
        unit && unit.contacts.length > 0 ? unit.contacts : [{ channel: 'log' as const, address: n.unitId }];
      if (!unit || unit.contacts.length === 0) {
        log.warn('unit has no contacts; notice goes to the log channel', { unitId: n.unitId, key: n.key });
      }
      const link = linkFor(n);
      const drill = drills.has(n.cycleYear);
      const { subject, body } = renderNotice(n, unit?.name ?? n.unitId, link, drill);
      // A drill's notices go out at once: no digest, no waiting for the morning.
      const when = drill
        ? { deliverAfter: n.scheduledFor, digest: false }
        : deliveryTime(n.scheduledFor, n.kind, delivery.policy, delivery.calendar);
      if (when.calendarMissingYear !== undefined) calendarMissing.add(when.calendarMissingYear);
      for (const c of contacts) {
        outbox.push({
          key: contacts.length === 1 ? n.key : `${n.key}:${c.channel}:${c.address}`,
          workflowId: n.workflowId,
          cycleYear: n.cycleYear,
          workPoint: n.workPoint,
          unitId: n.unitId,
          kind: n.kind,
          period: n.periodId ?? null,
          channel: c.channel,
          address: c.address,
          subject,
          body,
          link: link ?? null,
          scheduledFor: n.scheduledFor,
          dueAt: n.dueAt ?? null,
          deliverAfter: when.deliverAfter,
          digest: when.digest,
        });
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
    return { written: await insertOutbox(pool, outbox) };
  }

  return {
    ...createDeliveryActivities(pool, delivery),
    ...createStartActivities(pool),

    /**
     * Reads the plan and the directory, resolves every work point's units and computes the schedule.
     * Refuses (non-retryable) when anything is unresolved, so a cycle never starts with a silent gap.
     */
    async prepareCycle(input: PrepareCycleInput): Promise<{ workPoints: WorkPointInput[] }> {
      return { workPoints: await recordedWorkPointInputs(pool, input.year, await prepareAndRecord(input)) };
    },

    /**
     * prepareCycle for cycles started a page at a time: records every work point's input and returns only their
     * numbers, so the result stays small however large the plan; workPointInputs then loads a page.
     */
    async prepareCycleRecorded(input: PrepareCycleInput): Promise<{ numbers: number[] }> {
      return { numbers: await prepareAndRecord(input) };
    },

    /** The recorded inputs of one page of work points (see prepareCycleRecorded). */
    async workPointInputs(input: { year: number; numbers: number[] }): Promise<WorkPointInput[]> {
      return recordedWorkPointInputs(pool, input.year, input.numbers);
    },

    async notify(notices: NoticeRequest[]): Promise<{ written: number }> {
      return writeNotices(notices);
    },

    /** Stores reports and summaries; the submission id (unique) makes a retry land once. */
    async saveReports(reports: ReportRecord[]): Promise<{ stored: number }> {
      return writeReports(pool, reports);
    },

    /** Projection of a work point's status for the API; an older version never overwrites a newer one. */
    async saveStatus(update: StatusUpdate): Promise<void> {
      await writeStatus(pool, update);
    },

    /**
     * What one wake-up of a work point has to record, in one activity: its reports first (their own statement,
     * so a unit told "received" is in PostgreSQL even if a later step fails and retries), then its notices and
     * its status. Each step is idempotent on its own, so a retry of the whole writes nothing twice.
     */
    async persist(batch: PersistBatch): Promise<{ stored: number; written: number }> {
      const { stored } = batch.reports?.length ? await writeReports(pool, batch.reports) : { stored: 0 };
      const { written } = batch.notices?.length ? await writeNotices(batch.notices) : { written: 0 };
      if (batch.status) await writeStatus(pool, batch.status);
      return { stored, written };
    },

    async saveCycleResult(result: CycleResult): Promise<void> {
      await saveCycleResult(pool, result);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
