import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import formbody from '@fastify/formbody';
import { z } from 'zod';
import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { LinkError, parseLinkKeys, verifyLink, type LinkClaims } from '../../common/links';
import { isDrillOptions } from '../../db/cycles-repo';
import { chinaCalendar, CalendarMissingError, workdaysBetween } from '../../domain/calendar';
import { shanghaiDate, toShanghaiIso } from '../../domain/schedule';
import { cycleScheduleFor } from '../../services/cycle-preparation';
import {
  deleteAttachments,
  getAssignment,
  getAttachment,
  getCycle,
  getObligation,
  getReceipt,
  getUnit,
  getWorkPoint,
  listSent,
  pruneAttachments,
  saveAttachments,
  saveReceipt,
  type NewAttachment,
} from '../../db/replies-repo';
import {
  REVIEW_RATINGS,
  SUBMISSION_REFUSALS,
  type AttachmentRef,
  type ReviewRating,
  type SubmissionRefusal,
} from '../../domain/model';
import {
  acknowledgeSignal,
  submitReportUpdate,
  submitSummaryUpdate,
  workPointWorkflowId,
} from '../../workflows/shared';
import { html, page, raw, type Raw } from '../views/html';

/**
 * The reply page (报送页面) a unit opens from the link in a notice: no account, zh-CN, works on a
 * phone and without JavaScript. The token decides everything (cycle, work point, unit, purpose,
 * period); the form carries no unit, so a token of unit A can never act for unit B.
 */

export const REPORT_TEXT_MAX = 5000;
export const FILE_MAX_BYTES = 10 * 1024 * 1024;
export const FILES_MAX = 5;
/** All files of one form together: what one upload may hold in memory. */
export const FILES_TOTAL_MAX_BYTES = 20 * 1024 * 1024;
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

const UPDATE_ATTEMPTS = 5;

/** The server's "rejected because it wasn't processed by worker": an update the workflow never saw. */
function notProcessed(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    refusalOf(err) === undefined &&
    /wasn't processed by worker/.test(err.cause?.message ?? '')
  );
}

/** The workflow's refusal (validator or handler), with its reason in Chinese; undefined for any other failure. */
function refusalOf(err: unknown): { type: SubmissionRefusal; message: string } | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const type = SUBMISSION_REFUSALS.find((t) => t === cause.type);
  if (!type) return undefined;
  // The workflow's messages are "中文 / English"; the page shows the Chinese half.
  return {
    type,
    message: `报告未被接收：${cause.message.split(' / ')[0] ?? cause.message}。如有疑问请联系园区依法治区办。`,
  };
}

const FILE_TYPES: Record<string, { mime: string; magic: (b: Buffer) => boolean }> = {
  pdf: { mime: 'application/pdf', magic: (b) => b.subarray(0, 4).toString('latin1') === '%PDF' },
  png: { mime: 'image/png', magic: (b) => b.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])) },
  jpg: { mime: 'image/jpeg', magic: (b) => b.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) },
  jpeg: { mime: 'image/jpeg', magic: (b) => b.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) },
  gif: { mime: 'image/gif', magic: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
  webp: { mime: 'image/webp', magic: (b) => b.subarray(8, 12).toString('latin1') === 'WEBP' },
  doc: { mime: 'application/msword', magic: isOle },
  xls: { mime: 'application/vnd.ms-excel', magic: isOle },
  ppt: { mime: 'application/vnd.ms-powerpoint', magic: isOle },
  docx: { mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', magic: isZip },
  xlsx: { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', magic: isZip },
  pptx: { mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', magic: isZip },
};
function isOle(b: Buffer): boolean {
  return b.subarray(0, 4).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0]));
}
function isZip(b: Buffer): boolean {
  return b.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
}

const FormSchema = z.object({
  submissionId: z.string().regex(/^[A-Za-z0-9-]{8,64}$/, '表单已失效，请重新打开链接'),
  text: z
    .string()
    .trim()
    .min(1, '请填写报告内容')
    .max(REPORT_TEXT_MAX, `报告内容不能超过 ${REPORT_TEXT_MAX} 字`)
    .refine((t) => !t.includes('\u0000'), '报告内容含有无法保存的空字符，请删除后重试'),
  selfAssessment: z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]).optional(),
});

interface Context {
  claims: LinkClaims;
  workflowId: string;
  periodId: string;
  periodLabel: string;
  dueAt: number;
  state: string | undefined;
  acknowledged: boolean;
  workPoint: { number: number; section: string | null; title: string; text: string };
  unit: { id: string; name: string };
  closed: boolean;
  /** A rehearsal (演练): the page says so. */
  drill: boolean;
}

class PageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly body: Raw,
  ) {
    super(title);
  }
}

const statusLabel: Record<string, string> = {
  pending: '待报送',
  acknowledged: '已签收',
  submitted: '已报送',
  late: '逾期报送',
  overdue: '已逾期',
  'escalated-lead': '已逾期（已督办）',
  'escalated-office': '已逾期（已通报）',
  waived: '已免报',
  returned: '已退回，请修改后重新报送',
};

function when(d: Date | number): string {
  const iso = toShanghaiIso(typeof d === 'number' ? d : d.getTime());
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

function remaining(dueAt: number, now: number): { text: string; tone: 'green' | 'yellow' | 'red' } {
  const today = shanghaiDate(now);
  const due = shanghaiDate(dueAt);
  let n: number;
  let unit = '个工作日';
  try {
    n = workdaysBetween(chinaCalendar, today, due);
  } catch (err) {
    if (!(err instanceof CalendarMissingError)) throw err;
    n = Math.round((Date.parse(`${due}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);
    unit = '天';
  }
  if (now > dueAt) return { text: `已逾期 ${Math.max(-n, 0) || 0} ${unit}`, tone: 'red' };
  if (n === 0) return { text: '今天截止', tone: 'yellow' };
  return { text: `还剩 ${n} ${unit}`, tone: n <= 3 ? 'yellow' : 'green' };
}

export default async function replyRoutes(
  app: FastifyInstance,
  opts: {
    linkSecret: string;
    /** How long the page waits for the workflow's verdict (and the report stored) before it says "not confirmed". */
    submitTimeoutMs: number;
  },
): Promise<void> {
  const keys = parseLinkKeys(opts.linkSecret);
  await app.register(formbody);
  await app.register(multipart, {
    limits: {
      fileSize: FILE_MAX_BYTES,
      files: FILES_MAX,
      fields: 10,
      parts: FILES_MAX + 10,
      fieldSize: REPORT_TEXT_MAX * 4,
      headerPairs: 50,
    },
  });

  const sendPage = (reply: FastifyReply, status: number, title: string, body: Raw) =>
    reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page(title, body));

  const invalidLink = () =>
    new PageError(
      403,
      '链接无效',
      html`<section>
        <h2>链接无效</h2>
        <p>该链接不完整或已被改动，无法使用。请从提醒消息中完整复制链接，或联系园区依法治区办。</p>
      </section>`,
    );

  async function loadContext(token: string): Promise<Context> {
    let claims: LinkClaims;
    try {
      claims = verifyLink(keys, token, Date.now());
    } catch (err) {
      if (err instanceof LinkError && err.reason === 'expired') {
        throw new PageError(
          410,
          '链接已过期',
          html`<section>
            <h2>链接已过期</h2>
            <p>为安全起见，报送链接有有效期。请联系园区依法治区办重新发送提醒，或等待下一次提醒邮件中的新链接。</p>
          </section>`,
        );
      }
      throw invalidLink();
    }
    const cycle = await getCycle(app.db, claims.y);
    const wp = cycle && (await getWorkPoint(app.db, cycle.planId, claims.wp));
    const unit = await getUnit(app.db, claims.u);
    if (!cycle || !wp || !unit) {
      throw new PageError(
        404,
        '未找到',
        html`<section>
          <h2>未找到该督办事项</h2>
          <p>请联系园区依法治区办核实。</p>
        </section>`,
      );
    }
    const schedule = cycleScheduleFor(cycle.year, cycle.options);
    const workflowId = workPointWorkflowId(cycle.year, claims.wp);
    if (claims.p === 'summary') {
      const assigned = await getAssignment(app.db, cycle.year, claims.wp);
      if (assigned && !assigned.leadUnits.includes(unit.id)) {
        throw new PageError(
          403,
          '无需报送',
          html`<section>
            <h2>你单位不是该要点的牵头单位</h2>
            <p>年度总结由牵头单位报送。</p>
          </section>`,
        );
      }
      return {
        claims,
        workflowId,
        periodId: 'review',
        periodLabel: '年度总结',
        dueAt: schedule.review.summaryDueAt,
        state: undefined,
        acknowledged: true,
        workPoint: wp,
        unit,
        closed: cycle.finishedAt !== null,
        drill: isDrillOptions(cycle.options),
      };
    }
    // A report link names its period, and the period must be one of this cycle's: a link is used for exactly what
    // it was signed for.
    const period = claims.p === 'report' ? schedule.periods.find((p) => p.id === claims.per) : undefined;
    if (!period) throw invalidLink();
    const periodId = period.id;
    const obligation = await getObligation(app.db, workflowId, unit.id, periodId);
    // Only a unit the status projection does not list yet needs its assignment checked.
    const assigned = obligation ? undefined : await getAssignment(app.db, cycle.year, claims.wp);
    if (assigned && !assigned.responsibleUnits.includes(unit.id)) {
      throw new PageError(
        403,
        '无需报送',
        html`<section>
          <h2>你单位不承担该要点的报送任务</h2>
          <p>第${wp.number}条「${wp.title}」。如有疑问请联系园区依法治区办。</p>
        </section>`,
      );
    }
    return {
      claims,
      workflowId,
      periodId,
      periodLabel: period.label,
      dueAt: obligation?.dueAt.getTime() ?? period.dueAt,
      state: obligation?.state,
      acknowledged: obligation?.acknowledgedAt != null,
      workPoint: wp,
      unit,
      closed: cycle.finishedAt !== null,
      drill: isDrillOptions(cycle.options),
    };
  }

  async function renderReplyPage(
    ctx: Context,
    form: { submissionId: string; text: string; selfAssessment?: string; error?: string },
  ): Promise<{ title: string; body: Raw }> {
    const now = Date.now();
    const sent = await listSent(app.db, {
      year: ctx.claims.y,
      workPoint: ctx.claims.wp,
      unitId: ctx.unit.id,
      period: ctx.periodId,
    });
    const due = remaining(ctx.dueAt, now);
    const isSummary = ctx.claims.p === 'summary';
    const alreadyIn = sent.stored.length + sent.pending.length > 0;
    const pastDue = now > ctx.dueAt;
    const locked = ctx.closed || ctx.state === 'waived' || (pastDue && alreadyIn && ctx.state !== 'returned');
    const wpText = ctx.workPoint.text;
    const body = html`${
        ctx.drill
          ? html`<section class="error">
              <h2>【演练】</h2>
              <p>这是演练周期：本页的报送仅用于熟悉流程，不计入正式督办。</p>
            </section>`
          : ''
      }
      <section>
        <div class="meta">${ctx.claims.y} 年法治政府建设工作要点 · 第${ctx.workPoint.section ?? ''}部分</div>
        <h2>第${ctx.workPoint.number}条 ${ctx.workPoint.title}</h2>
        <details>
          <summary>要点全文</summary>
          <p class="pre">${wpText}</p>
        </details>
      </section>
      <section>
        <table>
          <tr>
            <th>报送单位</th>
            <td>${ctx.unit.name}</td>
          </tr>
          <tr>
            <th>报送内容</th>
            <td>${isSummary ? '年度总结（含自评）' : `${ctx.periodLabel}进展报告`}</td>
          </tr>
          <tr>
            <th>截止时间</th>
            <td>${when(ctx.dueAt)}（北京时间） <span class="badge ${due.tone}">${due.text}</span></td>
          </tr>
          ${
            ctx.state
              ? html`<tr>
                  <th>当前状态</th>
                  <td>${statusLabel[ctx.state] ?? ctx.state}</td>
                </tr>`
              : ''
          }
        </table>
      </section>
      ${
        alreadyIn
          ? html`<section>
              <h2>已报送</h2>
              <table>
                <tr>
                  <th>时间</th>
                  <th>回执号</th>
                  <th>内容</th>
                </tr>
                ${sent.stored.map(
                  (r) =>
                    html`<tr>
                      <td>${when(r.submittedAt)}${r.late ? html` <span class="badge red">逾期</span>` : ''}</td>
                      <td>${r.receiptNo ?? '—'}</td>
                      <td class="pre">
                        ${r.selfAssessment ? `【自评：${r.selfAssessment}】` : ''}${r.text}${
                          r.attachments.length > 0
                            ? html`<br />${r.attachments.map((a) => html`<a href="/r/${tokenOf(ctx)}/files/${a.id}">${a.name}</a> `)}`
                            : ''
                        }
                      </td>
                    </tr>`,
                )}
                ${sent.pending.map(
                  (p) =>
                    html`<tr>
                      <td>${when(p.acceptedAt)}</td>
                      <td>${p.receiptNo}</td>
                      <td>已受理，正在入库</td>
                    </tr>`,
                )}
              </table>
              ${!locked ? html`<p class="hint">截止前可以重新提交以更正，之前的版本会保留。</p>` : ''}
            </section>`
          : ''
      }
      ${
        locked
          ? html`${
                form.error
                  ? html`<section class="error">
                      <p><strong>${form.error}</strong></p>
                      ${
                        form.text
                          ? html`<p class="meta">你提交的内容（未被接收，可复制保存）：</p>
                              <p class="pre">${form.text}</p>`
                          : ''
                      }
                    </section>`
                  : ''
              }
              <section>
                <h2>本项已不能再提交</h2>
                <p>
                  ${
                    ctx.closed
                      ? '本年度督办已办结。'
                      : ctx.state === 'waived'
                        ? '该报送已免报。'
                        : '本期已截止，且你单位已报送。'
                  }如需更正，请联系园区依法治区办。
                </p>
              </section>`
          : html`<section${form.error ? raw(' class="error"') : ''}>
        <h2>${isSummary ? '提交年度总结' : alreadyIn ? '更正报告' : '提交进展报告'}</h2>
        ${form.error ? html`<p><strong>${form.error}</strong></p>` : ''}
        <form method="post" enctype="multipart/form-data" accept-charset="utf-8">
          <input type="hidden" name="submissionId" value="${form.submissionId}">
          <label for="text">${isSummary ? '年度总结' : '进展情况'}</label>
          <textarea id="text" name="text" maxlength="${REPORT_TEXT_MAX}" required>${form.text}</textarea>
          <div class="hint">不超过 ${REPORT_TEXT_MAX} 字${pastDue && !isSummary ? '；已过截止时间，提交后将标记为逾期报送' : ''}</div>
          ${
            isSummary
              ? html`<label for="selfAssessment">自评</label
                  ><select id="selfAssessment" name="selfAssessment" required>
                    ${REVIEW_RATINGS.map((r) => html`<option${form.selfAssessment === r ? raw(' selected') : ''}>${r}</option>`)}
                  </select>`
              : ''
          }
          <label for="files">佐证材料（可选）</label>
          <input id="files" type="file" name="files" multiple accept=".pdf,.png,.jpg,.jpeg,.gif,.webp,.doc,.docx,.xls,.xlsx,.ppt,.pptx">
          <div class="hint">PDF、图片或 Office 文档，最多 ${FILES_MAX} 个，每个不超过 ${FILE_MAX_BYTES / 1024 / 1024} MB</div>
          <button type="submit">提交</button>
        </form></section>`
      }`;
    return { title: `第${ctx.workPoint.number}条 · ${ctx.unit.name}`, body };
  }

  // The token is needed again for attachment links on the page; keep it on the context per request.
  const tokens = new WeakMap<Context, string>();
  const tokenOf = (ctx: Context) => tokens.get(ctx) ?? '';

  async function withContext(
    request: FastifyRequest<{ Params: { token: string } }>,
    reply: FastifyReply,
  ): Promise<Context | undefined> {
    try {
      const ctx = await loadContext(request.params.token);
      tokens.set(ctx, request.params.token);
      return ctx;
    } catch (err) {
      if (err instanceof PageError) {
        await sendPage(reply, err.status, err.title, err.body);
        return undefined;
      }
      throw err;
    }
  }

  app.get<{ Params: { token: string } }>('/r/:token', { schema: { hide: true } }, async (request, reply) => {
    const ctx = await withContext(request, reply);
    if (!ctx) return reply;
    // The first opening of the link records receipt (签收); a Temporal outage must not block the page.
    if (!ctx.acknowledged && ctx.claims.p !== 'summary' && !ctx.closed) {
      try {
        await app.temporal.withDeadline(Date.now() + 2_000, () =>
          app.temporal.workflow
            .getHandle(ctx.workflowId)
            .signal(acknowledgeSignal, { unitId: ctx.unit.id, at: Date.now() }),
        );
      } catch (err) {
        request.log.warn(
          { err, workflowId: ctx.workflowId, unit: ctx.unit.id },
          'could not record 签收; it will be recorded on the next opening or report',
        );
      }
    }
    const { title, body } = await renderReplyPage(ctx, { submissionId: randomUUID(), text: '' });
    return sendPage(reply, 200, title, body);
  });

  app.get<{ Params: { token: string; id: string } }>(
    '/r/:token/files/:id',
    { schema: { hide: true } },
    async (request, reply) => {
      const ctx = await withContext(request, reply);
      if (!ctx) return reply;
      const file = await getAttachment(app.db, request.params.id);
      const sent = await listSent(app.db, {
        year: ctx.claims.y,
        workPoint: ctx.claims.wp,
        unitId: ctx.unit.id,
        period: ctx.periodId,
      });
      const mine = file && sent.stored.some((r) => r.submissionId === file.submissionId);
      if (!file || !mine) return sendPage(reply, 404, '未找到', html`<section><h2>未找到该文件</h2></section>`);
      return reply
        .type(file.contentType)
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`)
        .send(file.data);
    },
  );

  const postOptions = { schema: { hide: true }, config: { rateLimit: app.replyRateLimit } };
  app.post<{ Params: { token: string } }>('/r/:token', postOptions, async (request, reply) => {
    const ctx = await withContext(request, reply);
    if (!ctx) return reply;

    // Read the form: urlencoded (no files) or multipart (with evidence files).
    const fields: Record<string, string> = {};
    const files: NewAttachment[] = [];
    let fileError: string | undefined;
    let uploaded = 0;
    let badForm = false;
    if (request.isMultipart()) {
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            const data = await part.toBuffer();
            if (!part.filename || data.length === 0) continue;
            uploaded += data.length;
            if (uploaded > FILES_TOTAL_MAX_BYTES) {
              fileError = `文件过大：所有文件合计不超过 ${FILES_TOTAL_MAX_BYTES / 1024 / 1024} MB`;
              break;
            }
            const ext = part.filename.split('.').pop()?.toLowerCase() ?? '';
            const type = FILE_TYPES[ext];
            if (!type || !type.magic(data)) {
              fileError = `文件“${part.filename}”不是允许的类型（PDF、图片或 Office 文档）`;
              continue;
            }
            files.push({
              id: randomUUID(),
              name: part.filename,
              contentType: type.mime,
              sha256: createHash('sha256').update(data).digest('hex'),
              data,
            });
          } else if (typeof part.value === 'string') {
            fields[part.fieldname] = part.value;
          }
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'FST_REQ_FILE_TOO_LARGE')
          fileError = `文件过大：每个文件不超过 ${FILE_MAX_BYTES / 1024 / 1024} MB`;
        else if (code === 'FST_FILES_LIMIT') fileError = `文件过多：最多 ${FILES_MAX} 个`;
        else {
          // No boundary, a truncated body, too many parts: the form did not arrive whole.
          request.log.info({ err }, 'malformed multipart form');
          badForm = true;
        }
      }
    } else if (request.body && typeof request.body === 'object') {
      for (const [k, v] of Object.entries(request.body as Record<string, unknown>))
        if (typeof v === 'string') fields[k] = v;
    }

    const again = async (status: number, error: string) => {
      const { title, body } = await renderReplyPage(ctx, {
        submissionId:
          fields.submissionId && /^[A-Za-z0-9-]{8,64}$/.test(fields.submissionId) ? fields.submissionId : randomUUID(),
        text: fields.text ?? '',
        selfAssessment: fields.selfAssessment,
        error,
      });
      return sendPage(reply, status, title, body);
    };

    if (badForm)
      return again(400, '表单数据不完整或格式不正确（可能是网络中断），报告未被接收。请检查下方内容后重新提交。');
    if (fileError)
      return again(
        fileError.startsWith('文件过大') ? 413 : 422,
        `${fileError}。报告内容已保留，请重新选择文件后提交。`,
      );
    const parsed = FormSchema.safeParse(fields);
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
    const refs: AttachmentRef[] = files.map((f) => ({
      id: f.id,
      name: f.name,
      size: f.data.length,
      sha256: f.sha256,
      contentType: f.contentType,
    }));
    await saveAttachments(app.db, submissionId, files);
    // The workflow judges (an Update: its validator refuses before anything is recorded) and answers once the report
    // is stored in PostgreSQL; only then does the page say 已收到.
    let repeated = false;
    try {
      const handle = app.temporal.workflow.getHandle(ctx.workflowId);
      const deadline = Date.now() + opts.submitTimeoutMs;
      const send = () =>
        app.temporal.withDeadline(deadline, () =>
          isSummary
            ? handle.executeUpdate(submitSummaryUpdate, {
                args: [
                  {
                    unitId: ctx.unit.id,
                    submissionId,
                    text: form.text,
                    selfAssessment: form.selfAssessment as ReviewRating,
                    attachments: refs,
                    submittedAt,
                  },
                ],
              })
            : handle.executeUpdate(submitReportUpdate, {
                args: [
                  {
                    unitId: ctx.unit.id,
                    periodId: ctx.periodId,
                    submissionId,
                    text: form.text,
                    attachments: refs,
                    submittedAt,
                  },
                ],
              }),
        );
      for (let attempt = 1; ; attempt++) {
        try {
          repeated = (await send()).repeated;
          break;
        } catch (err) {
          // The server rejects an update that a workflow task carried but the worker completed the task without
          // (seen under concurrent updates to one workflow while its persist local activity holds the task open:
          // sdk-core 1.24 replaces a re-delivered task and drops its update messages — "Trying to send a new WFT
          // for a run which already has one" in the worker log). Neither validator nor handler ran, nothing was
          // recorded, so it is sent again while time remains.
          if (!notProcessed(err) || attempt >= UPDATE_ATTEMPTS || Date.now() > deadline - 1_000) throw err;
          request.log.warn(
            { workflowId: ctx.workflowId, attempt },
            'update not processed by the worker; sending again',
          );
        }
      }
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal) {
        await deleteAttachments(app.db, submissionId);
        request.log.info({ workflowId: ctx.workflowId, unit: ctx.unit.id, refusal: refusal.type }, 'report refused');
        return again(refusal.type === 'not-assigned' || refusal.type === 'removed' ? 403 : 409, refusal.message);
      }
      if (err instanceof WorkflowNotFoundError) {
        await deleteAttachments(app.db, submissionId);
        return again(409, '该要点的督办流程已结束或不存在，报告未被接收；请联系园区依法治区办');
      }
      // Outcome unknown (Temporal or the worker unreachable, or no answer in time): nothing is promised. The files
      // stay aside, so that if the workflow does take this submission later its files are there; a retry of the same
      // form is counted once, and its receipt prunes the files of the attempt that was not taken.
      request.log.error({ err, workflowId: ctx.workflowId }, 'report not confirmed by the workflow');
      return again(
        503,
        '系统暂时无法确认收到你的报告（督办服务繁忙或不可用）。未显示回执号即表示尚未收到：你填写的内容已保留在下方，请稍后再点“提交”（重复提交只计一次）。',
      );
    }
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

  function confirmation(ctx: Context, receiptNo: string, at: Date, repeated: boolean): Raw {
    return html`<section>
      <h2>已收到 ✓</h2>
      <p>
        ${ctx.unit.name}报送的第${ctx.workPoint.number}条「${ctx.workPoint.title}」${ctx.claims.p === 'summary' ? '年度总结' : `${ctx.periodLabel}进展报告`}已受理。
      </p>
      <p>回执号：<span class="receipt">${receiptNo}</span></p>
      <p class="meta">受理时间：${when(at)}（北京时间）${repeated ? ' · 重复提交只计一次' : ''}</p>
      <p><a href="/r/${tokenOf(ctx)}">返回报送页面</a></p>
    </section>`;
  }
}
