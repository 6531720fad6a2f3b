import type {
  Instant,
  NoticeKind,
  NoticeRequest,
  Obligation,
  PeriodSchedule,
  ReportRecord,
  TimelineEntry,
  UnitRef,
  WorkPointInput,
  WorkPointState,
} from '../model';

/**
 * What the pure work point functions see: the workflow's inputs, its mutable state, and a record of what a step
 * asked for. Transitions change `state` in place (the workflow owns exactly one) and push their effects into
 * `out`; the workflow turns `out` into activity calls, in order. Nothing here reads a clock: `now` is passed in.
 */
export interface WorkPoint {
  workflowId: string;
  input: WorkPointInput;
  state: WorkPointState;
  periods: Map<string, PeriodSchedule>;
  leadIds: string[];
  out: Effects;
}

/** What steps asked for since the workflow last collected them. */
export interface Effects {
  notices: NoticeRequest[];
  reports: ReportRecord[];
  /** A fact was recorded (timeline): the loop must run again. */
  recorded: boolean;
  /** Something the status projection shows changed. */
  statusChanged: boolean;
}

export const noEffects = (): Effects => ({ notices: [], reports: [], recorded: false, statusChanged: false });

export function workPointOf(workflowId: string, input: WorkPointInput, state: WorkPointState): WorkPoint {
  return {
    workflowId,
    input,
    state,
    periods: new Map(input.schedule.periods.map((p) => [p.id, p])),
    leadIds: input.leadUnits.map((u) => u.id),
    out: noEffects(),
  };
}

export function initialState(input: WorkPointInput): WorkPointState {
  return {
    units: [...input.responsibleUnits],
    obligations: input.responsibleUnits.flatMap((u) => input.schedule.periods.map((p) => newObligation(u.id, p))),
    review: { fired: {}, summaries: {} },
    timeline: [],
    seenSubmissionIds: [],
    statusVersion: 0,
    savedTimeline: 0,
    savedObligations: {},
  };
}

export function newObligation(unitId: string, p: PeriodSchedule): Obligation {
  return {
    unitId,
    periodId: p.id,
    dueAt: p.dueAt,
    reminderAt: p.reminderAt,
    overdueNoticeAt: p.overdueNoticeAt,
    leadEscalationAt: p.leadEscalationAt,
    officeEscalationAt: p.officeEscalationAt,
    fired: {},
    submissions: [],
    returns: [],
  };
}

export function obligationOf(wp: WorkPoint, unitId: string, periodId: string): Obligation | undefined {
  return wp.state.obligations.find((o) => o.unitId === unitId && o.periodId === periodId);
}

export const isAssigned = (wp: WorkPoint, unitId: string): boolean => wp.state.units.some((u) => u.id === unitId);

/** A unit by id: assigned, lead, the office, or (removed long ago) just its id. */
export function unitRef(wp: WorkPoint, id: string): UnitRef {
  return (
    wp.state.units.find((u) => u.id === id) ??
    wp.input.leadUnits.find((u) => u.id === id) ??
    (id === wp.input.office.id ? wp.input.office : { id, name: id })
  );
}

export function record(wp: WorkPoint, now: Instant, entry: Omit<TimelineEntry, 'at'> & { at?: Instant }): void {
  wp.state.timeline.push({ at: entry.at ?? now, ...entry });
  wp.out.recorded = true;
  wp.out.statusChanged = true;
}

/** Signals of older clients that do not fit the state are recorded, not refused: the timeline says why. */
export function reject(wp: WorkPoint, now: Instant, unitId: string | undefined, detail: string, periodId?: string) {
  record(wp, now, { kind: 'rejected', unitId, periodId, detail });
}

export function notice(
  wp: WorkPoint,
  kind: NoticeKind,
  unitId: string,
  event: string,
  scheduledFor: Instant,
  extra: Partial<NoticeRequest> = {},
): void {
  const { input, workflowId } = wp;
  wp.out.notices.push({
    key: `${workflowId}:${event}:to:${unitId}`,
    workflowId,
    cycleYear: input.cycleYear,
    workPoint: input.number,
    workPointTitle: input.title,
    unitId,
    kind,
    scheduledFor,
    link: 'none',
    ...extra,
  });
  record(wp, scheduledFor, { at: scheduledFor, kind: 'notice', unitId, periodId: extra.periodId, detail: kind });
}

export const periodFields = (p: PeriodSchedule, o: Obligation) => ({
  periodId: p.id,
  periodLabel: p.label,
  dueAt: o.dueAt,
});
