import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { shanghaiDate } from '../domain/schedule';
import {
  currentRound,
  currentSubmission,
  missingSummaries,
  obligationState,
  OVERDUE_STATES,
  trafficLight,
} from '../domain/light';
import {
  type Instant,
  type Milestone,
  type NoticeKind,
  type NoticeRequest,
  type Obligation,
  type PersistBatch,
  type PeriodSchedule,
  type ReportRecord,
  type ReportSignal,
  type SubmissionRefusal,
  type SummarySignal,
  type StatusUpdate,
  type TimelineEntry,
  type UnitOutcome,
  type UnitRef,
  type WorkPointInput,
  type WorkPointPhase,
  type WorkPointResult,
  type WorkPointState,
  type WorkPointStatus,
} from '../domain/model';
import {
  acknowledgeSignal,
  addUnitSignal,
  decideExtensionSignal,
  extendDeadlineSignal,
  rateReviewSignal,
  reassignSignal,
  remindNowSignal,
  removeUnitSignal,
  reportSignal,
  requestExtensionSignal,
  returnReportSignal,
  SA,
  statusQuery,
  submitReportUpdate,
  submitSummaryUpdate,
  summarySignal,
  waiveSignal,
} from './shared';

const persistence = {
  startToCloseTimeout: '30 seconds',
  // Records must eventually land: retry indefinitely with backoff through database outages.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const;
/** Histories recorded before PERSIST_IN_ONE_ACTIVITY scheduled these as activities. */
const { notify, saveReports, saveStatus } = proxyActivities<Activities>(persistence);
/**
 * persist is a local activity: a short write to PostgreSQL, run by the worker that runs the workflow task, without
 * an activity task's round trip through the server (a report costs ~5 history events instead of ~10). It is
 * idempotent, so a re-run after a lost workflow task writes nothing twice; past a minute of retries its backoff
 * becomes a server timer, as a database outage needs.
 */
const { persist } = proxyLocalActivities<Activities>(persistence);

/**
 * Patch ids (see `patched()`): a change of what the workflow schedules must keep replaying histories recorded
 * before it. Histories without the marker take the old branch.
 */
const PERSIST_IN_ONE_ACTIVITY = 'persist-in-one-activity';

/** Above this many events or bytes the workflow continues as new (Temporal warns at 10,240 events / 10 MB). */
const HISTORY_EVENTS_LIMIT = 8_000;
const HISTORY_BYTES_LIMIT = 8 * 1024 * 1024;

const DAY = 24 * 3600 * 1000;

/**
 * One work point (要点) for one year: for every responsible unit and reporting period it sends the
 * assignment notice, reminds, sends the overdue notice, escalates to the lead units (督办) and then
 * to the office (通报), and it closes with the year-end review rated by the office.
 *
 * Design: a single loop wakes at the earliest pending milestone or when a message arrives; signal
 * handlers only record facts and mark the state dirty, so all side effects happen in the loop, in
 * order, batched into one activity call per wake-up.
 */
export async function workPoint(input: WorkPointInput): Promise<WorkPointResult> {
  const { schedule } = input;
  const workflowId = workflowInfo().workflowId;
  const periods = new Map(schedule.periods.map((p) => [p.id, p]));
  const state: WorkPointState = input.resume ?? initialState(input);
  const unitsById = () => new Map(state.units.map((u) => [u.id, u]));
  const leadIds = input.leadUnits.map((u) => u.id);

  let dirty = true;
  let statusDirty = true;
  const pendingNotices: NoticeRequest[] = [];
  const pendingReports: ReportRecord[] = [];
  /** Submissions accepted in this run whose report is not in PostgreSQL yet: their receipts wait for it. */
  const unstoredReports = new Set<string>();
  const queueReport = (report: ReportRecord) => {
    pendingReports.push(report);
    unstoredReports.add(report.submissionId);
  };
  const stored = (reports: ReportRecord[] | undefined) =>
    reports?.forEach((r) => unstoredReports.delete(r.submissionId));
  const now = (): Instant => Date.now();

  const record = (entry: Omit<TimelineEntry, 'at'> & { at?: Instant }) => {
    state.timeline.push({ at: entry.at ?? now(), ...entry });
    dirty = true;
    statusDirty = true;
  };
  const reject = (unitId: string | undefined, detail: string, periodId?: string) =>
    record({ kind: 'rejected', unitId, periodId, detail });
  const obligation = (unitId: string, periodId: string) =>
    state.obligations.find((o) => o.unitId === unitId && o.periodId === periodId);

  const notice = (
    kind: NoticeKind,
    unitId: string,
    event: string,
    scheduledFor: Instant,
    extra: Partial<NoticeRequest> = {},
  ) => {
    const key = `${workflowId}:${event}:to:${unitId}`;
    pendingNotices.push({
      key,
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
    record({ at: scheduledFor, kind: 'notice', unitId, periodId: extra.periodId, detail: kind });
  };
  const periodFields = (p: PeriodSchedule, o: Obligation) => ({
    periodId: p.id,
    periodLabel: p.label,
    dueAt: o.dueAt,
  });

  // ── Messages: record facts only; the loop does the rest. ───────────────────────────────────────

  // Reports and summaries: one verdict (`judgeReport` / `judgeSummary`) for the signal of older clients and for the
  // Update the reply page sends, whose validator refuses before anything is recorded and whose result — sent once
  // the report is stored — is the receipt.

  type Verdict = { refusal: SubmissionRefusal; message: string } | { repeat: true } | undefined;

  function judgeReport(r: ReportSignal, asUpdate: boolean): Verdict {
    if (state.seenSubmissionIds.includes(r.submissionId)) return { repeat: true }; // a double click or retry
    if (asUpdate && state.review.rating) return { refusal: 'closed', message: '本要点已评定办结，不再接收报告' };
    const o = obligation(r.unitId, r.periodId);
    if (!o) {
      return { refusal: 'not-assigned', message: `单位未承担该时段的报送任务 / not assigned for period ${r.periodId}` };
    }
    if (asUpdate && !state.units.some((u) => u.id === r.unitId)) {
      return {
        refusal: 'removed',
        message: '你单位已不在本要点的承办名单中，报告未被接收 / removed from the work point',
      };
    }
    if (o.waived) return { refusal: 'waived', message: '该报送已免报 / waived' };
    // Corrections are allowed while the period is open; after the due date a report already in stands.
    if (r.submittedAt > o.dueAt && currentSubmission(o, now())) {
      return { refusal: 'already-reported', message: '本期已截止且已报送，不能更正 / closed, already reported' };
    }
    return undefined;
  }

  function acceptReport(r: ReportSignal): void {
    const o = obligation(r.unitId, r.periodId);
    if (!o) return;
    state.seenSubmissionIds.push(r.submissionId);
    const late = r.submittedAt > o.dueAt;
    o.submissions.push({
      submissionId: r.submissionId,
      submittedAt: r.submittedAt,
      receivedAt: now(),
      late,
      round: currentRound(o, now()),
      attachments: r.attachments?.length ?? 0,
    });
    queueReport({
      submissionId: r.submissionId,
      workflowId,
      cycleYear: input.cycleYear,
      workPoint: input.number,
      unitId: r.unitId,
      periodId: r.periodId,
      kind: 'report',
      text: r.text,
      attachments: r.attachments ?? [],
      late,
      submittedAt: r.submittedAt,
    });
    record({ kind: 'report', unitId: r.unitId, periodId: r.periodId, detail: late ? 'late' : 'on-time' });
  }

  function judgeSummary(s: SummarySignal): Verdict {
    if (state.seenSubmissionIds.includes(s.submissionId)) return { repeat: true };
    if (!leadIds.includes(s.unitId)) {
      return { refusal: 'not-lead', message: '只有牵头单位提交年度总结 / only lead units submit the summary' };
    }
    if (state.review.rating) return { refusal: 'closed', message: '已评定，不再接收年度总结 / already rated' };
    return undefined;
  }

  function acceptSummary(s: SummarySignal): void {
    state.seenSubmissionIds.push(s.submissionId);
    const late = s.submittedAt > schedule.review.summaryDueAt;
    state.review.summaries[s.unitId] = {
      submissionId: s.submissionId,
      selfAssessment: s.selfAssessment,
      submittedAt: s.submittedAt,
      late,
    };
    queueReport({
      submissionId: s.submissionId,
      workflowId,
      cycleYear: input.cycleYear,
      workPoint: input.number,
      unitId: s.unitId,
      periodId: 'review',
      kind: 'summary',
      text: s.text,
      attachments: s.attachments ?? [],
      selfAssessment: s.selfAssessment,
      late,
      submittedAt: s.submittedAt,
    });
    record({ kind: 'summary', unitId: s.unitId, detail: s.selfAssessment });
  }

  /** The receipt for a submission this workflow accepted (now or earlier), once its report is stored. */
  async function receiptWhenStored(submissionId: string, unitId: string, repeated: boolean) {
    await condition(() => !unstoredReports.has(submissionId));
    const sub =
      state.obligations.flatMap((o) => o.submissions).find((x) => x.submissionId === submissionId) ??
      (state.review.summaries[unitId]?.submissionId === submissionId
        ? { receivedAt: undefined, ...state.review.summaries[unitId] }
        : undefined);
    return {
      submissionId,
      receivedAt: sub?.receivedAt ?? sub?.submittedAt ?? now(),
      late: sub?.late ?? false,
      repeated,
    };
  }

  const refuse = (verdict: Verdict): void => {
    if (verdict && 'refusal' in verdict)
      throw ApplicationFailure.create({ message: verdict.message, type: verdict.refusal, nonRetryable: true });
  };

  setHandler(reportSignal, (r) => {
    const verdict = judgeReport(r, false);
    if (verdict && 'repeat' in verdict) return;
    if (verdict) return reject(r.unitId, verdict.message, r.periodId);
    acceptReport(r);
  });
  setHandler(summarySignal, (s) => {
    const verdict = judgeSummary(s);
    if (verdict && 'repeat' in verdict) return;
    if (verdict) return reject(s.unitId, verdict.message);
    acceptSummary(s);
  });

  setHandler(
    submitReportUpdate,
    async (r) => {
      // Judged again: another update accepted in the same activation may have changed the answer.
      const verdict = judgeReport(r, true);
      refuse(verdict);
      if (!verdict) acceptReport(r);
      return receiptWhenStored(r.submissionId, r.unitId, verdict !== undefined);
    },
    { validator: (r: ReportSignal) => refuse(judgeReport(r, true)) },
  );
  setHandler(
    submitSummaryUpdate,
    async (s) => {
      const verdict = judgeSummary(s);
      refuse(verdict);
      if (!verdict) acceptSummary(s);
      return receiptWhenStored(s.submissionId, s.unitId, verdict !== undefined);
    },
    { validator: (s: SummarySignal) => refuse(judgeSummary(s)) },
  );

  setHandler(acknowledgeSignal, (a) => {
    const mine = state.obligations.filter((o) => o.unitId === a.unitId);
    if (mine.length === 0) return reject(a.unitId, '单位未承担该要点 / not assigned');
    if (mine.every((o) => o.acknowledgedAt !== undefined)) return; // only the first opening counts
    for (const o of mine) o.acknowledgedAt ??= a.at;
    record({ kind: 'acknowledged', unitId: a.unitId, detail: '签收' });
  });

  setHandler(requestExtensionSignal, (r) => {
    const o = obligation(r.unitId, r.periodId);
    if (!o) return reject(r.unitId, `单位未承担该时段的报送任务 / not assigned for period ${r.periodId}`, r.periodId);
    if (o.extension?.requestId === r.requestId) return;
    if (o.extension?.status === 'pending')
      return reject(r.unitId, '已有待审批的延期申请 / a request is pending', r.periodId);
    o.extension = {
      requestId: r.requestId,
      reason: r.reason,
      wantedDueAt: r.wantedDueAt,
      requestedAt: r.at,
      status: 'pending',
    };
    record({ kind: 'extension-requested', unitId: r.unitId, periodId: r.periodId, detail: r.reason });
    const p = periods.get(r.periodId);
    if (p) {
      notice(
        'extension-request',
        input.office.id,
        `extension-request:${r.periodId}:${r.unitId}:${r.requestId}`,
        now(),
        {
          ...periodFields(p, o),
          aboutUnits: [unitRef(r.unitId)],
          reason: r.reason,
        },
      );
    }
  });

  setHandler(decideExtensionSignal, (d) => {
    const o = obligation(d.unitId, d.periodId);
    const p = periods.get(d.periodId);
    if (!o || !p || o.extension?.status !== 'pending') {
      return reject(d.unitId, '没有待审批的延期申请 / no pending extension request', d.periodId);
    }
    const ext = o.extension;
    ext.status = d.approved ? 'approved' : 'rejected';
    ext.decidedAt = now();
    ext.comment = d.comment;
    if (d.approved) moveDue(o, d.newDueAt ?? ext.wantedDueAt);
    record({
      kind: 'extension-decided',
      unitId: d.unitId,
      periodId: d.periodId,
      detail: `${d.approved ? '批准' : '不批准'}${d.comment ? `：${d.comment}` : ''}`,
    });
    notice('extension-decision', d.unitId, `extension-decision:${d.periodId}:${ext.requestId}`, now(), {
      ...periodFields(p, o),
      reason: `${d.approved ? '批准' : '不批准'}${d.comment ? `：${d.comment}` : ''}`,
      link: 'report',
    });
  });

  setHandler(extendDeadlineSignal, (e) => {
    const p = periods.get(e.periodId);
    if (!p) return reject(undefined, `没有时段 ${e.periodId} / unknown period`, e.periodId);
    const targets = state.obligations.filter(
      (o) => o.periodId === e.periodId && (!e.unitIds || e.unitIds.includes(o.unitId)),
    );
    if (targets.length === 0) return reject(undefined, '没有可延期的单位 / no matching units', e.periodId);
    for (const o of targets) {
      moveDue(o, e.newDueAt);
      record({ kind: 'deadline-extended', unitId: o.unitId, periodId: e.periodId, detail: e.reason });
      notice('deadline-extended', o.unitId, `deadline-extended:${e.periodId}:${e.newDueAt}`, now(), {
        ...periodFields(p, o),
        reason: e.reason,
        link: 'report',
      });
    }
  });

  setHandler(waiveSignal, (w) => {
    const targets = state.obligations.filter(
      (o) => o.unitId === w.unitId && (!w.periodId || o.periodId === w.periodId) && !o.waived,
    );
    if (targets.length === 0) return reject(w.unitId, '没有可免报的任务 / nothing to waive', w.periodId);
    for (const o of targets) {
      o.waived = { reason: w.reason, by: w.by, at: now() };
      record({ kind: 'waived', unitId: o.unitId, periodId: o.periodId, detail: w.reason });
    }
  });

  setHandler(returnReportSignal, (r) => {
    const o = obligation(r.unitId, r.periodId);
    const p = periods.get(r.periodId);
    if (!o || !p || !currentSubmission(o, now())) {
      return reject(r.unitId, '没有可退回的报告 / no report to return', r.periodId);
    }
    o.returns.push({ reason: r.reason, by: r.by, at: now() });
    const reworkLead = p.dueAt - p.reminderAt;
    moveDue(o, r.newDueAt ?? Math.max(o.dueAt, now() + Math.max(reworkLead, DAY)));
    record({ kind: 'returned', unitId: r.unitId, periodId: r.periodId, detail: r.reason });
    notice('returned', r.unitId, `returned:${r.periodId}:${o.returns.length}`, now(), {
      ...periodFields(p, o),
      reason: r.reason,
      link: 'report',
    });
  });

  setHandler(remindNowSignal, (r) => {
    const at = now();
    const targets = state.obligations.filter(
      (o) =>
        (!r.unitIds || r.unitIds.includes(o.unitId)) &&
        (!r.periodId || o.periodId === r.periodId) &&
        !['submitted', 'late', 'waived'].includes(obligationState(o, at)) &&
        at >= (periods.get(o.periodId)?.opensAt ?? 0),
    );
    if (targets.length === 0) return reject(undefined, '没有需要提醒的单位 / nobody to remind', r.periodId);
    for (const o of targets) {
      const p = periods.get(o.periodId);
      if (!p) continue;
      notice('reminder', o.unitId, `remind-now:${r.requestId}:${o.periodId}`, at, {
        ...periodFields(p, o),
        link: 'report',
      });
    }
  });

  const addUnit = (unit: UnitRef, reason: string, kind: 'unit-added' | 'reassigned') => {
    if (state.units.some((u) => u.id === unit.id)) {
      return reject(unit.id, '单位已在承办名单中 / already assigned');
    }
    state.units.push(unit);
    const at = now();
    for (const p of schedule.periods) {
      // A period already past when the unit joins is not owed retroactively.
      if (p.dueAt >= at) state.obligations.push(newObligation(unit.id, p));
    }
    record({ kind, unitId: unit.id, detail: reason });
  };
  const removeUnit = (unitId: string, reason: string, kind: 'unit-removed' | 'reassigned') => {
    if (!state.units.some((u) => u.id === unitId)) return reject(unitId, '单位不在承办名单中 / not assigned');
    state.units = state.units.filter((u) => u.id !== unitId);
    // Obligations already fulfilled stay as records; open ones end here.
    state.obligations = state.obligations.filter(
      (o) => o.unitId !== unitId || currentSubmission(o, now()) !== undefined,
    );
    record({ kind, unitId, detail: reason });
  };
  setHandler(addUnitSignal, (a) => addUnit(a.unit, a.reason, 'unit-added'));
  setHandler(removeUnitSignal, (r) => removeUnit(r.unitId, r.reason, 'unit-removed'));
  setHandler(reassignSignal, (r) => {
    if (!state.units.some((u) => u.id === r.fromUnitId))
      return reject(r.fromUnitId, '单位不在承办名单中 / not assigned');
    if (state.units.some((u) => u.id === r.to.id)) return reject(r.to.id, '单位已在承办名单中 / already assigned');
    removeUnit(r.fromUnitId, `${r.reason}（改由${r.to.name}承办）`, 'reassigned');
    addUnit(r.to, `${r.reason}（原由${unitRef(r.fromUnitId).name}承办）`, 'reassigned');
  });

  setHandler(rateReviewSignal, (r) => {
    if (state.review.rating) return reject(undefined, '已评定 / already rated');
    state.review.rating = { rating: r.rating, comment: r.comment, by: r.by, at: now() };
    record({ kind: 'rated', detail: `${r.rating}${r.comment ? `：${r.comment}` : ''}` });
  });

  setHandler(statusQuery, () => buildStatus(now()));

  // ── Helpers over state ─────────────────────────────────────────────────────────────────────────

  function unitRef(id: string): UnitRef {
    return (
      unitsById().get(id) ??
      input.leadUnits.find((u) => u.id === id) ??
      (id === input.office.id ? input.office : { id, name: id })
    );
  }

  /**
   * Move an obligation's due instant; the other milestones keep their distance to it. Milestones
   * now in the future are re-armed; a reminder whose new instant has already passed is skipped
   * rather than sent late next to the notice that announced the move.
   */
  function moveDue(o: Obligation, newDueAt: Instant) {
    const delta = newDueAt - o.dueAt;
    o.dueAt = newDueAt;
    o.reminderAt += delta;
    o.overdueNoticeAt += delta;
    o.leadEscalationAt += delta;
    o.officeEscalationAt += delta;
    for (const m of ['reminder', 'overdue', 'lead', 'office'] as const) {
      if (milestoneAt(o, m) > now()) delete o.fired[m];
      else if (m === 'reminder') o.fired.reminder ??= o.reminderAt;
    }
    statusDirty = true;
  }

  function buildStatus(asOf: Instant): WorkPointStatus {
    const obligations = state.obligations.map((o) => {
      const last = o.submissions[o.submissions.length - 1];
      return {
        unitId: o.unitId,
        unitName: unitRef(o.unitId).name,
        periodId: o.periodId,
        state: obligationState(o, asOf),
        dueAt: o.dueAt,
        acknowledgedAt: o.acknowledgedAt,
        lastSubmittedAt: last?.submittedAt,
        submissions: o.submissions.length,
        extension: o.extension,
      };
    });
    const overdueIds = [...new Set(obligations.filter((o) => OVERDUE_STATES.includes(o.state)).map((o) => o.unitId))];
    const requested = state.review.fired.request !== undefined;
    const phase = computePhase(
      obligations.map((o) => o.state),
      requested,
    );
    return {
      workflowId,
      cycleYear: input.cycleYear,
      number: input.number,
      title: input.title,
      phase,
      light: trafficLight(state.obligations, state.review, schedule.review, leadIds, asOf),
      asOf,
      leadUnits: input.leadUnits,
      units: state.units,
      obligations,
      overdueUnits: overdueIds.map(unitRef),
      review: { ...state.review, requested },
      timeline: state.timeline,
      waitingOn: waitingOn(asOf),
    };
  }

  function computePhase(states: string[], reviewRequested: boolean): WorkPointPhase {
    if (state.review.rating) return 'closed';
    if (states.includes('escalated-lead') || states.includes('escalated-office')) return 'escalated';
    if (states.includes('overdue')) return 'overdue';
    return reviewRequested ? 'review' : 'open';
  }

  function waitingOn(asOf: Instant): string {
    if (state.review.rating) return `已评定：${state.review.rating.rating}`;
    const open = state.obligations.filter((o) => {
      const s = obligationState(o, asOf);
      return s !== 'submitted' && s !== 'late' && s !== 'waived' && asOf >= (periods.get(o.periodId)?.opensAt ?? 0);
    });
    const lines = open.slice(0, 10).map((o) => {
      const p = periods.get(o.periodId);
      return `- ${unitRef(o.unitId).name}：${p?.label ?? o.periodId}报告（${obligationState(o, asOf)}，截止 ${shanghaiDate(o.dueAt)}）`;
    });
    if (open.length > 10) lines.push(`- 另有 ${open.length - 10} 项`);
    if (state.review.fired.request !== undefined) {
      const missing = missingSummaries(state.review, leadIds, asOf);
      lines.push(
        missing.length > 0
          ? `- 年度总结：${missing.map((id) => unitRef(id).name).join('、')}`
          : '- 园区依法治区办评定年终述职',
      );
    }
    return lines.length > 0 ? `**等待 / waiting on**\n${lines.join('\n')}` : '暂无待办 / nothing due yet';
  }

  // ── Milestones ─────────────────────────────────────────────────────────────────────────────────

  function milestoneAt(o: Obligation, m: Milestone): Instant {
    const p = periods.get(o.periodId);
    switch (m) {
      case 'assignment':
        return Math.max(p?.opensAt ?? 0, 0);
      case 'reminder':
        return o.reminderAt;
      case 'overdue':
        return o.overdueNoticeAt;
      case 'lead':
        return o.leadEscalationAt;
      case 'office':
        return o.officeEscalationAt;
    }
  }

  /** Fire every milestone whose instant has come, oldest first. Returns the next instant to wake at. */
  function advance(at: Instant): Instant | undefined {
    let next: Instant | undefined;
    const later = (t: Instant) => {
      if (t > at && (next === undefined || t < next)) next = t;
    };
    for (const o of state.obligations) {
      const p = periods.get(o.periodId);
      if (!p) continue;
      const milestones: Milestone[] = ['assignment', 'reminder', 'overdue', 'lead', 'office'];
      for (const m of milestones) {
        if (o.fired[m] !== undefined) continue;
        const due = milestoneAt(o, m);
        if (due > at) {
          later(due);
          continue;
        }
        o.fired[m] = due;
        const s = obligationState(o, at);
        const done = s === 'submitted' || s === 'late' || s === 'waived';
        const round = currentRound(o, at);
        const base = `${m}:${o.periodId}:${o.unitId}:r${round}:${o.dueAt}`;
        if (m === 'assignment') {
          notice('assignment', o.unitId, `assignment:${o.periodId}`, due, { ...periodFields(p, o), link: 'report' });
        } else if (done) {
          continue;
        } else if (m === 'reminder') {
          notice('reminder', o.unitId, base, due, { ...periodFields(p, o), link: 'report' });
        } else if (m === 'overdue') {
          notice('overdue', o.unitId, base, due, { ...periodFields(p, o), link: 'report' });
        } else if (m === 'lead') {
          for (const lead of input.leadUnits) {
            notice('escalation-lead', lead.id, base, due, { ...periodFields(p, o), aboutUnits: [unitRef(o.unitId)] });
          }
        } else {
          notice('escalation-office', input.office.id, base, due, {
            ...periodFields(p, o),
            aboutUnits: [unitRef(o.unitId)],
          });
        }
        statusDirty = true;
      }
    }

    const r = schedule.review;
    const fired = state.review.fired;
    const reviewEvents: [keyof typeof fired, Instant][] = [
      ['request', r.requestAt],
      ['reminder', r.summaryReminderAt],
      ['overdue', r.summaryDueAt],
      ['office', r.officeEscalationAt],
      ['ratingDue', r.ratingDueAt],
    ];
    for (const [event, due] of reviewEvents) {
      if (fired[event] !== undefined || state.review.rating) continue;
      if (due > at) {
        later(due);
        continue;
      }
      fired[event] = due;
      statusDirty = true;
      const missing = missingSummaries(state.review, leadIds, at);
      const reviewFields = { periodId: 'review', periodLabel: '年度总结', dueAt: r.summaryDueAt };
      if (event === 'request') {
        for (const lead of input.leadUnits) {
          notice('review-request', lead.id, 'review-request', due, { ...reviewFields, link: 'summary' });
        }
      } else if (event === 'reminder' || event === 'overdue') {
        for (const id of missing) {
          notice(event === 'reminder' ? 'review-reminder' : 'review-overdue', id, `review-${event}`, due, {
            ...reviewFields,
            link: 'summary',
          });
        }
      } else if (event === 'office') {
        if (missing.length > 0) {
          notice('review-escalation-office', input.office.id, 'review-office', due, {
            ...reviewFields,
            aboutUnits: missing.map(unitRef),
          });
        }
      } else {
        notice('rating-due', input.office.id, 'rating-due', due, { ...reviewFields, dueAt: r.ratingDueAt });
      }
    }
    return next;
  }

  /** The status projection's delta since the last save, or undefined when nothing changed. */
  function statusUpdate(): StatusUpdate | undefined {
    if (!statusDirty) return undefined;
    statusDirty = false;
    state.statusVersion += 1;
    const { timeline, obligations, ...summary } = buildStatus(now());
    const search = JSON.stringify([summary.phase, summary.overdueUnits.map((u) => u.name)]);
    if (search !== state.savedSearch) {
      upsertSearchAttributes([
        { key: SA.status, value: summary.phase },
        { key: SA.overdueUnits, value: summary.overdueUnits.map((u) => u.name) },
      ]);
      state.savedSearch = search;
    }
    setCurrentDetails(summary.waitingOn);
    // Only what changed travels, so history grows with events, not with units × events.
    const facts = new Map(state.obligations.map((o) => [`${o.unitId}|${o.periodId}`, o]));
    const withFacts = obligations.flatMap((o) => {
      const f = facts.get(`${o.unitId}|${o.periodId}`);
      return f ? [{ ...o, facts: f }] : [];
    });
    const current = new Map(withFacts.map((o) => [`${o.unitId}|${o.periodId}`, o]));
    const changed = withFacts.filter((o) => state.savedObligations[`${o.unitId}|${o.periodId}`] !== JSON.stringify(o));
    const removed = Object.keys(state.savedObligations).filter((k) => !current.has(k));
    return {
      summary,
      version: state.statusVersion,
      obligations: changed,
      removedObligations: removed.map((k) => {
        const [unitId = '', periodId = ''] = k.split('|');
        return { unitId, periodId };
      }),
      timelineFrom: state.savedTimeline,
      timeline: timeline.slice(state.savedTimeline),
    };
  }

  function statusSaved(update: StatusUpdate): void {
    state.savedTimeline = update.timelineFrom + update.timeline.length;
    for (const o of update.obligations) state.savedObligations[`${o.unitId}|${o.periodId}`] = JSON.stringify(o);
    for (const r of update.removedObligations) delete state.savedObligations[`${r.unitId}|${r.periodId}`];
  }

  async function flush(): Promise<void> {
    if (patched(PERSIST_IN_ONE_ACTIVITY)) {
      // One local activity per wake-up: reports, notices and the status projection together.
      const batch: PersistBatch = {};
      if (pendingReports.length > 0) batch.reports = pendingReports.splice(0);
      if (pendingNotices.length > 0) batch.notices = pendingNotices.splice(0);
      const status = statusUpdate();
      if (status) batch.status = status;
      if (!batch.reports && !batch.notices && !batch.status) return;
      await persist(batch);
      stored(batch.reports);
      if (status) statusSaved(status);
      return;
    }
    // Histories recorded before the patch: up to three activities per wake-up, in this order.
    // Reports first: once a unit is told "received", its text must reach PostgreSQL before anything else.
    if (pendingReports.length > 0) {
      const reports = pendingReports.splice(0);
      await saveReports(reports);
      stored(reports);
    }
    if (pendingNotices.length > 0) await notify(pendingNotices.splice(0));
    const status = statusUpdate();
    if (status) {
      await saveStatus(status);
      statusSaved(status);
    }
  }

  // ── Main loop ──────────────────────────────────────────────────────────────────────────────────

  upsertSearchAttributes([{ key: SA.leadUnits, value: input.leadUnits.map((u) => u.name) }]);
  while (!state.review.rating) {
    dirty = false;
    const next = advance(now());
    await flush();
    if (state.review.rating) break;
    const info = workflowInfo();
    if (
      info.historyLength > (input.continueAsNewAfterEvents ?? HISTORY_EVENTS_LIMIT) ||
      info.historySize > HISTORY_BYTES_LIMIT ||
      info.continueAsNewSuggested
    ) {
      // A receipt waits for its report to be stored, which only the loop does: wake for that too.
      await condition(() => allHandlersFinished() || pendingReports.length > 0);
      if (allHandlersFinished() && pendingReports.length === 0 && pendingNotices.length === 0) {
        await continueAsNew<typeof workPoint>({ ...input, resume: state });
      }
      continue;
    }
    if (dirty) continue;
    if (next === undefined) await condition(() => dirty);
    else await condition(() => dirty, Math.max(next - now(), 1));
  }
  await flush();
  // Handlers still waiting (receipts) finish once what they wait for is stored.
  for (;;) {
    await condition(() => allHandlersFinished() || pendingReports.length > 0);
    await flush();
    if (allHandlersFinished() && pendingReports.length === 0) break;
  }
  return buildResult();

  function buildResult(): WorkPointResult {
    const rating = state.review.rating;
    if (!rating) throw new Error('unreachable: result before rating');
    const at = rating.at;
    const outcomes: UnitOutcome[] = state.obligations.map((o) => {
      const sub = currentSubmission(o, at);
      const fired = o.fired;
      return {
        unitId: o.unitId,
        unitName: unitRef(o.unitId).name,
        periodId: o.periodId,
        outcome: o.waived ? 'waived' : sub ? (sub.late ? 'late' : 'on-time') : 'missing',
        escalation:
          fired.office !== undefined && wasOpenAt(o, fired.office)
            ? 'office'
            : fired.lead !== undefined && wasOpenAt(o, fired.lead)
              ? 'lead'
              : fired.overdue !== undefined && wasOpenAt(o, fired.overdue)
                ? 'overdue'
                : 'none',
      };
    });
    const escalations = { lead: 0, office: 0 };
    for (const e of state.timeline) {
      if (e.kind !== 'notice') continue;
      if (e.detail === 'escalation-lead') escalations.lead += 1;
      if (e.detail === 'escalation-office') escalations.office += 1;
    }
    return {
      workflowId,
      number: input.number,
      title: input.title,
      rating: rating.rating,
      comment: rating.comment,
      ratedBy: rating.by,
      ratedAt: rating.at,
      summaries: state.review.summaries,
      outcomes,
      escalations,
    };
  }

  function wasOpenAt(o: Obligation, at: Instant): boolean {
    const s = obligationState(o, at);
    return s !== 'submitted' && s !== 'late' && s !== 'waived';
  }
}

function newObligation(unitId: string, p: PeriodSchedule): Obligation {
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

function initialState(input: WorkPointInput): WorkPointState {
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
