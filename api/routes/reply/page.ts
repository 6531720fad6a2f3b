import type { FastifyInstance } from 'fastify';
import { listSent } from '../../../db/replies-repo';
import { chinaCalendar, CalendarMissingError, workdaysBetween } from '../../../domain/calendar';
import { REVIEW_RATINGS } from '../../../domain/model';
import { shanghaiDate, toShanghaiIso } from '../../../domain/schedule';
import { html, raw, type Raw } from '../../views/html';
import type { Context } from './context';
import { FILE_MAX_BYTES, FILES_MAX, REPORT_TEXT_MAX } from './form';

/**
 * The reply page (报送页面) a unit opens from the link in a notice: no account, zh-CN, works on a phone and without
 * JavaScript. What is asked, by when, what the unit already sent, and the form (or why it is closed); and the
 * confirmation (已收到) with its receipt number.
 */

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

export async function renderReplyPage(
  app: FastifyInstance,
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
                          ? html`<br />${r.attachments.map((a) => html`<a href="/r/${ctx.token}/files/${a.id}">${a.name}</a> `)}`
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

export function confirmation(ctx: Context, receiptNo: string, at: Date, repeated: boolean): Raw {
  return html`<section>
    <h2>已收到 ✓</h2>
    <p>
      ${ctx.unit.name}报送的第${ctx.workPoint.number}条「${ctx.workPoint.title}」${ctx.claims.p === 'summary' ? '年度总结' : `${ctx.periodLabel}进展报告`}已受理。
    </p>
    <p>回执号：<span class="receipt">${receiptNo}</span></p>
    <p class="meta">受理时间：${when(at)}（北京时间）${repeated ? ' · 重复提交只计一次' : ''}</p>
    <p><a href="/r/${ctx.token}">返回报送页面</a></p>
  </section>`;
}
