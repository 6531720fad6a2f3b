import { currentRound, currentSubmission } from '../light';
import type { Instant, ReportRecord } from '../model';
import type {
  AcknowledgeSignal,
  ReportSignal,
  RequestExtensionSignal,
  SubmissionRefusal,
  SummarySignal,
} from '../messages';
import { notice, obligationOf, periodFields, record, reject, unitRef, type WorkPoint } from './context';

/**
 * What units send: reports, year-end summaries, acknowledgements and extension requests. Reports and summaries have
 * one verdict for the signal of older clients and for the Update the reply page sends, whose validator refuses
 * before anything is recorded.
 */

export type Verdict = { refusal: SubmissionRefusal; message: string } | { repeat: true } | undefined;

export function judgeReport(wp: WorkPoint, r: ReportSignal, asUpdate: boolean, now: Instant): Verdict {
  const { state } = wp;
  if (state.seenSubmissionIds.includes(r.submissionId)) return { repeat: true }; // a double click or retry
  if (asUpdate && state.review.rating) return { refusal: 'closed', message: '本要点已评定办结，不再接收报告' };
  const o = obligationOf(wp, r.unitId, r.periodId);
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
  if (r.submittedAt > o.dueAt && currentSubmission(o, now)) {
    return { refusal: 'already-reported', message: '本期已截止且已报送，不能更正 / closed, already reported' };
  }
  return undefined;
}

function reportRecord(wp: WorkPoint, fields: Omit<ReportRecord, 'workflowId' | 'cycleYear' | 'workPoint'>) {
  return { workflowId: wp.workflowId, cycleYear: wp.input.cycleYear, workPoint: wp.input.number, ...fields };
}

export function acceptReport(wp: WorkPoint, r: ReportSignal, now: Instant): void {
  const o = obligationOf(wp, r.unitId, r.periodId);
  if (!o) return;
  wp.state.seenSubmissionIds.push(r.submissionId);
  const late = r.submittedAt > o.dueAt;
  o.submissions.push({
    submissionId: r.submissionId,
    submittedAt: r.submittedAt,
    receivedAt: now,
    late,
    round: currentRound(o, now),
    attachments: r.attachments?.length ?? 0,
  });
  wp.out.reports.push(
    reportRecord(wp, {
      submissionId: r.submissionId,
      unitId: r.unitId,
      periodId: r.periodId,
      kind: 'report',
      text: r.text,
      attachments: r.attachments ?? [],
      late,
      submittedAt: r.submittedAt,
    }),
  );
  record(wp, now, { kind: 'report', unitId: r.unitId, periodId: r.periodId, detail: late ? 'late' : 'on-time' });
}

export function judgeSummary(wp: WorkPoint, s: SummarySignal): Verdict {
  if (wp.state.seenSubmissionIds.includes(s.submissionId)) return { repeat: true };
  if (!wp.leadIds.includes(s.unitId)) {
    return { refusal: 'not-lead', message: '只有牵头单位提交年度总结 / only lead units submit the summary' };
  }
  if (wp.state.review.rating) return { refusal: 'closed', message: '已评定，不再接收年度总结 / already rated' };
  return undefined;
}

export function acceptSummary(wp: WorkPoint, s: SummarySignal, now: Instant): void {
  wp.state.seenSubmissionIds.push(s.submissionId);
  const late = s.submittedAt > wp.input.schedule.review.summaryDueAt;
  wp.state.review.summaries[s.unitId] = {
    submissionId: s.submissionId,
    selfAssessment: s.selfAssessment,
    submittedAt: s.submittedAt,
    late,
  };
  wp.out.reports.push(
    reportRecord(wp, {
      submissionId: s.submissionId,
      unitId: s.unitId,
      periodId: 'review',
      kind: 'summary',
      text: s.text,
      attachments: s.attachments ?? [],
      selfAssessment: s.selfAssessment,
      late,
      submittedAt: s.submittedAt,
    }),
  );
  record(wp, now, { kind: 'summary', unitId: s.unitId, detail: s.selfAssessment });
}

/** The receipt's facts for a submission this workflow accepted (now or earlier). */
export function receiptOf(wp: WorkPoint, submissionId: string, unitId: string, repeated: boolean, now: Instant) {
  const { state } = wp;
  const sub =
    state.obligations.flatMap((o) => o.submissions).find((x) => x.submissionId === submissionId) ??
    (state.review.summaries[unitId]?.submissionId === submissionId
      ? { receivedAt: undefined, ...state.review.summaries[unitId] }
      : undefined);
  return {
    submissionId,
    receivedAt: sub?.receivedAt ?? sub?.submittedAt ?? now,
    late: sub?.late ?? false,
    repeated,
  };
}

export function acknowledge(wp: WorkPoint, a: AcknowledgeSignal, now: Instant): void {
  const mine = wp.state.obligations.filter((o) => o.unitId === a.unitId);
  if (mine.length === 0) return reject(wp, now, a.unitId, '单位未承担该要点 / not assigned');
  if (mine.every((o) => o.acknowledgedAt !== undefined)) return; // only the first opening counts
  for (const o of mine) o.acknowledgedAt ??= a.at;
  record(wp, now, { kind: 'acknowledged', unitId: a.unitId, detail: '签收' });
}

export function requestExtension(wp: WorkPoint, r: RequestExtensionSignal, now: Instant): void {
  const o = obligationOf(wp, r.unitId, r.periodId);
  if (!o) {
    return reject(wp, now, r.unitId, `单位未承担该时段的报送任务 / not assigned for period ${r.periodId}`, r.periodId);
  }
  if (o.extension?.requestId === r.requestId) return;
  if (o.extension?.status === 'pending') {
    return reject(wp, now, r.unitId, '已有待审批的延期申请 / a request is pending', r.periodId);
  }
  o.extension = {
    requestId: r.requestId,
    reason: r.reason,
    wantedDueAt: r.wantedDueAt,
    requestedAt: r.at,
    status: 'pending',
  };
  record(wp, now, { kind: 'extension-requested', unitId: r.unitId, periodId: r.periodId, detail: r.reason });
  const p = wp.periods.get(r.periodId);
  if (p) {
    notice(
      wp,
      'extension-request',
      wp.input.office.id,
      `extension-request:${r.periodId}:${r.unitId}:${r.requestId}`,
      now,
      {
        ...periodFields(p, o),
        aboutUnits: [unitRef(wp, r.unitId)],
        reason: r.reason,
      },
    );
  }
}
