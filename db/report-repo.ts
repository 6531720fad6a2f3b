import type { Pool } from 'pg';
import { cycleSchedule } from '../domain/cycle-schedule';
import { escalationCounts } from '../domain/escalation';
import { obligationState } from '../domain/light';
import type { Outcome, ReportInput } from '../domain/annual-report';
import type { CycleResult, Obligation, ObligationState, UnitRef } from '../domain/model';

/** Gathers the facts of a cycle's annual report: the final result when rated, the projection before that. */
export async function loadReportInput(pool: Pool, year: number, asOf: number): Promise<ReportInput | undefined> {
  const cycle = await pool.query<{
    plan_id: string;
    options: unknown;
    result: CycleResult | null;
    title: string | null;
  }>(
    'SELECT c.plan_id, c.options, c.result, p.title FROM cycles c JOIN plans p ON p.id = c.plan_id WHERE c.year = $1',
    [year],
  );
  const row = cycle.rows[0];
  if (!row) return undefined;
  const schedule = cycleSchedule(year, row.options);
  const periodLabel = (id: string) => schedule.periods.find((p) => p.id === id)?.label ?? id;
  const [wps, statuses, obligations] = await Promise.all([
    pool.query<{ number: number; title: string; text: string; section: string | null; responsible_units: string[] }>(
      'SELECT number, title, text, section, responsible_units FROM work_points WHERE plan_id = $1 ORDER BY number',
      [row.plan_id],
    ),
    pool.query<{ work_point: number; workflow_id: string; snapshot: { leadUnits: UnitRef[] } }>(
      'SELECT work_point, workflow_id, snapshot FROM work_point_status WHERE cycle_year = $1',
      [year],
    ),
    pool.query<{
      work_point: number;
      unit_id: string;
      unit_name: string;
      period: string;
      state: ObligationState;
      due_at: Date;
      facts: Obligation | null;
    }>(
      'SELECT work_point, unit_id, unit_name, period, state, due_at, facts FROM work_point_obligations WHERE cycle_year = $1 ORDER BY work_point, unit_name, period',
      [year],
    ),
  ]);
  const result = row.result;
  return {
    year,
    planTitle: row.title,
    asOf,
    final: result !== null,
    workPoints: wps.rows.map((wp) => {
      const status = statuses.rows.find((s) => s.work_point === wp.number);
      const final = result?.workPoints.find((r) => r.number === wp.number);
      const mine = obligations.rows.filter((o) => o.work_point === wp.number);
      const outcomes = final
        ? final.outcomes.map((o) => ({
            unitId: o.unitId,
            unitName: o.unitName,
            periodId: o.periodId,
            periodLabel: periodLabel(o.periodId),
            outcome: o.outcome,
          }))
        : mine.map((o) => {
            const state = o.facts ? obligationState(o.facts, asOf) : o.state;
            const dueAt = o.facts?.dueAt ?? o.due_at.getTime();
            return {
              unitId: o.unit_id,
              unitName: o.unit_name,
              periodId: o.period,
              periodLabel: periodLabel(o.period),
              outcome: outcomeOf(state, dueAt, asOf),
            };
          });
      return {
        number: wp.number,
        title: wp.title,
        text: wp.text,
        section: wp.section,
        leadUnits: status?.snapshot.leadUnits ?? [],
        responsibleUnits: wp.responsible_units,
        rating: final?.rating ?? null,
        comment: final?.comment ?? null,
        workflowId: status?.workflow_id ?? final?.workflowId ?? '',
        obligations: outcomes,
        escalations: final?.escalations ?? escalationCounts(mine.flatMap((o) => (o.facts ? [o.facts] : []))),
      };
    }),
  };
}

function outcomeOf(state: ObligationState, dueAt: number, asOf: number): Outcome {
  if (state === 'submitted') return 'on-time';
  if (state === 'late') return 'late';
  if (state === 'waived') return 'waived';
  return asOf > dueAt ? 'missing' : 'not-due';
}
