/**
 * What the reply page and the office send a work point (signal and Update payloads) and what a submission gets
 * back: the message half of the model (domain/model.ts holds inputs, state, status and results).
 */
import type { AttachmentRef, Instant, ReviewRating, UnitRef } from './model';

// ─── Signals ─────────────────────────────────────────────────────────────────────────────────────

export interface ReportSignal {
  unitId: string;
  periodId: string;
  submissionId: string;
  text: string;
  attachments?: AttachmentRef[];
  /** When the API received it; lateness is judged on this, not on when a worker processed it. */
  submittedAt: Instant;
}
export interface SummarySignal {
  unitId: string;
  submissionId: string;
  text: string;
  selfAssessment: ReviewRating;
  attachments?: AttachmentRef[];
  submittedAt: Instant;
}
export interface AcknowledgeSignal {
  unitId: string;
  at: Instant;
}
export interface RequestExtensionSignal {
  unitId: string;
  periodId: string;
  requestId: string;
  reason: string;
  wantedDueAt: Instant;
  at: Instant;
}
export interface DecideExtensionSignal {
  unitId: string;
  periodId: string;
  approved: boolean;
  comment?: string;
  /** Defaults to the requested date. */
  newDueAt?: Instant;
  by: string;
}
export interface ExtendDeadlineSignal {
  /** All assigned units when omitted. */
  unitIds?: string[];
  periodId: string;
  newDueAt: Instant;
  reason: string;
  by: string;
}
export interface WaiveSignal {
  unitId: string;
  /** All periods when omitted. */
  periodId?: string;
  reason: string;
  by: string;
}
export interface ReassignSignal {
  fromUnitId: string;
  to: UnitRef;
  reason: string;
  by: string;
}
export interface AddUnitSignal {
  unit: UnitRef;
  reason: string;
  by: string;
}
export interface RemoveUnitSignal {
  unitId: string;
  reason: string;
  by: string;
}
export interface ReturnReportSignal {
  unitId: string;
  periodId: string;
  reason: string;
  by: string;
  /** Rework due date; defaults to the later of the period's due date and now + the reminder lead time. */
  newDueAt?: Instant;
}
export interface RemindNowSignal {
  requestId: string;
  unitIds?: string[];
  periodId?: string;
  by: string;
}
export interface RateReviewSignal {
  rating: ReviewRating;
  comment: string;
  by: string;
}

// ─── Updates: the workflow's verdict in the same request ─────────────────────────────────────────

/**
 * What a unit's report or summary gets when the workflow accepted it and the report is stored in PostgreSQL: the
 * reply page says 已收到 only with this in hand. A refusal is an ApplicationFailure whose `type` is a
 * `SubmissionRefusal` and whose message says why in Chinese.
 */
export interface SubmissionReceipt {
  submissionId: string;
  /** When the workflow accepted it (the first time, for a repeated form). */
  receivedAt: Instant;
  late: boolean;
  /** The same form again (double click, retry): counted once. */
  repeated: boolean;
}

export const SUBMISSION_REFUSALS = [
  'not-assigned', // 单位未承担该时段的报送任务
  'removed', // 单位已不在承办名单中
  'waived', // 已免报
  'closed', // 已评定 / 已办结
  'already-reported', // 本期已截止且已报送
  'not-lead', // 只有牵头单位提交年度总结
] as const;
export type SubmissionRefusal = (typeof SUBMISSION_REFUSALS)[number];
