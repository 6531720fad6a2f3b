import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import formbody from '@fastify/formbody';
import { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { LinkError, parseLinkKeys, verifyLink, type LinkClaims } from '../../common/links';
import { chinaCalendar, CalendarMissingError, workdaysBetween } from '../../domain/calendar';
import { shanghaiDate, toShanghaiIso } from '../../domain/schedule';
import { cycleScheduleFor } from '../../activities/prepare-cycle';
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
  saveAttachments,
  saveReceipt,
  type NewAttachment,
} from '../../db/replies-repo';
import {
  acknowledgeSignal,
  REVIEW_RATINGS,
  reportSignal,
  summarySignal,
  workPointWorkflowId,
  type AttachmentRef,
  type ReviewRating,
} from '../../workflows/definitions';
import { html, page, raw, type Raw } from '../views/html';

/**
 * The reply page (报送页面) a unit opens from the link in a notice: no account, zh-CN, works on a
 * phone and without JavaScript. The token decides everything (cycle, work point, unit, purpose,
 * period); the form carries no unit, so a token of unit A can never act for unit B.
 */

export const REPORT_TEXT_MAX = 5000;
export const FILE_MAX_BYTES = 10 * 1024 * 1024;
export const FILES_MAX = 5;
/** How long the page waits for Temporal to accept a report before it says "try again". */
const SIGNAL_DEADLINE_MS = 5_000;

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

export default async function replyRoutes(app: FastifyInstance, opts: { linkSecret: string }): Promise<void> {
  const keys = parseLinkKeys(opts.linkSecret);
  await app.register(formbody);
  await app.register(multipart, {
    limits: { fileSize: FILE_MAX_BYTES, files: FILES_MAX, fields: 10, fieldSize: REPORT_TEXT_MAX * 4 },
  });

  const sendPage = (reply: FastifyReply, status: number, title: string, body: Raw) =>
    reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page(title, body));

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
      throw new PageError(
        403,
        '链接无效',
        html`<section>
          <h2>链接无效</h2>
          <p>该链接不完整或已被改动，无法使用。请从提醒消息中完整复制链接，或联系园区依法治区办。</p>
        </section>`,
      );
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
      };
    }
    const periodId = claims.per ?? schedule.periods[0]?.id ?? 'H1';
    const period = schedule.periods.find((p) => p.id === periodId);
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
      periodLabel: period?.label ?? periodId,
      dueAt: obligation?.dueAt.getTime() ?? period?.dueAt ?? schedule.review.summaryDueAt,
      state: obligation?.state,
      acknowledged: obligation?.acknowledgedAt != null,
      workPoint: wp,
      unit,
      closed: cycle.finishedAt !== null,
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
    const body = html` <section>
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
          ? html`<section>
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
      const receipt = file && (await getReceipt(app.db, file.submissionId));
      const sent = await listSent(app.db, {
        year: ctx.claims.y,
        workPoint: ctx.claims.wp,
        unitId: ctx.unit.id,
        period: ctx.periodId,
      });
      const mine = file && sent.stored.some((r) => r.submissionId === file.submissionId);
      if (!file || !receipt || !mine)
        return sendPage(reply, 404, '未找到', html`<section><h2>未找到该文件</h2></section>`);
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
    if (request.isMultipart()) {
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            const data = await part.toBuffer();
            if (!part.filename || data.length === 0) continue;
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
        else throw err;
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

    // A double click or a retry of the same form lands once: the receipt is the proof.
    const existing = await getReceipt(app.db, form.submissionId);
    if (existing)
      return sendPage(reply, 200, '已收到', confirmation(ctx, existing.receiptNo, existing.acceptedAt, true));

    if (ctx.closed) return again(409, '本年度督办已办结，不再接收报告');
    const sent = await listSent(app.db, {
      year: ctx.claims.y,
      workPoint: ctx.claims.wp,
      unitId: ctx.unit.id,
      period: ctx.periodId,
    });
    if (Date.now() > ctx.dueAt && sent.stored.length + sent.pending.length > 0 && ctx.state !== 'returned') {
      return again(409, '本期已截止，且你单位已报送，不能再更正；如需更正请联系园区依法治区办');
    }

    const submittedAt = Date.now();
    const refs: AttachmentRef[] = files.map((f) => ({
      id: f.id,
      name: f.name,
      size: f.data.length,
      sha256: f.sha256,
      contentType: f.contentType,
    }));
    await saveAttachments(app.db, form.submissionId, files);
    try {
      const handle = app.temporal.workflow.getHandle(ctx.workflowId);
      await app.temporal.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () =>
        isSummary
          ? handle.signal(summarySignal, {
              unitId: ctx.unit.id,
              submissionId: form.submissionId,
              text: form.text,
              selfAssessment: form.selfAssessment as ReviewRating,
              attachments: refs,
              submittedAt,
            })
          : handle.signal(reportSignal, {
              unitId: ctx.unit.id,
              periodId: ctx.periodId,
              submissionId: form.submissionId,
              text: form.text,
              attachments: refs,
              submittedAt,
            }),
      );
    } catch (err) {
      await deleteAttachments(app.db, form.submissionId);
      if (err instanceof WorkflowNotFoundError)
        return again(409, '该要点的督办流程已结束或不存在，不再接收报告；请联系园区依法治区办');
      request.log.error({ err, workflowId: ctx.workflowId }, 'report not accepted by Temporal');
      return again(
        503,
        '系统暂时无法受理（督办服务不可用）。你填写的内容已保留在下方，请稍后再点“提交”；未显示回执号即表示尚未收到。',
      );
    }
    const receiptNo = `${ctx.claims.y}-${String(ctx.claims.wp).padStart(2, '0')}-${form.submissionId.replace(/-/g, '').slice(0, 8).toUpperCase()}`;
    const receipt = await saveReceipt(app.db, {
      submissionId: form.submissionId,
      receiptNo,
      year: ctx.claims.y,
      workPoint: ctx.claims.wp,
      unitId: ctx.unit.id,
      period: ctx.periodId,
      kind: isSummary ? 'summary' : 'report',
    });
    return sendPage(reply, 200, '已收到', confirmation(ctx, receipt.receiptNo, receipt.acceptedAt, false));
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
