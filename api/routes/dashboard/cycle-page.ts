import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isDrillOptions } from '../../../db/cycles-repo';
import { getCycleRecord } from '../../../db/cycles-repo';
import { listCycleObligations, listStatuses } from '../../../db/projection-repo';
import { cycleSchedule } from '../../../domain/cycle-schedule';
import type { Light } from '../../../domain/light';
import { OBLIGATION_STATES, type ObligationState } from '../../../domain/model';
import { shanghaiDate, toShanghaiIso, tryParseInstant } from '../../../domain/schedule';
import { MAX_YEAR, MIN_YEAR, strictObject, YearParam } from '../../schemas/input';
import { html, raw, type Raw } from '../../views/html';
import { temporalUiLink, type TemporalUi } from '../../views/temporal-ui';
import { cycleGrid, STATE_LABEL } from './cycle-grid';
import { badRequest, DRILL_BADGE, requireActor, sendPage, signedIn } from './layout';

const LIGHT_LABEL: Record<Light, string> = { red: '红', yellow: '黄', green: '绿' };

// Strict: a misspelt ?asof= would otherwise show today's lights as if they were the asked-for date's.
const QuerySchema = strictObject({
  asOf: z.string({ error: 'asOf 只能给一个值' }).trim().optional(),
  unit: z.string({ error: 'unit 只能给一个值' }).trim().optional(),
  state: z
    .union([z.enum(OBLIGATION_STATES), z.literal('')], {
      error: `state 应为 ${OBLIGATION_STATES.join(' / ')} 之一`,
    })
    .optional(),
});
const AS_OF_HINT = `应为 ${MIN_YEAR}–${MAX_YEAR} 年间的日期（如 2023-07-15）或带时区的时间（如 2023-07-15T18:00:00+08:00）`;

/**
 * The cycle's other views: the annual report in its formats (as of the page's date when one is chosen) and the
 * ledgers (台账). All are GET /api routes, which the dashboard's sign-in cookie opens (api/plugins/auth.ts).
 */
function cycleViews(year: number, planId: number, asOf: number | undefined): Raw {
  const report = (format: 'html' | 'xlsx' | 'csv') => {
    const query = new URLSearchParams({ format });
    if (asOf !== undefined) query.set('asOf', toShanghaiIso(asOf));
    return `/api/cycles/${year}/report?${query.toString()}`;
  };
  return html`<section class="views">
    <p>
      <strong>年度报告${asOf === undefined ? '' : '（截至所选日期）'}</strong>：
      <a href="${report('html')}" title="可在浏览器中打印">网页版</a> ·
      <a href="${report('xlsx')}" title="下载 Excel 文件">Excel</a> ·
      <a href="${report('csv')}" title="下载 CSV 文件（UTF-8）">CSV</a>
    </p>
    <p>
      <strong>台账</strong>：
      <a href="/api/notifications?cycle=${year}&amp;limit=500" title="本年度发给各单位的通知及送达情况">通知记录</a> ·
      <a href="/api/audit" title="延期、免报、改派、提醒等干预记录（各年度）">操作记录</a> ·
      <a href="/api/cycles/${year}" title="各要点的灯色、阶段和逾期单位">周期数据</a> ·
      <a href="/api/plans/${planId}" title="本周期所用计划的全部要点">工作要点</a>
      <span class="hint">（JSON 格式）</span>
    </p>
  </section>`;
}

/** A date means its end in Beijing time; anything else must be an instant with its offset (no guessed zone). */
function parseAsOf(value: string): number | undefined {
  const at = tryParseInstant(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T23:59:59+08:00` : value);
  if (at === undefined) return undefined;
  const year = Number(shanghaiDate(at).slice(0, 4));
  return year >= MIN_YEAR && year <= MAX_YEAR ? at : undefined;
}

type CyclePage = { year: number; asOf?: number; unit?: string; state?: ObligationState; asOfText: string };

/** The year and filters of a cycle page, or what is wrong with them (zh-CN, shown on the 400 page). */
function readCyclePage(yearText: string, query: unknown): CyclePage | { problems: string[] } {
  const year = YearParam.safeParse(yearText);
  const q = QuerySchema.safeParse(query);
  const problems = [
    ...(year.success ? [] : [`年度 “${yearText}” 无效：${year.error.issues[0]?.message ?? ''}`]),
    ...(q.success ? [] : q.error.issues.map((i) => i.message)),
  ];
  const asOfText = q.data?.asOf ?? '';
  const asOf = asOfText ? parseAsOf(asOfText) : undefined;
  if (asOfText && asOf === undefined) problems.push(`asOf “${asOfText}” 无效：${AS_OF_HINT}`);
  if (!year.success || !q.success || problems.length > 0) return { problems };
  return { year: year.data, asOf, unit: q.data.unit || undefined, state: q.data.state || undefined, asOfText };
}

/** GET /dashboard/cycles/:year: the grid of one cycle, filtered by unit and state, as of now or a past date. */
export default async function dashboardCyclePage(app: FastifyInstance, ui: TemporalUi): Promise<void> {
  app.get<{ Params: { year: string }; Querystring: Record<string, string | undefined> }>(
    '/dashboard/cycles/:year',
    { schema: { hide: true } },
    async (request, reply) => {
      if (!requireActor(request, reply)) return reply;
      const read = readCyclePage(request.params.year, request.query);
      if ('problems' in read) return badRequest(reply, read.problems);
      const { year, asOf } = read;
      const cycle = await getCycleRecord(app.db, year);
      if (!cycle) {
        return sendPage(
          reply,
          404,
          '未找到',
          html`<section>
            <h2>${request.params.year} 年度周期尚未启动</h2>
            <p><a href="/dashboard">返回总览</a></p>
          </section>`,
        );
      }
      const at = asOf ?? Date.now();
      const drill = isDrillOptions(cycle.options);
      const schedule = cycleSchedule(year, cycle.options);
      const statuses = await listStatuses(app.db, year);
      const obligations = await listCycleObligations(app.db, year);
      const filterUnit = read.unit;
      const filterState = read.state;
      const { rows, unitOrder } = cycleGrid(statuses, obligations, schedule, at, filterUnit);
      const visibleRows = rows.filter(
        (r) => (!filterUnit || r.cells.has(filterUnit)) && (!filterState || r.states.includes(filterState)),
      );
      const visibleUnits = unitOrder.filter(([id]) => !filterUnit || id === filterUnit);
      const count = (l: Light) => rows.filter((r) => r.light === l).length;
      const uiLink = (workflowId: string) => temporalUiLink(ui, workflowId);

      const body = html`${
          drill
            ? html`<section class="drill" role="note">
                <p><strong>${DRILL_BADGE} 这是演练周期，不是正式督办周期。</strong></p>
                <p>本周期的通知、报送和年度报告都是练习数据，不作为督办依据。</p>
              </section>`
            : ''
        }
        <section>
          <h2>
            ${year} 年度周期${drill ? html` ${DRILL_BADGE}` : ''} ·
            ${asOf ? `截至 ${toShanghaiIso(at).slice(0, 16).replace('T', ' ')}` : '当前'}
          </h2>
          <p class="legend">
            <span class="badge red">红 ${count('red')}</span><span class="badge yellow">黄 ${count('yellow')}</span
            ><span class="badge green">绿 ${count('green')}</span>
            <a href="${uiLink(cycle.workflowId)}">在 Temporal UI 中查看</a>
          </p>
          <form class="filters" method="get">
            <label
              >单位<br /><select name="unit">
                <option value="">全部</option>
                ${unitOrder.map(
                  ([id, name]) =>
                    html`<option value="${id}" ${filterUnit === id ? raw(' selected') : ''}>${name}</option>`,
                )}
              </select></label
            >
            <label
              >状态<br /><select name="state">
                <option value="">全部</option>
                ${OBLIGATION_STATES.map(
                  (s) =>
                    html`<option value="${s}" ${filterState === s ? raw(' selected') : ''}>${STATE_LABEL[s]}</option>`,
                )}
              </select></label
            >
            <label>截至日期<br /><input type="date" name="asOf" value="${read.asOfText}" /></label>
            <button type="submit">筛选</button>
          </form>
        </section>
        ${cycleViews(year, cycle.planId, asOf)}
        <section class="grid">
          <table>
            <thead>
              <tr>
                <th class="wp">要点</th>
                ${visibleUnits.map(([, name]) => html`<th>${name}</th>`)}
              </tr>
            </thead>
            <tbody>
              ${visibleRows.map(
                (r) =>
                  html`<tr>
                    <th class="wp c-${r.light}">
                      <span class="badge ${r.light}">${LIGHT_LABEL[r.light]}</span>
                      <a href="${uiLink(r.workflowId)}" title="在 Temporal UI 中打开 ${r.workflowId}"
                        >${r.number}. ${r.title}</a
                      >
                    </th>
                    ${visibleUnits.map(([id]) => {
                      const c = r.cells.get(id);
                      return c
                        ? html`<td class="c-${c.light}" title="${c.states.join('；')}">${LIGHT_LABEL[c.light]}</td>`
                        : html`<td class="c-none"></td>`;
                    })}
                  </tr>`,
              )}
            </tbody>
          </table>
          ${visibleRows.length === 0 ? html`<p>没有符合筛选条件的要点。</p>` : ''}
        </section>
        ${signedIn(request)}`;
      return sendPage(reply, 200, `${year} 年度督办${drill ? '（演练）' : ''}`, body);
    },
  );
}
