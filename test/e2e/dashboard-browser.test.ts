// Callbacks passed to page.$$eval run in the browser: they need the DOM types.
/// <reference lib="dom" />
/**
 * The office's view of a year: the seed cycle run to mid-year on the time-skipping server with
 * scripted units, then the dashboard (login form, grid in red / yellow / green, "as of" a past date)
 * and the annual report (HTML, CSV and Excel opened from the dashboard's links with its sign-in cookie;
 * JSON) — looked at in Debian's Chromium, with screenshots saved to test/artifacts/. Then the year is
 * rated and its unfinished items carried over, and a rehearsal cycle shows its 演练 banner.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import ExcelJS from 'exceljs';
import type { Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { cycleSchedule } from '../../domain/cycle-schedule';
import { buildApp } from '../../api/app';
import { loadApiConfig } from '../../config';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { toShanghaiIso } from '../../domain/schedule';
import { savePlan } from '../../db/plans-repo';
import { createToken } from '../../db/tokens-repo';
import { importDirectory } from '../../db/units-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { type CycleSchedule } from '../../domain/model';
import {
  rateReviewSignal,
  reportSignal,
  returnReportSignal,
  statusQuery,
  workPointWorkflowId,
} from '../../workflows/shared';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { launchChromium } from '../helpers/browser';
import { shiftedOptions } from '../helpers/schedule';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { createTestWorker, startTestCycle } from '../helpers/worker';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const YEAR = 2023;
const TASK_QUEUE = 'dashboard-e2e';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let app: FastifyInstance;
let worker: Worker;
let workerRun: Promise<void>;
let browser: Browser;
let baseUrl: string;
let admin: string;
let schedule: CycleSchedule;

const iso = (ms: number) => toShanghaiIso(ms);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [env, db] = await Promise.all([createTimeSkippingEnv(), createTestDatabase()]);
  await importDirectory(db.pool, DEMO_UNIT_DIRECTORY, { demo: true });
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(text);
  const { id: planId } = await savePlan(db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);
  admin = (await createToken(db.pool, { name: 'office-e2e', role: 'admin' })).token;

  // The real 2023 schedule, moved to the test server's clock (which cannot go back to 2023).
  const real = cycleSchedule(YEAR, {});
  const shift = (await env.currentTimeMs()) + HOUR - real.periods[0]!.opensAt;
  const options = shiftedOptions(real, shift);
  schedule = cycleSchedule(YEAR, options);

  worker = await createTestWorker({
    connection: env.nativeConnection,
    pool: db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: 'x'.repeat(40),
  });
  workerRun = worker.run();
  await startTestCycle(env.client, { year: YEAR, planId, taskQueue: TASK_QUEUE, options });

  app = await buildApp(
    loadApiConfig({
      DATABASE_URL: db.url,
      LINK_SECRET: 'x'.repeat(40),
      LOG_LEVEL: 'warn',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
    }),
    { pool: db.pool, temporal: env.client },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (worker) {
    worker.shutdown();
    await workerRun;
  }
  await env?.teardown();
  await db?.drop();
});

async function sleepUntil(t: number) {
  const now = await env.currentTimeMs();
  if (t > now) await env.sleep(t - now);
}

test('mid-year the dashboard shows the seed cycle in red, yellow and green, also as of a past date; the annual report renders and exports', async () => {
  const h1 = schedule.periods[0]!;
  await sleepUntil(h1.opensAt + DAY);
  const handles = Array.from({ length: 29 }, (_, i) => env.client.workflow.getHandle(workPointWorkflowId(YEAR, i + 1)));
  const units = await Promise.all(handles.map(async (h) => (await h.query(statusQuery)).units));

  // n % 3 == 0: everyone on time (green); == 1: the first unit never reports (red);
  // == 2: everyone on time, then the first unit's report is returned after the due date (yellow).
  await sleepUntil(h1.reminderAt - DAY);
  for (const [i, h] of handles.entries()) {
    const n = i + 1;
    for (const [j, u] of units[i]!.entries()) {
      if (n % 3 === 1 && j === 0) continue;
      await h.signal(reportSignal, {
        unitId: u.id,
        periodId: 'H1',
        submissionId: `${n}-${u.id}`,
        text: '上半年进展',
        submittedAt: await env.currentTimeMs(),
      });
    }
  }
  await sleepUntil(h1.officeEscalationAt + DAY);
  for (const [i, h] of handles.entries()) {
    if ((i + 1) % 3 === 2)
      await h.signal(returnReportSignal, {
        unitId: units[i]![0]!.id,
        periodId: 'H1',
        reason: '请补充数据',
        by: 'office',
      });
  }
  const midYear = (await env.currentTimeMs()) + HOUR;
  await sleepUntil(midYear);
  // The projection is written by the workflows; wait until every returned report shows there.
  for (let tries = 0; ; tries++) {
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM work_point_obligations WHERE state = 'returned'",
    );
    if (rows[0]!.n >= 9 || tries > 100) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/dashboard/cycles/${YEAR}`);
  expect(page.url()).toContain('/dashboard/login');
  await page.fill('input[name="token"]', 'wrong-token');
  await page.click('button[type="submit"]');
  expect(await page.textContent('body')).toContain('令牌无效');
  await page.fill('input[name="token"]', admin);
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);

  const asOf = encodeURIComponent(iso(midYear));
  await page.goto(`${baseUrl}/dashboard/cycles/${YEAR}?asOf=${asOf}`);
  const lights = await page.$$eval('th.wp .badge', (els) =>
    els.map((e) => (e.getAttribute('class') ?? '').replace('badge ', '')),
  );
  expect(lights).toHaveLength(29);
  const expected = Array.from({ length: 29 }, (_, i) => ['green', 'red', 'yellow'][(i + 1) % 3]);
  expect(lights).toEqual(expected);
  for (const c of ['c-red', 'c-yellow', 'c-green']) expect(await page.locator(`td.${c}`).count()).toBeGreaterThan(0);
  const uiLinks = await page.$$eval('th.wp a', (els) => els.map((e) => e.getAttribute('href') ?? ''));
  expect(uiLinks[6]).toMatch(/\/namespaces\/default\/workflows\/wp-2023-07$/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-midyear.png'), fullPage: true });

  // As of a date before the H1 reminder nothing is late yet: every work point is green.
  await page.goto(`${baseUrl}/dashboard/cycles/${YEAR}?asOf=${encodeURIComponent(iso(h1.reminderAt - 2 * DAY))}`);
  const early = await page.$$eval('th.wp .badge', (els) =>
    els.map((e) => (e.getAttribute('class') ?? '').replace('badge ', '')),
  );
  expect(new Set(early)).toEqual(new Set(['green']));
  // Filter by unit and state: only work points where that unit is escalated to the office.
  const town = DEMO_UNIT_DIRECTORY.units.find((u) => u.name === '中川镇')!.id;
  await page.goto(`${baseUrl}/dashboard/cycles/${YEAR}?asOf=${asOf}&unit=${town}&state=escalated-office`);
  const filtered = await page.$$eval('th.wp a', (els) => els.map((e) => e.textContent ?? ''));
  const townFirst = units.flatMap((us, i) => ((i + 1) % 3 === 1 && us[0]?.id === town ? [i + 1] : []));
  expect(filtered.map((t) => Number(t.split('.')[0]))).toEqual(townFirst);

  // The annual report, provisional at mid-year.
  const auth = { authorization: `Bearer ${admin}` };
  const json = await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}/report?asOf=${asOf}`, headers: auth });
  expect(json.statusCode).toBe(200);
  const report = json.json<{
    final: boolean;
    workPoints: unknown[];
    units: { rank: number | null; onTimeRate: number | null }[];
    totals: { missing: number };
  }>();
  expect(report.final).toBe(false);
  expect(report.workPoints).toHaveLength(29);
  expect(report.totals.missing).toBe(10); // work points 1, 4, …, 28: one unit each never reported H1
  expect(report.units[0]!.rank).toBe(1);
  // From the dashboard, with nothing but its sign-in cookie: the Excel and CSV downloads, then the printable page.
  await page.goto(`${baseUrl}/dashboard/cycles/${YEAR}?asOf=${asOf}`);
  const download = async (name: string) => {
    const [file] = await Promise.all([page.waitForEvent('download'), page.click(`section.views a:text-is("${name}")`)]);
    expect(file.url()).toContain(`/api/cycles/${YEAR}/report?format=`);
    return { name: file.suggestedFilename(), body: readFileSync(await file.path()) };
  };
  const xlsx = await download('Excel');
  expect(xlsx.name).toBe(`duban-${YEAR}-annual-report.xlsx`);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(xlsx.body as unknown as ArrayBuffer);
  expect(wb.worksheets.map((w) => w.name)).toEqual(['要点', '单位排名', '明细', '结转候选']);
  expect(wb.getWorksheet('要点')!.rowCount).toBe(30);
  const csv = await download('CSV');
  expect(csv.name).toBe(`duban-${YEAR}-annual-report.csv`);
  expect(csv.body.toString('utf8').startsWith('\ufeff年度,要点,标题')).toBe(true);
  await Promise.all([page.waitForNavigation(), page.click('section.views a:text-is("网页版")')]);
  expect(page.url()).toBe(`${baseUrl}/api/cycles/${YEAR}/report?format=html&asOf=${asOf}`);
  expect(await page.textContent('body')).toContain('各单位按时报送率');
  expect(await page.locator('svg').count()).toBe(2);
  await page.screenshot({ path: path.join(ARTIFACTS, 'annual-report.png'), fullPage: true });
  await context.close();
}, 180_000);

test('after the year-end rating the report is final and the unfinished items carry over into next year with a link to their origin', async () => {
  await sleepUntil(schedule.review.requestAt + HOUR);
  for (let n = 1; n <= 29; n++) {
    await env.client.workflow.getHandle(workPointWorkflowId(YEAR, n)).signal(rateReviewSignal, {
      rating: n % 7 === 0 ? '未完成' : n % 5 === 0 ? '基本完成' : '完成',
      comment: '',
      by: 'office',
    });
  }
  await env.client.workflow.getHandle(`cycle-${YEAR}`).result();
  const auth = { authorization: `Bearer ${admin}` };
  const report = (await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}/report`, headers: auth })).json<{
    final: boolean;
    carryOver: { origin: { number: number } }[];
  }>();
  expect(report.final).toBe(true);
  const unfinished = Array.from({ length: 29 }, (_, i) => i + 1).filter((n) => n % 7 === 0 || n % 5 === 0);
  expect(report.carryOver.map((c) => c.origin.number)).toEqual(unfinished);

  const carried = await app.inject({
    method: 'POST',
    url: '/api/plans/carry-over',
    headers: auth,
    payload: { fromYear: YEAR, toYear: YEAR + 1 },
  });
  expect(carried.statusCode).toBe(201);
  const { id, workPoints } = carried.json<{ id: number; workPoints: number }>();
  expect(workPoints).toBe(unfinished.length);
  const { rows } = await db.pool.query<{
    number: number;
    origin: { year: number; number: number; workflowId: string };
  }>('SELECT number, origin FROM work_points WHERE plan_id = $1 ORDER BY number', [id]);
  expect(rows.map((r) => r.origin.number)).toEqual(unfinished);
  expect(rows[0]!.origin).toMatchObject({ year: YEAR, workflowId: workPointWorkflowId(YEAR, unfinished[0]!) });
  const again = await app.inject({
    method: 'POST',
    url: '/api/plans/carry-over',
    headers: auth,
    payload: { fromYear: YEAR, toYear: YEAR + 1 },
  });
  expect(again.statusCode).toBe(200);
  const viewer = (await createToken(db.pool, { name: 'viewer-e2e', role: 'viewer' })).token;
  const denied = await app.inject({
    method: 'POST',
    url: '/api/plans/carry-over',
    headers: { authorization: `Bearer ${viewer}` },
    payload: { fromYear: YEAR, toYear: YEAR + 1 },
  });
  expect(denied.statusCode).toBe(403);
}, 120_000);

test('a rehearsal cycle opens with the 演练 banner, and the overview marks it', async () => {
  const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM plans WHERE year = $1', [YEAR + 1]);
  // Only the record: what the dashboard reads of a drill is its stored options.
  await db.pool.query('INSERT INTO cycles (year, plan_id, workflow_id, options) VALUES ($1, $2, $3, $4)', [
    YEAR + 1,
    rows[0]!.id,
    `cycle-${YEAR + 1}`,
    JSON.stringify({ drill: true }),
  ]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/dashboard/login?next=${encodeURIComponent(`/dashboard/cycles/${YEAR + 1}`)}`);
  await page.fill('input[name="token"]', admin);
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  expect(page.url()).toBe(`${baseUrl}/dashboard/cycles/${YEAR + 1}`);
  const banner = page.locator('section.drill');
  expect(await banner.isVisible()).toBe(true);
  expect(await banner.textContent()).toContain('这是演练周期，不是正式督办周期');
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-drill.png'), fullPage: true });

  await page.goto(`${baseUrl}/dashboard`);
  const marked = await page.$$eval('tr', (trs) =>
    trs.filter((tr) => tr.querySelector('.badge.drill')).map((tr) => tr.querySelector('a')?.textContent ?? ''),
  );
  expect(marked).toEqual([`${YEAR + 1} 年`]);
  await context.close();
}, 60_000);
