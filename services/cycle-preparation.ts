import type { Pool } from 'pg';
import { ZodError } from 'zod';
import { CalendarMissingError } from '../domain/calendar';
import { cycleSchedule } from '../domain/cycle-schedule';
import { officeUnit, resolveAssignees, type Problem, type Unit } from '../domain/units';
import { getPlan } from '../db/plans-repo';
import { loadDirectory } from '../db/units-repo';
import type { CycleSchedule, UnitRef, WorkPointInput } from '../domain/model';

/** Records a cycle (and, given, its work points' inputs): see db/cycles-repo.ts. The API and the activity both call it. */
export { recordCycle, type CycleRecord } from '../db/cycles-repo';

const toRef = (u: Unit): UnitRef => ({ id: u.id, name: u.name });

export type PreparedCycle =
  | { kind: 'ok'; workPoints: WorkPointInput[]; schedule: CycleSchedule }
  | { kind: 'plan-not-found' }
  | { kind: 'invalid-options'; message: string; issues: { path: string; message: string }[] }
  | { kind: 'unresolved'; message: string; problems: Problem[] };

/**
 * Everything a cycle needs before it starts: the plan, the schedule and every work point's units. Run once per
 * start: the API runs it to answer 422 before starting anything and records the result with the run it started
 * (recordCycle with workPoints and runId); the cycle's prepare activity then uses that record, and runs this itself
 * only when there is none for its run (a cycle started without the API, or the activity ahead of the API's record).
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
    schedule = cycleSchedule(year, options);
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
