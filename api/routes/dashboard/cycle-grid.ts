import { obligationState, trafficLight, type Light } from '../../../domain/light';
import type { CycleSchedule, ObligationState, ReviewState } from '../../../domain/model';
import type { CycleObligationRow, StatusRow } from '../../../db/projection-repo';

/** The dashboard grid of one cycle: every work point × unit in red / yellow / green, recomputed as of any instant. */

export const STATE_LABEL: Record<ObligationState, string> = {
  pending: '待报送',
  acknowledged: '已签收',
  submitted: '已报送',
  late: '逾期报送',
  overdue: '逾期未报',
  'escalated-lead': '已督办',
  'escalated-office': '已通报',
  waived: '免报',
  returned: '已退回',
};

export interface GridRow {
  number: number;
  workflowId: string;
  title: string;
  light: Light;
  /** Per unit id: the cell's light and its periods' states, for units that owe this work point something. */
  cells: Map<string, { light: Light; states: string[] }>;
  /** The states the state filter matches (with a unit filter, that unit's duties only). */
  states: ObligationState[];
}

const NO_REVIEW: ReviewState = { fired: {}, summaries: {} };

export function cycleGrid(
  statuses: StatusRow[],
  obligations: CycleObligationRow[],
  schedule: CycleSchedule,
  at: number,
  filterUnit: string | undefined,
): { rows: GridRow[]; unitOrder: [string, string][] } {
  const units = new Map<string, string>();
  for (const o of obligations) units.set(o.unitId, o.unitName);
  const unitOrder = [...units.entries()].sort((a, b) => a[1].localeCompare(b[1], 'zh-CN'));
  const stateAt = (o: CycleObligationRow): ObligationState => (o.facts ? obligationState(o.facts, at) : o.state);

  const rows = statuses.map((s) => {
    const mine = obligations.filter((o) => o.workPoint === s.workPoint);
    const facts = mine.flatMap((o) => (o.facts ? [o.facts] : []));
    const light = trafficLight(
      facts,
      s.snapshot.review ?? NO_REVIEW,
      schedule.review,
      (s.snapshot.leadUnits ?? []).map((u) => u.id),
      at,
    );
    const cells = new Map<string, { light: Light; states: string[] }>();
    for (const [unitId] of unitOrder) {
      const cell = mine.filter((o) => o.unitId === unitId);
      if (cell.length === 0) continue;
      const cellFacts = cell.flatMap((o) => (o.facts ? [o.facts] : []));
      cells.set(unitId, {
        light: trafficLight(cellFacts, NO_REVIEW, schedule.review, [], at),
        states: cell.map(
          (o) => `${schedule.periods.find((p) => p.id === o.period)?.label ?? o.period}：${STATE_LABEL[stateAt(o)]}`,
        ),
      });
    }
    return {
      number: s.workPoint,
      workflowId: s.workflowId,
      title: s.snapshot.title ?? '',
      light,
      cells,
      states: mine.filter((o) => !filterUnit || o.unitId === filterUnit).map(stateAt),
    };
  });
  return { rows, unitOrder };
}
