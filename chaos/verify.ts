import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { OUTCOME_UNKNOWN } from '../activities/delivery';
import { outboxOfYear, outboxProgress, reportsOfYear, type OutboxRow, type StoredReport } from '../db/bench-queries';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import type { WorkPointStatus } from '../domain/model';
import { DISPATCHER_WORKFLOW_ID } from '../workflows/dispatcher';
import { cycleWorkflowId, statusQuery, workPointWorkflowId } from '../workflows/shared';
import { OFFICE_NAME, type Department, type Drill } from './types';

/** After the drill: wait until the system has settled, then check each promise duban makes. */

const EventType = temporal.api.enums.v1.EventType;

/** A work point's status, or undefined while it does not answer. */
function statusOf(client: Client, id: string): Promise<WorkPointStatus | undefined> {
  return client.workflow
    .getHandle(id)
    .query(statusQuery)
    .catch(() => undefined);
}

/**
 * Waits (at most settleS) until every report answered 已收到 is stored, every never-reporting unit has its office
 * escalation, no notice is pending and every work point answers queries. Returns what was still missing, or ''.
 */
export async function settle(drill: Drill, departments: Department[], client: Client): Promise<string> {
  const { stack, o, year } = drill;
  const wfIds = drill.assignments.map((a) => workPointWorkflowId(year, a.wp));
  const acceptedIds = new Set(departments.flatMap((d) => [...d.accepted]));
  const never = departments.filter((d) => d.behaviour === 'never').length;
  const deadline = Date.now() + o.settleS * 1000;
  let waitingFor = '';
  while (Date.now() < deadline) {
    const stored = new Set((await reportsOfYear(stack.pool, year)).map((r) => r.submission_id));
    const missing = [...acceptedIds].filter((id) => !stored.has(id));
    const { officeEscalations, pending } = await outboxProgress(stack.pool, year);
    const statuses = await Promise.all(wfIds.map((id) => statusOf(client, id)));
    waitingFor = [
      missing.length > 0 ? `${missing.length} accepted reports not yet in PostgreSQL` : '',
      officeEscalations < never ? `office escalations ${officeEscalations} / ${never}+` : '',
      pending > 0 ? `${pending} notices not yet delivered` : '',
      statuses.some((s) => s === undefined) ? 'a work point does not answer queries' : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (!waitingFor) return '';
    await sleep(1_000);
  }
  return waitingFor;
}

export interface Findings {
  violations: string[];
  notes: string[];
  lost: string[];
  duplicated: string[];
}

/** Reports: each answered 已收到 is stored once and counted once by the workflow; nothing stored was never sent. */
export async function checkReports(
  drill: Drill,
  departments: Department[],
  client: Client,
  f: Findings,
): Promise<StoredReport[]> {
  const { year, o, dueAt } = drill;
  const reportRows = await reportsOfYear(drill.stack.pool, year);
  const bySubmission = new Map<string, StoredReport[]>();
  for (const r of reportRows) bySubmission.set(r.submission_id, [...(bySubmission.get(r.submission_id) ?? []), r]);
  for (const [id, rows] of bySubmission)
    if (rows.length > 1) f.duplicated.push(`${id}: ${rows.length} rows in reports`);
  const attemptedIds = new Set(departments.flatMap((d) => [...d.attempted]));
  for (const id of bySubmission.keys())
    if (!attemptedIds.has(id)) f.violations.push(`report ${id} in PostgreSQL was never submitted`);

  const statuses = new Map<number, WorkPointStatus | undefined>();
  for (const a of drill.assignments) statuses.set(a.wp, await statusOf(client, workPointWorkflowId(year, a.wp)));
  for (const d of departments) {
    const stored = reportRows.filter((r) => r.work_point === d.wp && r.unit_id === d.unitId);
    const storedIds = new Set(stored.map((r) => r.submission_id));
    for (const id of d.accepted)
      if (!storedIds.has(id)) f.lost.push(`${id} (第${d.wp}条 ${d.unitName}): answered 已收到, not in reports`);
    for (const id of storedIds)
      if (!d.attempted.has(id))
        f.violations.push(`report ${id} stored for 第${d.wp}条 ${d.unitName}, which never sent it`);
    for (const r of stored) {
      if (r.late !== r.submitted_at.getTime() > dueAt)
        f.violations.push(
          `report ${r.submission_id}: late=${r.late} but submitted ${drill.rel(r.submitted_at.getTime())} s (due +${o.dueS} s)`,
        );
    }
    const st = statuses.get(d.wp);
    const ob = st?.obligations.find((x) => x.unitId === d.unitId && x.periodId === 'P1');
    if (!st || !ob) {
      f.violations.push(`第${d.wp}条 ${d.unitName}: no obligation in the workflow's status`);
      continue;
    }
    if (ob.submissions > storedIds.size)
      f.duplicated.push(
        `第${d.wp}条 ${d.unitName}: workflow counts ${ob.submissions} submissions, ${storedIds.size} distinct stored`,
      );
    if (ob.submissions < d.accepted.size)
      f.lost.push(
        `第${d.wp}条 ${d.unitName}: workflow counts ${ob.submissions} submissions, ${d.accepted.size} answered 已收到`,
      );
  }
  return reportRows;
}

/** The unit an escalation is about: the key is <workflow>:<milestone>:<period>:<unit>:r<round>:<due>:to:<recipient>. */
const about = (key: string): string => /:(?:lead|office):[^:]+:([^:]+):r\d+:/.exec(key)?.[1] ?? '';

/** Notices: each recorded once, and the escalations the schedule implies. Returns the outbox and what was checked. */
export async function checkNotices(
  drill: Drill,
  departments: Department[],
  reportRows: StoredReport[],
  f: Findings,
): Promise<{ notices: OutboxRow[]; checkedNever: number; checkedOnTime: number }> {
  const { year, dueAt } = drill;
  const notices = await outboxOfYear(drill.stack.pool, year);
  const seenKeys = new Map<string, number>();
  const seenEvents = new Map<string, number>();
  for (const n of notices) {
    seenKeys.set(n.idempotency_key, (seenKeys.get(n.idempotency_key) ?? 0) + 1);
    const event = [
      n.workflow_id,
      n.unit_id,
      n.kind,
      n.period ?? '',
      n.scheduled_for.getTime(),
      n.channel,
      n.address,
      about(n.idempotency_key),
    ].join('|');
    seenEvents.set(event, (seenEvents.get(event) ?? 0) + 1);
  }
  for (const [key, count] of seenKeys) if (count > 1) f.violations.push(`notice key ${key} recorded ${count} times`);
  for (const [event, count] of seenEvents)
    if (count > 1) f.violations.push(`notice ${event} recorded ${count} times under different keys`);

  const leadIds = (wp: number) =>
    (drill.assignments.find((a) => a.wp === wp)?.leads ?? []).map(
      (name) => DEMO_UNIT_DIRECTORY.units.find((u) => u.name === name)?.id ?? name,
    );
  const officeId = DEMO_UNIT_DIRECTORY.units.find((u) => u.name === OFFICE_NAME)?.id ?? '';
  const count = (wfId: string, kind: string, to: string, aboutUnit?: string) =>
    notices.filter(
      (n) =>
        n.workflow_id === wfId &&
        n.kind === kind &&
        n.unit_id === to &&
        (aboutUnit === undefined || about(n.idempotency_key) === aboutUnit),
    ).length;
  /** A notice of this kind about the department's unit (the overdue notice goes to the unit itself). */
  const concerning = (wfId: string, d: Department) => (n: OutboxRow, kind: string) =>
    n.workflow_id === wfId &&
    n.kind === kind &&
    (kind === 'overdue' ? n.unit_id === d.unitId : about(n.idempotency_key) === d.unitId);
  let checkedNever = 0;
  let checkedOnTime = 0;
  for (const d of departments) {
    const wfId = workPointWorkflowId(year, d.wp);
    if (count(wfId, 'assignment', d.unitId) !== 1)
      f.violations.push(
        `第${d.wp}条 ${d.unitName}: ${count(wfId, 'assignment', d.unitId)} assignment notices, expected 1`,
      );
    const reportedBeforeDue = d.firstAcceptedAt !== undefined && d.firstAcceptedAt < dueAt;
    const storedAny = reportRows.some((r) => r.work_point === d.wp && r.unit_id === d.unitId);
    const isAbout = concerning(wfId, d);
    if (d.behaviour === 'never' && !storedAny) {
      checkedNever += 1;
      const expect = (kind: string, to: string, n: number, aboutUnit?: string) => {
        const got = count(wfId, kind, to, aboutUnit);
        if (got !== n)
          f.violations.push(`第${d.wp}条 ${d.unitName} never reported: ${got} × ${kind} to ${to}, expected ${n}`);
      };
      expect('reminder', d.unitId, 1);
      expect('overdue', d.unitId, 1);
      for (const lead of leadIds(d.wp)) expect('escalation-lead', lead, 1, d.unitId);
      expect('escalation-office', officeId, 1, d.unitId);
    } else if (reportedBeforeDue) {
      checkedOnTime += 1;
      for (const kind of ['overdue', 'escalation-lead', 'escalation-office']) {
        const got = notices.filter((n) => isAbout(n, kind)).length;
        if (got > 0)
          f.violations.push(
            `第${d.wp}条 ${d.unitName} reported at +${drill.rel(d.firstAcceptedAt ?? 0)} s (before due): ${got} × ${kind}`,
          );
      }
    } else {
      // Late or uncertain: which milestones fire depends on when the workflow saw the report; only the order is fixed.
      const has = (kind: string) => notices.some((n) => isAbout(n, kind));
      if (has('escalation-office') && !has('escalation-lead'))
        f.violations.push(`第${d.wp}条 ${d.unitName}: office escalation without lead escalation`);
      if (has('escalation-lead') && !has('overdue'))
        f.violations.push(`第${d.wp}条 ${d.unitName}: lead escalation without overdue notice`);
    }
  }
  return { notices, checkedNever, checkedOnTime };
}

/**
 * Delivery: the dispatcher sends every row; a row claimed by a worker that was killed mid-send is settled as
 * "outcome unknown" and not resent (activities/delivery.ts chooses at most once for that window).
 */
export function checkDelivery(notices: OutboxRow[], f: Findings): { delivered: number; unknown: number } {
  const delivered = notices.filter((n) => n.status === 'sent').length;
  const unknown = notices.filter(
    (n) => n.status === 'sending' || (n.status === 'failed' && n.last_error === OUTCOME_UNKNOWN),
  );
  const undelivered = notices.filter((n) => n.status !== 'sent' && !unknown.includes(n));
  for (const n of undelivered)
    f.violations.push(
      `notice ${n.idempotency_key} not delivered (${n.status}${n.last_error ? `: ${n.last_error.slice(0, 120)}` : ''})`,
    );
  if (unknown.length > 0)
    f.notes.push(
      `${unknown.length} notice(s) claimed by a killed worker mid-send: outcome unknown, not resent (at-most-once by design)`,
    );
  return { delivered, unknown: unknown.length };
}

/** Workflows: none failed or terminated; workflow task failures (retried by Temporal) are noted. */
export async function checkWorkflows(drill: Drill, client: Client, f: Findings): Promise<void> {
  const wfIds = drill.assignments.map((a) => workPointWorkflowId(drill.year, a.wp));
  for (const id of [...wfIds, cycleWorkflowId(drill.year), DISPATCHER_WORKFLOW_ID]) {
    try {
      const desc = await client.workflow.getHandle(id).describe();
      if (['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'].includes(desc.status.name))
        f.violations.push(`workflow ${id} is ${desc.status.name}`);
    } catch (err) {
      f.violations.push(`workflow ${id}: ${err instanceof WorkflowNotFoundError ? 'not found' : String(err)}`);
    }
  }
  let taskFailures = 0;
  for (const id of wfIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    taskFailures += (history.events ?? []).filter(
      (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    ).length;
  }
  if (taskFailures > 0)
    f.notes.push(`${taskFailures} workflow task failure(s) in the work points' histories (retried by Temporal)`);
}
