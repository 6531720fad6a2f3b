/**
 * The supervision model every process shares: a cycle's inputs, a unit's obligations and reports, a
 * work point's state, status and result, the notices it asks for. Types and constants only, no I/O:
 * the workflows, activities, services and API all speak in these terms.
 */
import type { Light } from './light';

// ─── Inputs ──────────────────────────────────────────────────────────────────────────────────────

/** Instants are epoch milliseconds: plain numbers compare cheaply and survive JSON unchanged. */
export type Instant = number;

export interface UnitRef {
  id: string;
  name: string;
}

export interface PeriodSchedule {
  id: string;
  label: string;
  opensAt: Instant;
  dueAt: Instant;
  reminderAt: Instant;
  overdueNoticeAt: Instant;
  leadEscalationAt: Instant;
  officeEscalationAt: Instant;
}

export interface ReviewSchedule {
  requestAt: Instant;
  summaryReminderAt: Instant;
  summaryDueAt: Instant;
  officeEscalationAt: Instant;
  ratingDueAt: Instant;
}

export interface CycleSchedule {
  periods: PeriodSchedule[];
  review: ReviewSchedule;
}

export interface WorkPointInput {
  cycleYear: number;
  planId: number;
  number: number;
  section: string;
  title: string;
  leadUnits: UnitRef[];
  responsibleUnits: UnitRef[];
  office: UnitRef;
  schedule: CycleSchedule;
  /** Continue as new after this many history events (default 8,000; Temporal warns at 10,240). */
  continueAsNewAfterEvents?: number;
  /** Carried across continue-as-new; absent on the first run. */
  resume?: WorkPointState;
  /**
   * The cycle that started this work point from an activity: the final result is signalled to it. Absent for the
   * children of cycles started before that, which return their result to the parent.
   */
  cycleWorkflowId?: string;
}

export interface CycleInput {
  year: number;
  planId: number;
  /** Raw cycle options (see domain/schedule.ts); validated by the prepareCycle activity. */
  options?: unknown;
  startedBy?: string;
}

// ─── State ───────────────────────────────────────────────────────────────────────────────────────

export const OBLIGATION_STATES = [
  'pending',
  'acknowledged',
  'submitted',
  'late',
  'overdue',
  'escalated-lead',
  'escalated-office',
  'waived',
  'returned',
] as const;
export type ObligationState = (typeof OBLIGATION_STATES)[number];

export type Milestone = 'assignment' | 'reminder' | 'overdue' | 'lead' | 'office';

export interface Submission {
  submissionId: string;
  submittedAt: Instant;
  receivedAt: Instant;
  late: boolean;
  /** Rework round the submission belongs to (0 = first; +1 after each return). */
  round: number;
  attachments: number;
}

export interface ExtensionRequest {
  requestId: string;
  reason: string;
  wantedDueAt: Instant;
  requestedAt: Instant;
  status: 'pending' | 'approved' | 'rejected';
  decidedAt?: Instant;
  comment?: string;
}

/** One unit's duty to report for one period. Its state is derived from these facts (see obligationState). */
export interface Obligation {
  unitId: string;
  periodId: string;
  dueAt: Instant;
  reminderAt: Instant;
  overdueNoticeAt: Instant;
  leadEscalationAt: Instant;
  officeEscalationAt: Instant;
  /** Milestones already handled in the current round, with the instant they were scheduled for. */
  fired: Partial<Record<Milestone, Instant>>;
  acknowledgedAt?: Instant;
  submissions: Submission[];
  waived?: { reason: string; by: string; at: Instant };
  /** Each return sends the report back for rework and starts a new round. */
  returns: { reason: string; by: string; at: Instant }[];
  extension?: ExtensionRequest;
}

export type ReviewRating = '完成' | '基本完成' | '未完成';
export const REVIEW_RATINGS: readonly ReviewRating[] = ['完成', '基本完成', '未完成'];

export interface ReviewState {
  fired: Partial<Record<'request' | 'reminder' | 'overdue' | 'office' | 'ratingDue', Instant>>;
  summaries: Record<
    string,
    { submissionId: string; selfAssessment: ReviewRating; submittedAt: Instant; late: boolean }
  >;
  rating?: { rating: ReviewRating; comment: string; by: string; at: Instant };
}

export type TimelineKind =
  | 'notice'
  | 'report'
  | 'acknowledged'
  | 'extension-requested'
  | 'extension-decided'
  | 'deadline-extended'
  | 'waived'
  | 'returned'
  | 'unit-added'
  | 'unit-removed'
  | 'reassigned'
  | 'summary'
  | 'rated'
  | 'rejected';

export interface TimelineEntry {
  at: Instant;
  kind: TimelineKind;
  unitId?: string;
  periodId?: string;
  /** For notices: the notice kind; otherwise a short description. */
  detail: string;
}

export interface WorkPointState {
  units: UnitRef[];
  obligations: Obligation[];
  review: ReviewState;
  timeline: TimelineEntry[];
  seenSubmissionIds: string[];
  statusVersion: number;
  /** How many timeline entries the status projection already holds. */
  savedTimeline: number;
  /** The obligation statuses last sent to the projection ("unit|period" → JSON), to send only changes. */
  savedObligations: Record<string, string>;
  /** Search attribute values last upserted, to upsert only on change. */
  savedSearch?: string;
}

// ─── Notices (outbox) ────────────────────────────────────────────────────────────────────────────

export const NOTICE_KINDS = [
  'assignment', // 交办
  'reminder', // 提醒
  'overdue', // 催办
  'escalation-lead', // 督办
  'escalation-office', // 通报
  'returned', // 退回
  'extension-request', // 延期申请 (to the office)
  'extension-decision', // 延期审批结果 (to the unit)
  'deadline-extended', // 延期
  'review-request', // 年终述职
  'review-reminder',
  'review-overdue',
  'review-escalation-office',
  'rating-due',
] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/** Purpose of the reply link a notice carries (scopes the signed token). */
export type LinkPurpose = 'report' | 'summary' | 'acknowledge' | 'none';

export interface NoticeRequest {
  /** Stable idempotency key: workflow ID + event. The outbox has a unique index on it. */
  key: string;
  workflowId: string;
  cycleYear: number;
  workPoint: number;
  workPointTitle: string;
  /** Recipient. */
  unitId: string;
  kind: NoticeKind;
  periodId?: string;
  periodLabel?: string;
  dueAt?: Instant;
  /** The instant the event was scheduled for (not when the worker got to it). */
  scheduledFor: Instant;
  /** Units named in an escalation, or the unit a notice is about. */
  aboutUnits?: UnitRef[];
  reason?: string;
  link: LinkPurpose;
}

export interface ReportRecord {
  submissionId: string;
  workflowId: string;
  cycleYear: number;
  workPoint: number;
  unitId: string;
  periodId: string;
  kind: 'report' | 'summary';
  text: string;
  attachments: AttachmentRef[];
  selfAssessment?: ReviewRating;
  late: boolean;
  submittedAt: Instant;
}

export interface AttachmentRef {
  id: string;
  name: string;
  size: number;
  sha256: string;
  contentType: string;
}

// ─── Queries and results ─────────────────────────────────────────────────────────────────────────

export interface ObligationStatus {
  unitId: string;
  unitName: string;
  periodId: string;
  state: ObligationState;
  dueAt: Instant;
  acknowledgedAt?: Instant;
  lastSubmittedAt?: Instant;
  submissions: number;
  extension?: ExtensionRequest;
}

export type WorkPointPhase = 'open' | 'overdue' | 'escalated' | 'review' | 'closed';

export interface WorkPointStatus {
  workflowId: string;
  cycleYear: number;
  number: number;
  title: string;
  phase: WorkPointPhase;
  light: Light;
  asOf: Instant;
  leadUnits: UnitRef[];
  units: UnitRef[];
  obligations: ObligationStatus[];
  overdueUnits: UnitRef[];
  review: ReviewState & { requested: boolean };
  timeline: TimelineEntry[];
  waitingOn: string;
}

/**
 * What the status projection in PostgreSQL receives: the summary, and only what changed since the
 * last update (obligations, new timeline entries), so history grows with events, not with size × events.
 */
export interface StatusUpdate {
  summary: Omit<WorkPointStatus, 'timeline' | 'obligations'>;
  version: number;
  /** Changed obligations with the facts behind their state, so the API can recompute "as of" any instant. */
  obligations: (ObligationStatus & { facts: Obligation })[];
  removedObligations: { unitId: string; periodId: string }[];
  timelineFrom: number;
  timeline: TimelineEntry[];
}

/** What one wake-up of a work point records, in one `persist` activity: reports, then notices, then status. */
export interface PersistBatch {
  reports?: ReportRecord[];
  notices?: NoticeRequest[];
  status?: StatusUpdate;
}

export interface UnitOutcome {
  unitId: string;
  unitName: string;
  periodId: string;
  outcome: 'on-time' | 'late' | 'missing' | 'waived';
  escalation: 'none' | 'overdue' | 'lead' | 'office';
}

export interface WorkPointResult {
  workflowId: string;
  number: number;
  title: string;
  rating: ReviewRating;
  comment: string;
  ratedBy: string;
  ratedAt: Instant;
  summaries: ReviewState['summaries'];
  outcomes: UnitOutcome[];
  escalations: { lead: number; office: number };
}

export interface CycleResult {
  year: number;
  planId: number;
  workPoints: WorkPointResult[];
  completedAt: Instant;
}

export interface CycleProgress {
  year: number;
  started: number;
  closed: number;
  workPoints: { number: number; workflowId: string; closed: boolean }[];
}
