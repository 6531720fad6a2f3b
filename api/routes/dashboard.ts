import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import { z } from 'zod';
import { cycleScheduleFor } from '../../services/cycle-preparation';
import { obligationState, trafficLight, type Light } from '../../domain/light';
import { shanghaiDate, toShanghaiIso, tryParseInstant } from '../../domain/schedule';
import { isDrillOptions } from '../../db/cycles-repo';
import { verifyToken } from '../../db/tokens-repo';
import {
  OBLIGATION_STATES,
  type Obligation,
  type ObligationState,
  type ReviewState,
  type UnitRef,
} from '../../domain/model';
import { TooManyRequestsError } from '../errors';
import { CLEAR_TOKEN_COOKIE, TOKEN_COOKIE } from '../plugins/auth';
import { MAX_YEAR, MIN_YEAR, strictObject, YearParam } from '../schemas/input';
import { html, page, raw, type Raw } from '../views/html';

/**
 * The office dashboard: server-rendered zh-CN pages behind the same API tokens, kept in an HttpOnly
 * cookie after a login form. The grid shows every work point × unit in red / yellow / green,
 * recomputed from the projected facts as of now or any past date (?asOf=).
 */

const STATE_LABEL: Record<ObligationState, string> = {
  pending: '待报送',
  acknowledged: '已签收',
  submitted: '已报送',
  late: '逾期报送',
  overdue: '逾期未报',
  'escalated-lead': '已督办',
  'escalated-office': '已通报',
  waived: '免报',
  returned: '已退回',
};
const LIGHT_LABEL: Record<Light, string> = { red: '红', yellow: '黄', green: '绿' };

const GRID_STYLE = `
.grid{overflow-x:auto}.grid table{font-size:13px;border-collapse:collapse}.grid th,.grid td{border:1px solid #d0d7de;padding:4px 6px;white-space:nowrap}
.grid thead th{position:sticky;top:0;background:#f6f8fa;writing-mode:vertical-rl;text-orientation:upright;max-height:9em}
.grid th.wp{writing-mode:horizontal-tb;text-align:left;white-space:normal;min-width:14em}
td.c-red{background:#ff8182}td.c-yellow{background:#fae17d}td.c-green{background:#aceebb}td.c-none{background:#fff}
.legend span{display:inline-block;padding:2px 10px;margin-right:6px;border-radius:4px}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end}form.filters label{margin:0;font-weight:400;font-size:13px}
form.filters button{width:auto;margin:0;padding:6px 14px}
section.drill{border:2px solid #bc4c00;background:#fff1e5;color:#762c00}.badge.drill{background:#bc4c00;color:#fff;font-weight:600}
section.views p{margin:4px 0}section.views a{margin-right:4px}h3{font-size:15px;margin:14px 0 4px}ol{margin:4px 0;padding-left:1.6em}
`;

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

interface ObligationRow {
  work_point: number;
  workflow_id: string;
  unit_id: string;
  unit_name: string;
  period: string;
  state: ObligationState;
  facts: Obligation | null;
}

const DRILL_BADGE = html`<span class="badge drill">演练</span>`;

/** The year a cycle started now would be: the calendar year in Beijing, read from the clock at every request. */
const currentYear = (): number => Number(shanghaiDate(Date.now()).slice(0, 4));

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

/**
 * Where the login sends the browser afterwards: a page under /dashboard on this site, normalised by the URL
 * parser (dot segments resolved, non-ASCII percent-encoded). Undefined for anything else — another host
 * (//evil.example, https://…), control characters (a CR/LF would split the Location header) or backslashes.
 */
function loginTarget(next: unknown): string | undefined {
  if (next === undefined || next === '') return '/dashboard';
  if (typeof next !== 'string' || /[\u0000-\u001f\u007f\\]/.test(next)) return undefined;
  const base = 'http://duban.invalid';
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return undefined;
  }
  if (url.origin !== base || !/^\/dashboard(\/|$)/.test(url.pathname) || !next.startsWith('/dashboard'))
    return undefined;
  return `${url.pathname}${url.search}${url.hash}`;
}

export default async function dashboardRoutes(
  app: FastifyInstance,
  opts: { temporalUiUrl: string; namespace: string },
): Promise<void> {
  await app.register(formbody);
  const uiLink = (workflowId: string) =>
    `${opts.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(opts.namespace)}/workflows/${encodeURIComponent(workflowId)}`;

  const send = (reply: FastifyReply, status: number, title: string, body: Raw) =>
    reply
      .status(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(
        page(
          title,
          html`<style>
              ${raw(GRID_STYLE)}</style
            >${body}`,
        ),
      );

  const badRequest = (reply: FastifyReply, problems: string[]) =>
    send(
      reply,
      400,
      '参数错误',
      html`<section class="error">
        <h2>参数错误</h2>
        <ul>
          ${problems.map((p) => html`<li>${p}</li>`)}
        </ul>
        <p><a href="/dashboard">返回总览</a></p>
      </section>`,
    );

  /** Pages need a signed-in office user; otherwise the login form, which comes back here. */
  function requireActor(request: FastifyRequest, reply: FastifyReply): boolean {
    if (request.actor) return true;
    void reply.redirect(`/dashboard/login?next=${encodeURIComponent(request.url)}`, 303);
    return false;
  }

  const loginForm = (next: string, error?: string) => html`<section${error ? raw(' class="error"') : ''}>
    <h2>登录督办管理页面</h2>
    ${error ? html`<p><strong>${error}</strong></p>` : ''}
    <form method="post" action="/dashboard/login">
      <input type="hidden" name="next" value="${next}">
      <label for="token">API 令牌</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required style="width:100%;font:inherit;padding:8px">
      <div class="hint">由管理员用 <code>npx duban token create --role viewer</code> 创建。令牌只保存在本浏览器的 HttpOnly Cookie 中。</div>
      <button type="submit">登录</button>
    </form></section>`;

  const BAD_NEXT = [
    '登录后要返回的地址（next）无效：只能是本系统 /dashboard 下的页面。请打开 /dashboard/login 重新登录。',
  ];

  app.get<{ Querystring: { next?: unknown } }>(
    '/dashboard/login',
    { schema: { hide: true } },
    async (request, reply) => {
      const next = loginTarget(request.query.next);
      return next === undefined ? badRequest(reply, BAD_NEXT) : send(reply, 200, '登录', loginForm(next));
    },
  );

  app.post<{ Body: { token?: string; next?: unknown } | undefined }>(
    '/dashboard/login',
    { schema: { hide: true } },
    async (request, reply) => {
      const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
      const next = loginTarget(request.body?.next);
      if (next === undefined) return badRequest(reply, BAD_NEXT);
      // The same failed-sign-in budget per address as bearer tokens on /api (api/plugins/rate-limit.ts).
      const wait = await app.signInFailures.blockedFor(request);
      if (wait !== undefined) throw new TooManyRequestsError(wait, true);
      const actor = token ? await verifyToken(app.db, token) : undefined;
      if (!actor) {
        if (token) await app.signInFailures.record(request);
        return send(reply, 401, '登录', loginForm(next, '令牌无效或已吊销，请检查后重试。'));
      }
      const secure = request.protocol === 'https' ? '; Secure' : '';
      return reply
        .header(
          'set-cookie',
          `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${secure}; Max-Age=${12 * 3600}`,
        )
        .redirect(next, 303);
    },
  );

  app.post('/dashboard/logout', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('set-cookie', CLEAR_TOKEN_COOKIE).redirect('/dashboard/login', 303),
  );

  app.get('/dashboard', { schema: { hide: true } }, async (request, reply) => {
    if (!requireActor(request, reply)) return reply;
    const { rows } = await app.db.query<{
      year: number;
      options: unknown;
      finished_at: Date | null;
      red: number;
      yellow: number;
      green: number;
      n: number;
    }>(
      `SELECT c.year, c.options, c.finished_at,
              count(s.*) FILTER (WHERE s.light = 'red')::int AS red, count(s.*) FILTER (WHERE s.light = 'yellow')::int AS yellow,
              count(s.*) FILTER (WHERE s.light = 'green')::int AS green, count(s.*)::int AS n
       FROM cycles c LEFT JOIN work_point_status s ON s.cycle_year = c.year GROUP BY c.year ORDER BY c.year DESC`,
    );
    const body = html`<section>
        <h2>年度周期</h2>
        ${
          rows.length === 0
            ? await nextSteps()
            : html`<table>
                <tr>
                  <th>年度</th>
                  <th>要点</th>
                  <th>红</th>
                  <th>黄</th>
                  <th>绿</th>
                  <th>状态</th>
                </tr>
                ${rows.map(
                  (r) =>
                    html`<tr>
                      <td>
                        <a href="/dashboard/cycles/${r.year}">${r.year} 年</a>
                        ${isDrillOptions(r.options) ? DRILL_BADGE : ''}
                      </td>
                      <td>${r.n}</td>
                      <td>${r.red}</td>
                      <td>${r.yellow}</td>
                      <td>${r.green}</td>
                      <td>${r.finished_at ? '已办结' : '进行中'}</td>
                    </tr>`,
                )}
              </table>`
        }
      </section>
      ${signedIn(request)}`;
    return send(reply, 200, '督办总览', body);
  });

  app.get<{ Params: { year: string }; Querystring: Record<string, string | undefined> }>(
    '/dashboard/cycles/:year',
    { schema: { hide: true } },
    async (request, reply) => {
      if (!requireActor(request, reply)) return reply;
      const read = readCyclePage(request.params.year, request.query);
      if ('problems' in read) return badRequest(reply, read.problems);
      const { year, asOf } = read;
      const cycle = await app.db.query<{ options: unknown; workflow_id: string; plan_id: string }>(
        'SELECT options, workflow_id, plan_id FROM cycles WHERE year = $1',
        [year],
      );
      if (!cycle.rows[0]) {
        return send(
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
      const drill = isDrillOptions(cycle.rows[0].options);
      const schedule = cycleScheduleFor(year, cycle.rows[0].options);
      const statuses = await app.db.query<{
        work_point: number;
        workflow_id: string;
        snapshot: { title: string; leadUnits: UnitRef[]; review: ReviewState };
      }>('SELECT work_point, workflow_id, snapshot FROM work_point_status WHERE cycle_year = $1 ORDER BY work_point', [
        year,
      ]);
      const obligations = await app.db.query<ObligationRow>(
        'SELECT work_point, workflow_id, unit_id, unit_name, period, state, facts FROM work_point_obligations WHERE cycle_year = $1',
        [year],
      );
      const units = new Map<string, string>();
      for (const o of obligations.rows) units.set(o.unit_id, o.unit_name);
      const unitOrder = [...units.entries()].sort((a, b) => a[1].localeCompare(b[1], 'zh-CN'));
      const filterUnit = read.unit;
      const filterState = read.state;
      const stateAt = (o: ObligationRow): ObligationState => (o.facts ? obligationState(o.facts, at) : o.state);

      const rows = statuses.rows.map((s) => {
        const mine = obligations.rows.filter((o) => o.work_point === s.work_point);
        const facts = mine.flatMap((o) => (o.facts ? [o.facts] : []));
        const light = trafficLight(
          facts,
          s.snapshot.review,
          schedule.review,
          s.snapshot.leadUnits.map((u) => u.id),
          at,
        );
        const cells = new Map<string, { light: Light; states: string[] }>();
        for (const [unitId] of unitOrder) {
          const cell = mine.filter((o) => o.unit_id === unitId);
          if (cell.length === 0) continue;
          const cellFacts = cell.flatMap((o) => (o.facts ? [o.facts] : []));
          cells.set(unitId, {
            light: trafficLight(cellFacts, { fired: {}, summaries: {} }, schedule.review, [], at),
            states: cell.map(
              (o) =>
                `${schedule.periods.find((p) => p.id === o.period)?.label ?? o.period}：${STATE_LABEL[stateAt(o)]}`,
            ),
          });
        }
        return {
          number: s.work_point,
          workflowId: s.workflow_id,
          title: s.snapshot.title,
          light,
          cells,
          // With a unit filter, the state filter applies to that unit's duties only.
          states: mine.filter((o) => !filterUnit || o.unit_id === filterUnit).map(stateAt),
        };
      });
      const visibleRows = rows.filter(
        (r) => (!filterUnit || r.cells.has(filterUnit)) && (!filterState || r.states.includes(filterState)),
      );
      const visibleUnits = unitOrder.filter(([id]) => !filterUnit || id === filterUnit);
      const count = (l: Light) => rows.filter((r) => r.light === l).length;

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
            <a href="${uiLink(cycle.rows[0].workflow_id)}">在 Temporal UI 中查看</a>
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
        ${cycleViews(year, Number(cycle.rows[0].plan_id), asOf)}
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
      return send(reply, 200, `${year} 年度督办${drill ? '（演练）' : ''}`, body);
    },
  );

  /** What to do on a fresh install: rehearse with the demo, or start this year (computed now, never a fixed year). */
  async function nextSteps(): Promise<Raw> {
    const year = currentYear();
    const plans = await app.db.query<{ id: string; year: number; title: string | null }>(
      'SELECT id, year, title FROM plans ORDER BY id DESC LIMIT 10',
    );
    const planForYear = plans.rows.find((p) => p.year === year);
    return html`<p>尚未启动年度周期。下一步可以：</p>
      <h3>先演练</h3>
      <p>
        <code>npx duban demo</code> —— 以今天的日期启动一个演练周期
        ${DRILL_BADGE}：其通知和报告都是练习数据，不是正式督办。
      </p>
      <h3>启动 ${year} 年度周期</h3>
      <ol>
        <li>
          ${
            planForYear
              ? html`${year} 年的工作要点已导入（计划 #${planForYear.id}），可直接启动。`
              : html`准备 ${year} 年的工作要点：用 <code>POST /api/plans</code> 导入，或把已导入的计划复制到 ${year}
                  年：
                  <code>npx duban plan copy &lt;planId&gt; --year ${year}</code
                  >${plans.rows.length > 0 ? '（planId 见下表）' : ''}。`
          }
        </li>
        <li>
          启动：<code>POST /api/cycles</code>，请求体 <code>{"year": ${year}}</code>（也可用
          <code>npx duban cycle start ${year}</code>）
        </li>
      </ol>
      ${
        plans.rows.length === 0
          ? html`<p class="hint">还没有导入任何计划。</p>`
          : html`<table>
              <tr>
                <th>计划编号（planId）</th>
                <th>年度</th>
                <th>标题</th>
              </tr>
              ${plans.rows.map(
                (p) =>
                  html`<tr>
                    <td>${p.id}</td>
                    <td>${p.year}</td>
                    <td>${p.title ?? ''}</td>
                  </tr>`,
              )}
            </table>`
      }`;
  }

  function signedIn(request: FastifyRequest): Raw {
    return html`<section class="meta">
      已登录：${request.actor?.name ?? ''}（${request.actor?.role ?? ''}）
      <form method="post" action="/dashboard/logout" style="display:inline">
        <button style="width:auto;padding:4px 12px;margin:0 0 0 8px;background:#57606a">退出</button>
      </form>
    </section>`;
  }
}
