import type { Pool } from 'pg';
import { ZodError } from 'zod';
import { CalendarMissingError, chinaCalendar } from '../domain/calendar';
import { scheduleFor } from '../domain/schedule';
import { officeUnit, resolveAssignees, type Problem, type Unit } from '../domain/units';
import { getPlan } from '../db/plans-repo';
import { inTransaction } from '../db/pool';
import { loadDirectory } from '../db/units-repo';
import type { CycleSchedule, UnitRef, WorkPointInput } from '../domain/model';

const toRef = (u: Unit): UnitRef => ({ id: u.id, name: u.name });

/** The schedule with epoch-millisecond instants, as the workflows use it. */
export function cycleScheduleFor(year: number, options: unknown): CycleSchedule {
  const given = options && typeof options === 'object' ? (options as Record<string, unknown>) : {};
  const s = scheduleFor({ ...given, year }, chinaCalendar);
  const ms = (iso: string) => Date.parse(iso);
  return {
    periods: s.periods.map((p) => ({
      id: p.id,
      label: p.label,
      opensAt: ms(p.opensAt),
      dueAt: ms(p.dueAt),
      reminderAt: ms(p.reminderAt),
      overdueNoticeAt: ms(p.overdueNoticeAt),
      leadEscalationAt: ms(p.leadEscalationAt),
      officeEscalationAt: ms(p.officeEscalationAt),
    })),
    review: {
      requestAt: ms(s.review.requestAt),
      summaryReminderAt: ms(s.review.summaryReminderAt),
      summaryDueAt: ms(s.review.summaryDueAt),
      officeEscalationAt: ms(s.review.officeEscalationAt),
      ratingDueAt: ms(s.review.ratingDueAt),
    },
  };
}

export type PreparedCycle =
  | { kind: 'ok'; workPoints: WorkPointInput[]; schedule: CycleSchedule }
  | { kind: 'plan-not-found' }
  | { kind: 'invalid-options'; message: string; issues: { path: string; message: string }[] }
  | { kind: 'unresolved'; message: string; problems: Problem[] };

/**
 * Everything a cycle needs before it starts: the plan, the schedule and every work point's units.
 * The API runs it to answer 422 before starting anything; the cycle workflow runs it again (as an
 * activity) because the directory may change in between, and it is the workflow that must not start with a gap.
 */
export async function prepareCycleData(
  pool: Pool,
  year: number,
  planId: number,
  options: unknown,
): Promise<PreparedCycle> {
  const plan = await getPlan(pool, planId);
  if (!plan) return { kind: 'plan-not-found' };
  let schedule: CycleSchedule;
  try {
    schedule = cycleScheduleFor(year, options);
  } catch (err) {
    if (err instanceof ZodError) {
      const issues = err.issues.map((i) => ({ path: `options.${i.path.join('.')}`, message: i.message }));
      return {
        kind: 'invalid-options',
        message: `周期参数有误 / invalid cycle options: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        issues,
      };
    }
    if (err instanceof CalendarMissingError) {
      return { kind: 'invalid-options', message: err.message, issues: [{ path: 'options', message: err.message }] };
    }
    throw err;
  }
  const directory = await loadDirectory(pool);
  const office = officeUnit(directory);
  const problems: Problem[] = [];
  const workPoints: WorkPointInput[] = [];
  for (const wp of plan.workPoints) {
    const resolved = resolveAssignees(wp, directory);
    problems.push(...resolved.problems);
    workPoints.push({
      cycleYear: year,
      planId,
      number: wp.number,
      section: wp.section ?? '',
      title: wp.title,
      leadUnits: resolved.lead.map((r) => toRef(r.unit)),
      responsibleUnits: resolved.responsible.map((r) => toRef(r.unit)),
      office: office ? toRef(office) : { id: '', name: '' },
      schedule,
    });
  }
  if (!office) {
    return { kind: 'unresolved', message: '单位目录缺少园区依法治区办（类型 office）', problems };
  }
  if (problems.length > 0) {
    return {
      kind: 'unresolved',
      message: `单位目录无法解析 ${problems.length} 处：${problems
        .slice(0, 5)
        .map((p) => `第${p.workPoint}条 ${p.message}`)
        .join('；')}${problems.length > 5 ? '……' : ''}`,
      problems,
    };
  }
  return { kind: 'ok', workPoints, schedule };
}

/**
 * The cycles table records what was started (Temporal owns its progress), and cycle_assignees who each work point
 * was assigned to when the cycle resolved its units. Idempotent: a retried activity writes the same rows.
 */
export async function recordCycle(
  pool: Pool,
  c: {
    year: number;
    planId: number;
    workflowId: string;
    runId?: string;
    options: unknown;
    workPoints?: WorkPointInput[];
  },
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO cycles (year, plan_id, workflow_id, run_id, options) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (year) DO UPDATE SET plan_id = EXCLUDED.plan_id, workflow_id = EXCLUDED.workflow_id,
         run_id = COALESCE(EXCLUDED.run_id, cycles.run_id), options = EXCLUDED.options`,
      [c.year, c.planId, c.workflowId, c.runId ?? null, JSON.stringify(c.options ?? {})],
    );
    if (c.workPoints) {
      // A cycle re-recorded for another plan keeps no rows of work points that plan does not have.
      await client.query('DELETE FROM cycle_assignees WHERE cycle_year = $1 AND work_point <> ALL($2::integer[])', [
        c.year,
        c.workPoints.map((w) => w.number),
      ]);
      await client.query(
        `INSERT INTO cycle_assignees (cycle_year, work_point, lead_units, responsible_units, input)
         SELECT $1, x.number, x.lead, x.responsible, x.input
           FROM jsonb_to_recordset($2::jsonb) AS x(number integer, lead text[], responsible text[], input jsonb)
         ON CONFLICT (cycle_year, work_point) DO UPDATE
           SET lead_units = EXCLUDED.lead_units, responsible_units = EXCLUDED.responsible_units, input = EXCLUDED.input`,
        [
          c.year,
          JSON.stringify(
            c.workPoints.map((w) => ({
              number: w.number,
              lead: w.leadUnits.map((u) => u.id),
              responsible: w.responsibleUnits.map((u) => u.id),
              input: w,
            })),
          ),
        ],
      );
    }
  });
}

/**
 * The recorded inputs of some work points of a cycle, in the order asked for: exactly what prepareCycle resolved,
 * so a page loaded later never sees a directory edited in between.
 */
export async function recordedWorkPointInputs(pool: Pool, year: number, numbers: number[]): Promise<WorkPointInput[]> {
  const { rows } = await pool.query<{ work_point: number; input: WorkPointInput | null }>(
    'SELECT work_point, input FROM cycle_assignees WHERE cycle_year = $1 AND work_point = ANY($2::integer[])',
    [year, numbers],
  );
  const byNumber = new Map(rows.map((r) => [r.work_point, r.input]));
  return numbers.map((n) => {
    const input = byNumber.get(n);
    if (!input) throw new Error(`cycle ${year} has no recorded input for work point ${n}; prepare the cycle again`);
    return input;
  });
}
