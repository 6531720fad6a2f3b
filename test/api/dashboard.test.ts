/**
 * The dashboard's pages as the office opens them (app.inject with the sign-in cookie a real login sets): the empty
 * overview's next steps, the links from a cycle page to the annual report and the ledgers (台账), and the 演练 mark on
 * rehearsal cycles. The browser test (test/e2e/dashboard-browser.test.ts) follows the report link in Chromium.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { parsePlan } from '../../domain/plan-parser';
import { savePlan } from '../../db/plans-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();

let app: FastifyInstance;
beforeEach(async () => {
  app = await ctx.build();
});

/** Signs in through the login form and returns the cookie the browser would keep. */
async function signIn(headers: { authorization: string }): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/dashboard/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      token: headers.authorization.slice('Bearer '.length),
      next: '/dashboard',
    }).toString(),
  });
  expect(res.statusCode).toBe(303);
  const setCookie = String(res.headers['set-cookie']);
  expect(setCookie).toMatch(/; HttpOnly; SameSite=Strict; Path=\//);
  const value = /^duban_token=([^;]+)/.exec(setCookie)?.[1];
  if (!value) throw new Error(`no cookie in ${setCookie}`);
  return `duban_token=${value}`;
}

/** A GET as the browser sends it after a click on the dashboard: the cookie and nothing else. */
const open = (url: string, cookie: string) =>
  app.inject({ method: 'GET', url, headers: { cookie, 'sec-fetch-site': 'same-origin' } });

/** The year it is now in Beijing, by the test's own reading of the clock (not the code under test). */
const beijingYear = (): number =>
  Number(new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(new Date()));

const text = (html: string) =>
  html
    .replace(/<style>[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

/** The href of every link inside the page's `section.views`. */
function viewLinks(html: string): string[] {
  const section = /<section class="views">([\s\S]*?)<\/section>/.exec(html)?.[1];
  if (section === undefined) throw new Error('no section.views on the page');
  return [...section.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
}

const YEAR = 2023;
let planId: number;

/** The seed plan as the 2023 plan; saving the same text again returns the stored plan. */
async function seedPlan(): Promise<void> {
  const seed = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(seed);
  ({ id: planId } = await savePlan(ctx.db.pool, { ...parsed.plan!, year: YEAR }, seed, parsed.warnings));
}

describe('the overview before any cycle', () => {
  test('offers the demo and starting the current year (Beijing, read from the clock), never 2023', async () => {
    const cookie = await signIn(ctx.viewer);
    const before = beijingYear();
    const res = await open('/dashboard', cookie);
    const after = beijingYear();
    expect(res.statusCode).toBe(200);
    const page = text(res.body);
    const year = page.includes(`启动 ${after} 年度周期`) ? after : before;

    expect(page).toContain('尚未启动年度周期');
    expect(page).toMatch(/npx duban demo —— 以今天的日期启动一个演练周期 演练/);
    expect(page).toContain(`启动 ${year} 年度周期`);
    expect(page).toContain(`npx duban plan copy <planId> --year ${year}`);
    expect(page).toContain('POST /api/plans');
    expect(page).toContain(`POST /api/cycles ，请求体 {"year": ${year}}`);
    expect(page).toContain(`npx duban cycle start ${year}`);
    expect(page).toContain('还没有导入任何计划');
    // Every year the page names is this one: no fixed year left in the suggestions.
    expect([...new Set(page.match(/\b20\d\d\b/g))]).toEqual([String(year)]);
    if (year !== 2023) expect(page).not.toContain('2023');
  });

  test('lists the plans already imported with their planId, and says when this year already has one', async () => {
    await seedPlan();
    const cookie = await signIn(ctx.viewer);

    const year = beijingYear();
    const withOld = text((await open('/dashboard', cookie)).body);
    expect(withOld).toMatch(new RegExp(`计划编号（planId） 年度 标题 ${planId} ${YEAR} `));
    expect(withOld).toContain(`npx duban plan copy <planId> --year ${year} （planId 见下表）`);
    expect(withOld).not.toContain(`cycle start ${YEAR}`);

    const current = `${year}年工作要点\n一、部分\n1. 事项。内容。（牵头单位：甲局；责任单位：乙局）`;
    const { id: currentId } = await savePlan(ctx.db.pool, { ...parsePlan(current).plan!, year }, current, []);
    const withCurrent = text((await open('/dashboard', cookie)).body);
    expect(withCurrent).toContain(`${year} 年的工作要点已导入（计划 #${currentId}），可直接启动`);
    expect(withCurrent).not.toContain('npx duban plan copy');
    expect(withCurrent).toContain(`npx duban cycle start ${year}`);
  });
});

describe('a cycle page', () => {
  beforeAll(async () => {
    await seedPlan();
    // A cycle row without workflows: enough for the page, the report and the ledgers.
    await ctx.db.pool.query('INSERT INTO cycles (year, plan_id, workflow_id) VALUES ($1, $2, $3)', [
      YEAR,
      planId,
      `cycle-${YEAR}`,
    ]);
  });

  test('links the annual report as HTML, Excel and CSV and the ledgers, and every link opens with the cookie alone', async () => {
    for (const who of [ctx.viewer, ctx.admin]) {
      const cookie = await signIn(who);
      const res = await open(`/dashboard/cycles/${YEAR}`, cookie);
      expect(res.statusCode).toBe(200);
      const links = viewLinks(res.body);
      expect(links).toEqual([
        `/api/cycles/${YEAR}/report?format=html`,
        `/api/cycles/${YEAR}/report?format=xlsx`,
        `/api/cycles/${YEAR}/report?format=csv`,
        `/api/notifications?cycle=${YEAR}&limit=500`,
        '/api/audit',
        `/api/cycles/${YEAR}`,
        `/api/plans/${planId}`,
      ]);
      expect(text(res.body)).toMatch(/年度报告 ： 网页版 · Excel · CSV/);
      expect(text(res.body)).toMatch(/台账 ： 通知记录 · 操作记录 · 周期数据 · 工作要点/);

      const types = [/^text\/html/, /spreadsheetml/, /^text\/csv/, /json/, /json/, /json/, /json/];
      for (const [i, link] of links.entries()) {
        const opened = await open(link, cookie);
        expect({ link, status: opened.statusCode }).toEqual({ link, status: 200 });
        expect(opened.headers['content-type']).toMatch(types[i]!);
      }
      const cycle = (await open(links[5]!, cookie)).json<{ year: number; workflowId: string }>();
      expect(cycle).toMatchObject({ year: YEAR, workflowId: `cycle-${YEAR}` });
      expect((await open(links[6]!, cookie)).json<{ id: number }>().id).toBe(planId);
    }
  });

  test('as of a past date, the report links ask for the report as of that date too', async () => {
    const cookie = await signIn(ctx.viewer);
    const res = await open(`/dashboard/cycles/${YEAR}?asOf=2023-07-15`, cookie);
    const asOf = encodeURIComponent('2023-07-15T23:59:59+08:00');
    expect(viewLinks(res.body).slice(0, 3)).toEqual(
      ['html', 'xlsx', 'csv'].map((f) => `/api/cycles/${YEAR}/report?format=${f}&asOf=${asOf}`),
    );
    expect(text(res.body)).toContain('年度报告（截至所选日期）');
    const report = await open(viewLinks(res.body)[0]!, cookie);
    expect(report.statusCode).toBe(200);
    expect(text(report.body)).toContain('截至 2023-07-15 23:59');
  });

  test('a link opened after signing out, or with a revoked or forged cookie, is 401 and shows no data', async () => {
    const res = await open(`/api/cycles/${YEAR}/report?format=csv`, 'duban_token=dbn_forged');
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toContain('年度,要点');
    const none = await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}/report?format=csv` });
    expect(none.statusCode).toBe(401);
  });
});

describe('a drill cycle (options.drill === true)', () => {
  beforeAll(async () => {
    const insert = (year: number, options: unknown) =>
      ctx.db.pool.query('INSERT INTO cycles (year, plan_id, workflow_id, options) VALUES ($1, $2, $3, $4)', [
        year,
        planId,
        `cycle-${year}`,
        JSON.stringify(options),
      ]);
    await insert(2024, { drill: true, dueTime: '17:00' });
    await insert(2025, {});
  });

  test('its page opens with the 演练 banner and carries the mark in its heading and title', async () => {
    const cookie = await signIn(ctx.viewer);
    const res = await open('/dashboard/cycles/2024', cookie);
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/<section class="drill" role="note">/);
    expect(res.body).toContain('<title>2024 年度督办（演练）</title>');
    const page = text(res.body);
    expect(page).toContain('演练 这是演练周期，不是正式督办周期。');
    expect(page).toContain('本周期的通知、报送和年度报告都是练习数据，不作为督办依据。');
    expect(page).toMatch(/2024 年度周期 演练 · 当前/);
    // The banner comes before everything else on the page.
    expect(res.body.indexOf('class="drill"')).toBeLessThan(res.body.indexOf('年度周期'));
    // Still a full cycle page: the grid and the links.
    expect(viewLinks(res.body)[0]).toBe('/api/cycles/2024/report?format=html');
  });

  test('a real cycle has no banner and no mark', async () => {
    const cookie = await signIn(ctx.viewer);
    for (const year of [YEAR, 2025]) {
      const res = await open(`/dashboard/cycles/${year}`, cookie);
      expect({ year, status: res.statusCode }).toEqual({ year, status: 200 });
      expect(res.body).not.toContain('class="drill"');
      expect(res.body).not.toContain('演练');
    }
  });

  test('the overview marks the drill and only the drill', async () => {
    const cookie = await signIn(ctx.viewer);
    const res = await open('/dashboard', cookie);
    const rows = [...res.body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => text(m[1]!).trim());
    const row = (year: number) => rows.find((r) => r.startsWith(`${year} 年`)) ?? '';
    expect(row(2024)).toMatch(/^2024 年 演练 /);
    for (const year of [YEAR, 2025]) expect(row(year)).toMatch(new RegExp(`^${year} 年 \\d`));
    expect(res.body.match(/class="badge drill"/g)).toHaveLength(1);
  });
});
