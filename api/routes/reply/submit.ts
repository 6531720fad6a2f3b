import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { LinkKeys } from '../../../common/links';
import {
  deleteAttachments,
  getReceipt,
  pruneAttachments,
  saveAttachments,
  saveReceipt,
} from '../../../db/replies-repo';
import { type AttachmentRef, type ReviewRating } from '../../../domain/model';
import { SUBMISSION_REFUSALS, type SubmissionRefusal } from '../../../domain/messages';
import { submitReportUpdate, submitSummaryUpdate } from '../../../workflows/shared';
import { executeUpdate } from '../../workflow-update';
import { withContext, type Context } from './context';
import { FormSchema, readForm } from './form';
import type { ReplyLookups } from './lookups';
import { confirmation, renderReplyPage } from './page';
import { sendPage } from './respond';

/**
 * POST /r/:token: a unit submits its report or year-end summary. The workflow judges it (an Update); the page says
 * 已收到 with a receipt number only once the workflow accepted it and it is stored.
 */

/** The id the workflow and the database know a submission by: the form's id within its link's scope. */
export function scopedSubmissionId(
  scope: { year: number; workPoint: number; unitId: string; purpose: string; periodId: string },
  formId: string,
): string {
  return createHash('sha256')
    .update(JSON.stringify([scope.year, scope.workPoint, scope.unitId, scope.purpose, scope.periodId, formId]))
    .digest('hex')
    .slice(0, 32);
}

const receiptNumber = (ctx: Context, submissionId: string): string =>
  `${ctx.claims.y}-${String(ctx.claims.wp).padStart(2, '0')}-${submissionId.slice(0, 10).toUpperCase()}`;

/** The workflow's refusal of a submission, with its reason in Chinese (the page shows the Chinese half). */
function submissionRefusal(code: string, message: string): { type: SubmissionRefusal; message: string } | undefined {
  const type = SUBMISSION_REFUSALS.find((t) => t === code);
  if (!type) return undefined;
  return { type, message: `报告未被接收：${message.split(' / ')[0] ?? message}。如有疑问请联系园区依法治区办。` };
}

export default async function replySubmit(
  app: FastifyInstance,
  opts: {
    keys: LinkKeys;
    lookups: ReplyLookups;
    /** How long the page waits for the workflow's verdict (and the report stored) before it says "not confirmed". */
    submitTimeoutMs: number;
  },
): Promise<void> {
  const postOptions = { schema: { hide: true }, config: { rateLimit: app.replyRateLimit } };
  app.post<{ Params: { token: string } }>('/r/:token', postOptions, async (request, reply) => {
    const ctx = await withContext(app, opts.lookups, opts.keys, request, reply);
    if (!ctx) return reply;
    const received = await readForm(request);

    const again = async (status: number, error: string) => {
      const { title, body } = await renderReplyPage(app, ctx, {
        submissionId:
          received.fields.submissionId && /^[A-Za-z0-9-]{8,64}$/.test(received.fields.submissionId)
            ? received.fields.submissionId
            : randomUUID(),
        text: received.fields.text ?? '',
        selfAssessment: received.fields.selfAssessment,
        error,
      });
      return sendPage(reply, status, title, body);
    };

    if (received.badForm)
      return again(400, '表单数据不完整或格式不正确（可能是网络中断），报告未被接收。请检查下方内容后重新提交。');
    if (received.fileError)
      return again(
        received.fileError.startsWith('文件过大') ? 413 : 422,
        `${received.fileError}。报告内容已保留，请重新选择文件后提交。`,
      );
    const parsed = FormSchema.safeParse(received.fields);
    if (!parsed.success) return again(422, parsed.error.issues.map((i) => i.message).join('；'));
    const form = parsed.data;
    const isSummary = ctx.claims.p === 'summary';
    if (isSummary && !form.selfAssessment) return again(422, '请选择自评结果');

    // The form's id is the client's; the workflow and the database see it scoped to this link (unit, work point,
    // purpose, period), so another unit's id can neither fetch this unit's receipt nor swallow its report.
    const submissionId = scopedSubmissionId(
      {
        year: ctx.claims.y,
        workPoint: ctx.claims.wp,
        unitId: ctx.unit.id,
        purpose: ctx.claims.p,
        periodId: ctx.periodId,
      },
      form.submissionId,
    );
    const scope = { year: ctx.claims.y, workPoint: ctx.claims.wp, unitId: ctx.unit.id, period: ctx.periodId };
    // A double click or a retry of the same form lands once: the receipt is the proof.
    const existing = await getReceipt(app.db, submissionId, scope);
    if (existing)
      return sendPage(reply, 200, '已收到', confirmation(ctx, existing.receiptNo, existing.acceptedAt, true));

    const submittedAt = Date.now();
    const refs: AttachmentRef[] = received.files.map((f) => ({
      id: f.id,
      name: f.name,
      size: f.data.length,
      sha256: f.sha256,
      contentType: f.contentType,
    }));
    await saveAttachments(app.db, submissionId, received.files);
    // The workflow judges (an Update: its validator refuses before anything is recorded) and answers once the report
    // is stored in PostgreSQL; only then does the page say 已收到.
    const deadline = Date.now() + opts.submitTimeoutMs;
    const sent = isSummary
      ? await executeUpdate(
          app.temporal,
          ctx.workflowId,
          submitSummaryUpdate,
          {
            unitId: ctx.unit.id,
            submissionId,
            text: form.text,
            selfAssessment: form.selfAssessment as ReviewRating,
            attachments: refs,
            submittedAt,
          },
          { deadline, log: request.log },
        )
      : await executeUpdate(
          app.temporal,
          ctx.workflowId,
          submitReportUpdate,
          {
            unitId: ctx.unit.id,
            periodId: ctx.periodId,
            submissionId,
            text: form.text,
            attachments: refs,
            submittedAt,
          },
          { deadline, log: request.log },
        );
    const refusal = sent.outcome === 'refused' ? submissionRefusal(sent.code, sent.message) : undefined;
    if (refusal) {
      await deleteAttachments(app.db, submissionId);
      request.log.info({ workflowId: ctx.workflowId, unit: ctx.unit.id, refusal: refusal.type }, 'report refused');
      return again(refusal.type === 'not-assigned' || refusal.type === 'removed' ? 403 : 409, refusal.message);
    }
    if (sent.outcome === 'not-found') {
      await deleteAttachments(app.db, submissionId);
      return again(409, '该要点的督办流程已结束或不存在，报告未被接收；请联系园区依法治区办');
    }
    if (sent.outcome !== 'accepted') {
      // Outcome unknown (Temporal or the worker unreachable, or no answer in time): nothing is promised. The files
      // stay aside, so that if the workflow does take this submission later its files are there; a retry of the same
      // form is counted once, and its receipt prunes the files of the attempt that was not taken.
      request.log.error(
        { err: 'error' in sent ? sent.error : undefined, outcome: sent.outcome, workflowId: ctx.workflowId },
        'report not confirmed by the workflow',
      );
      return again(
        503,
        '系统暂时无法确认收到你的报告（督办服务繁忙或不可用）。未显示回执号即表示尚未收到：你填写的内容已保留在下方，请稍后再点“提交”（重复提交只计一次）。',
      );
    }
    const { repeated } = sent.result;
    await pruneAttachments(app.db, submissionId);
    const receipt = await saveReceipt(app.db, {
      submissionId,
      receiptNo: receiptNumber(ctx, submissionId),
      year: ctx.claims.y,
      workPoint: ctx.claims.wp,
      unitId: ctx.unit.id,
      period: ctx.periodId,
      kind: isSummary ? 'summary' : 'report',
    });
    return sendPage(reply, 200, '已收到', confirmation(ctx, receipt.receiptNo, receipt.acceptedAt, repeated));
  });
}
