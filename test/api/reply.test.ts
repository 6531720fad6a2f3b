/**
 * The reply page: signed links, the form, the receipt, and the submission path's guarantees —
 * a report is "received" only once Temporal accepted it, a repeat counts once, nothing is half-stored.
 *
 * Above ~400 lines on purpose: the scenarios share one running cycle and worker (tens of seconds to build), and
 * each guarantee reads best next to the others it depends on.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { cycleSchedule } from '../../domain/cycle-schedule';
import { buildApp } from '../../api/app';
import { scopedSubmissionId } from '../../api/routes/reply';
import { parseLinkKeys, signLink, type LinkClaims } from '../../common/links';
import { loadApiConfig } from '../../config';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { toShanghaiIso } from '../../domain/schedule';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { type WorkPointStatus } from '../../domain/model';
import {
  extendDeadlineSignal,
  removeUnitSignal,
  statusQuery,
  waiveSignal,
  workPointWorkflowId,
} from '../../workflows/shared';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createDevServerEnv } from '../helpers/temporal';
import { until } from '../helpers/wait';
import { createTestWorker, startTestCycle, waitForWorkPoint } from '../helpers/worker';

const SECRET = 'reply-test-secret-0123456789abcdef0123';
const TASK_QUEUE = 'reply-test';
const YEAR = 2023;
const WP = 5; // 落实市场准入负面清单制度: responsible 中川镇, 各中心社区, 园区相关部门

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let app: FastifyInstance;
let worker: Worker;
let workerRun: Promise<void>;

const unitId = (name: string) => DEMO_UNIT_DIRECTORY.units.find((u) => u.name === name)!.id;
const token = (claims: Partial<LinkClaims> & { u: string }) =>
  signLink(parseLinkKeys(SECRET), {
    y: YEAR,
    wp: WP,
    p: 'report',
    per: 'H1',
    exp: Math.floor(Date.now() / 1000) + 3600,
    ...claims,
  });

function multipart(fields: Record<string, string>, files: { name: string; type: string; data: Buffer }[] = []) {
  const boundary = `----duban${randomUUID()}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  for (const f of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`,
      ),
      f.data,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const config = (databaseUrl: string) =>
  loadApiConfig({
    DATABASE_URL: databaseUrl,
    LINK_SECRET: SECRET,
    LOG_LEVEL: 'silent',
    TEMPORAL_ADDRESS: '127.0.0.1:7233',
    // Short, so that the worker-outage test does not wait long for its "not confirmed".
    REPLY_TIMEOUT_MS: '4000',
  });

/** The id the workflow and the database know a form by (scoped to the link it was sent from). */
const scoped = (unit: string, formId: string, periodId = 'H1') =>
  scopedSubmissionId({ year: YEAR, workPoint: WP, unitId: unit, purpose: 'report', periodId }, formId);

async function status(): Promise<WorkPointStatus> {
  return env.client.workflow.getHandle(workPointWorkflowId(YEAR, WP)).query(statusQuery);
}

async function startWorker() {
  worker = await createTestWorker({
    connection: env.nativeConnection,
    pool: db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: SECRET,
  });
  workerRun = worker.run();
}
async function stopWorker() {
  worker.shutdown();
  await workerRun;
}

beforeAll(async () => {
  // A real dev server, not the time-skipping one: this file stops and restarts its worker, and only a real server
  // hands a stopped worker's sticky tasks to the new one (work points persist through local activities, which
  // need the workflow cache, so the cache cannot be turned off instead).
  [env, db] = await Promise.all([createDevServerEnv(), createTestDatabase()]);
  await importDirectory(db.pool, DEMO_UNIT_DIRECTORY, { demo: true });
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(text);
  const { id: planId } = await savePlan(db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);
  // The real 2023 schedule lies in the test server's past; start H1 now and due in 20 days.
  const now = await env.currentTimeMs();
  const options = {
    periods: [
      { id: 'H1', label: '上半年', opens: toShanghaiIso(now), due: toShanghaiIso(now + 20 * 86_400_000) },
      { id: 'annual', label: '全年', due: toShanghaiIso(now + 200 * 86_400_000) },
    ],
    reminderBefore: 'P3D',
    leadEscalationAfter: 'P3D',
    officeEscalationAfter: 'P5D',
    review: {
      request: toShanghaiIso(now + 201 * 86_400_000),
      summaryDue: toShanghaiIso(now + 230 * 86_400_000),
      rating: toShanghaiIso(now + 240 * 86_400_000),
    },
  };
  expect(cycleSchedule(YEAR, options).periods).toHaveLength(2);
  await startWorker();
  await startTestCycle(env.client, { year: YEAR, planId, taskQueue: TASK_QUEUE, options });
  await waitForWorkPoint(db.pool, YEAR, WP);
  app = await buildApp(config(db.url), { pool: db.pool, temporal: env.client });
}, 120_000);

afterAll(async () => {
  await app?.close();
  if (worker?.getState() === 'RUNNING') await stopWorker();
  await env?.teardown();
  await db?.drop();
});

test('the link opens the work point for its unit, with due date and time left, and records 签收', async () => {
  const town = unitId('中川镇');
  const res = await app.inject({ method: 'GET', url: `/r/${token({ u: town })}` });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  expect(res.body).toContain('第5条 落实市场准入负面清单制度');
  expect(res.body).toContain('中川镇');
  expect(res.body).toMatch(/还剩 \d+ 个工作日|还剩 \d+ 天/);
  expect(res.body).toContain('name="submissionId"');
  await until('签收', async () =>
    (await status()).obligations.find((o) => o.unitId === town)?.acknowledgedAt ? true : undefined,
  );
  expect((await status()).obligations.find((o) => o.unitId === town && o.periodId === 'H1')?.state).toBe(
    'acknowledged',
  );
});

test('a report with an evidence file gets a receipt once Temporal accepted it; the same form again counts once', async () => {
  const town = unitId('中川镇');
  const t = token({ u: town });
  const submissionId = randomUUID();
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from('佐证材料')]);
  // A unitId field cannot redirect the report to another unit: the token decides.
  const form = multipart({ submissionId, text: '已完成负面清单梳理。', unitId: unitId('经发局') }, [
    { name: '清单.pdf', type: 'application/pdf', data: pdf },
  ]);
  const first = await app.inject({ method: 'POST', url: `/r/${t}`, ...form });
  expect(first.statusCode).toBe(200);
  expect(first.body).toContain('已收到');
  const receipt = /class="receipt">([^<]+)</.exec(first.body)?.[1];
  expect(receipt).toMatch(/^2023-05-[0-9A-F]{10}$/);
  // 已收到 is a promise: the report is in PostgreSQL when the page says so, not later.
  const stored = scoped(town, submissionId);
  const { rows } = await db.pool.query('SELECT unit_id, attachments FROM reports WHERE submission_id = $1', [stored]);
  expect(rows).toHaveLength(1);
  expect(rows[0].unit_id).toBe(town);
  const again = await app.inject({ method: 'POST', url: `/r/${t}`, ...form });
  expect(again.statusCode).toBe(200);
  expect(again.body).toContain(receipt);
  expect(again.body).toContain('重复提交只计一次');
  const { rows: once } = await db.pool.query('SELECT count(*)::int AS n FROM reports WHERE unit_id = $1', [town]);
  expect(once[0].n).toBe(1);
  const files = await db.pool.query('SELECT sha256, size FROM attachments WHERE submission_id = $1', [stored]);
  expect(files.rows).toEqual([{ sha256: rows[0].attachments[0].sha256, size: pdf.length }]);
  const s = await status();
  expect(s.obligations.find((o) => o.unitId === town && o.periodId === 'H1')).toMatchObject({
    state: 'submitted',
    submissions: 1,
  });

  const page = await app.inject({ method: 'GET', url: `/r/${t}` });
  expect(page.body).toContain('已完成负面清单梳理。');
  expect(page.body).toContain(receipt);
  expect(page.body).toContain('清单.pdf');
});

test('forged, malformed and expired links are refused with pages that say what to do', async () => {
  const good = token({ u: unitId('中川镇') });
  const forged = good.slice(0, -3) + (good.endsWith('AAA') ? 'BBB' : 'AAA');
  const other = signLink(parseLinkKeys('another-secret-entirely-0123456789abcdef'), {
    y: YEAR,
    wp: WP,
    u: unitId('中川镇'),
    p: 'report',
    per: 'H1',
    exp: 4_000_000_000,
  });
  for (const t of [forged, 'not-a-token', other]) {
    const res = await app.inject({ method: 'GET', url: `/r/${t}` });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('链接无效');
    const post = await app.inject({
      method: 'POST',
      url: `/r/${t}`,
      ...multipart({ submissionId: randomUUID(), text: 'x' }),
    });
    expect(post.statusCode).toBe(403);
  }
  const expired = await app.inject({
    method: 'GET',
    url: `/r/${token({ u: unitId('中川镇'), exp: Math.floor(Date.now() / 1000) - 60 })}`,
  });
  expect(expired.statusCode).toBe(410);
  expect(expired.body).toContain('重新发送');
});

test("a unit's link for a work point it is not assigned to is refused, and nothing reaches the workflow", async () => {
  const finance = unitId('财政局'); // not among item 5's units
  const t = token({ u: finance });
  expect((await app.inject({ method: 'GET', url: `/r/${t}` })).statusCode).toBe(403);
  const res = await app.inject({
    method: 'POST',
    url: `/r/${t}`,
    ...multipart({ submissionId: randomUUID(), text: '不应受理' }),
  });
  expect(res.statusCode).toBe(403);
  expect(res.body).toContain('不承担');
});

test('bad input is answered on the form with the text kept: empty text, a disguised file', async () => {
  const t = token({ u: unitId('中川镇') });
  const empty = await app.inject({
    method: 'POST',
    url: `/r/${t}`,
    ...multipart({ submissionId: randomUUID(), text: '   ' }),
  });
  expect(empty.statusCode).toBe(422);
  expect(empty.body).toContain('请填写报告内容');
  const exe = await app.inject({
    method: 'POST',
    url: `/r/${t}`,
    ...multipart({ submissionId: randomUUID(), text: '保留的文字' }, [
      { name: 'virus.pdf', type: 'application/pdf', data: Buffer.from('MZ\x90\x00') },
    ]),
  });
  expect(exe.statusCode).toBe(422);
  expect(exe.body).toContain('不是允许的类型');
  expect(exe.body).toContain('保留的文字');
});

test('with Temporal unreachable the page answers 503, keeps the typed text and stores no report and no receipt', async () => {
  const deadClient = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const down = await buildApp(config(db.url), { pool: db.pool, temporal: deadClient });
  try {
    const submissionId = randomUUID();
    const res = await down.inject({
      method: 'POST',
      url: `/r/${token({ u: unitId('示例第一中心社区') })}`,
      ...multipart({ submissionId, text: '断网时写的报告' }, [
        { name: 'a.png', type: 'image/png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2]) },
      ]),
    });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('断网时写的报告');
    expect(res.body).toContain(submissionId); // the retry reuses the same submission id
    // No report and no receipt; the file waits aside for the same form to be sent again (see below).
    for (const table of ['reports', 'receipts']) {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE submission_id = $1`, [
        scoped(unitId('示例第一中心社区'), submissionId),
      ]);
      expect(rows[0].n).toBe(0);
    }
    // The same form once Temporal is back: received once, and only the files of the attempt taken remain.
    const retry = await app.inject({
      method: 'POST',
      url: `/r/${token({ u: unitId('示例第一中心社区') })}`,
      ...multipart({ submissionId, text: '断网时写的报告' }, [
        { name: 'a.png', type: 'image/png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2]) },
      ]),
    });
    expect(retry.statusCode).toBe(200);
    const id = scoped(unitId('示例第一中心社区'), submissionId);
    const { rows: kept } = await db.pool.query<{ id: string }>('SELECT id FROM attachments WHERE submission_id = $1', [
      id,
    ]);
    const { rows: report } = await db.pool.query<{ attachments: { id: string }[] }>(
      'SELECT attachments FROM reports WHERE submission_id = $1',
      [id],
    );
    expect(kept.map((r) => r.id)).toEqual(report[0]?.attachments.map((a) => a.id));
  } finally {
    await down.close();
    await deadClient.connection.close();
  }
}, 30_000);

test('with the worker stopped nobody is told 已收到; the same form after the restart is stored once and receipted', async () => {
  await stopWorker();
  const community = unitId('示例第二中心社区');
  const submissionId = randomUUID();
  const form = multipart({ submissionId, text: '停机时提交' });
  const res = await app.inject({ method: 'POST', url: `/r/${token({ u: community })}`, ...form });
  expect(res.statusCode).toBe(503);
  expect(res.body).not.toContain('已收到');
  expect(res.body).toContain('尚未收到');
  expect(res.body).toContain('停机时提交');
  const { rows: receipts } = await db.pool.query('SELECT count(*)::int AS n FROM receipts WHERE unit_id = $1', [
    community,
  ]);
  expect(receipts[0].n).toBe(0);

  await startWorker();
  // The retry the page asks for: the update the server held may have gone through meanwhile; either way it counts once.
  const retry = await app.inject({ method: 'POST', url: `/r/${token({ u: community })}`, ...form });
  expect(retry.statusCode).toBe(200);
  expect(retry.body).toContain('已收到');
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM reports WHERE submission_id = $1', [
    scoped(community, submissionId),
  ]);
  expect(rows[0].n).toBe(1);
}, 60_000);

describe('the workflow is the judge: a refusal is answered with its reason, never with a receipt', () => {
  const handle = () => env.client.workflow.getHandle(workPointWorkflowId(YEAR, WP));
  const post = (u: string, text: string, periodId = 'H1', submissionId: string = randomUUID()) =>
    app.inject({ method: 'POST', url: `/r/${token({ u, per: periodId })}`, ...multipart({ submissionId, text }) });
  const receiptsOf = async (u: string, periodId: string) =>
    (await db.pool.query('SELECT count(*)::int AS n FROM receipts WHERE unit_id = $1 AND period = $2', [u, periodId]))
      .rows[0].n as number;
  const reportsOf = async (u: string, periodId: string) =>
    (
      await db.pool.query(
        'SELECT count(*)::int AS n FROM reports WHERE unit_id = $1 AND period = $2 AND work_point = $3',
        [u, periodId, WP],
      )
    ).rows[0].n as number;

  test('a waived unit is told its report was not taken, and why', async () => {
    const u = unitId('示例第三中心社区');
    await handle().signal(waiveSignal, { unitId: u, periodId: 'H1', reason: '机构调整', by: 'test' });
    await until('waived', async () =>
      (await status()).obligations.find((o) => o.unitId === u && o.periodId === 'H1')?.state === 'waived'
        ? true
        : undefined,
    );
    const res = await post(u, '免报后仍提交');
    expect(res.statusCode).toBe(409);
    expect(res.body).not.toContain('已收到');
    expect(res.body).toContain('免报');
    expect(res.body).toContain('免报后仍提交'); // the text stays on the page
    expect(await receiptsOf(u, 'H1')).toBe(0);
    expect(await reportsOf(u, 'H1')).toBe(0);
  });

  test('a unit removed from the work point is refused', async () => {
    const u = (await status()).units.find((x) => !['中川镇'].includes(x.name) && !x.name.includes('中心社区'));
    if (!u) throw new Error('work point 5 has a department besides the town and the communities');
    await handle().signal(removeUnitSignal, { unitId: u.id, reason: '职责调整', by: 'test' });
    await until('removed', async () => ((await status()).units.some((x) => x.id === u.id) ? undefined : true));
    const res = await post(u.id, '移出后提交');
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('已收到');
    expect(await receiptsOf(u.id, 'H1')).toBe(0);
    expect(await reportsOf(u.id, 'H1')).toBe(0);
  });

  test('two different reports racing after the due date: one is taken (late), the other refused', async () => {
    const u = unitId('中川镇');
    const past = (await env.currentTimeMs()) - 3_600_000;
    await handle().signal(extendDeadlineSignal, {
      unitIds: [u],
      periodId: 'annual',
      newDueAt: past,
      reason: '测试：已过截止时间',
      by: 'test',
    });
    await until('due date moved', async () =>
      (await status()).obligations.find((o) => o.unitId === u && o.periodId === 'annual')?.dueAt === past
        ? true
        : undefined,
    );
    const [a, b] = await Promise.all([post(u, '逾期报告甲', 'annual'), post(u, '逾期报告乙', 'annual')]);
    const answers = [a, b].map((r) => r.statusCode).sort();
    expect(answers).toEqual([200, 409]);
    const refused = a.statusCode === 409 ? a : b;
    expect(refused.body).not.toContain('已收到');
    expect(refused.body).toContain('本期已截止且已报送');
    expect(await receiptsOf(u, 'annual')).toBe(1);
    expect(await reportsOf(u, 'annual')).toBe(1);
    const { rows } = await db.pool.query('SELECT late FROM reports WHERE unit_id = $1 AND period = $2', [u, 'annual']);
    expect(rows[0].late).toBe(true);
    // A third try later is refused too.
    const late = await post(u, '逾期报告丙', 'annual');
    expect(late.statusCode).toBe(409);
    expect(await reportsOf(u, 'annual')).toBe(1);
  });

  test('a double click (the same form twice at once) gets one receipt and one report, the second told it counted once', async () => {
    const u = unitId('示例第三中心社区');
    const form = multipart({ submissionId: randomUUID(), text: '双击提交的全年报告' });
    const url = `/r/${token({ u, per: 'annual' })}`;
    const [a, b] = await Promise.all([
      app.inject({ method: 'POST', url, ...form }),
      app.inject({ method: 'POST', url, ...form }),
    ]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const receipt = (res: { body: string }) => /class="receipt">([^<]+)</.exec(res.body)?.[1];
    expect(receipt(a)).toBeDefined();
    expect(receipt(a)).toBe(receipt(b));
    expect([a, b].filter((r) => r.body.includes('重复提交只计一次'))).toHaveLength(1);
    expect(await reportsOf(u, 'annual')).toBe(1);
  });

  test("another unit's form id neither fetches this unit's receipt nor swallows its report", async () => {
    const first = unitId('示例第一中心社区');
    const second = unitId('示例第二中心社区');
    const shared = randomUUID();
    const a = await post(first, '第一社区全年报告', 'annual', shared);
    expect(a.statusCode).toBe(200);
    const b = await post(second, '第二社区全年报告', 'annual', shared);
    expect(b.statusCode).toBe(200);
    expect(b.body).toContain('已收到');
    expect(b.body).not.toContain('重复提交只计一次');
    const receipt = (res: { body: string }) => /class="receipt">([^<]+)</.exec(res.body)?.[1];
    expect(receipt(b)).not.toBe(receipt(a));
    expect(await reportsOf(first, 'annual')).toBe(1);
    expect(await reportsOf(second, 'annual')).toBe(1);
  });

  test('a link is used only for what it was signed for: purpose and period are enforced', async () => {
    const u = unitId('示例第一中心社区');
    const links = [
      token({ u, p: 'acknowledge' }),
      token({ u, per: 'Q9' }), // a period this cycle does not have
      token({ u, per: undefined }),
    ];
    for (const t of links) {
      const get = await app.inject({ method: 'GET', url: `/r/${t}` });
      expect(get.statusCode).toBe(403);
      const res = await app.inject({
        method: 'POST',
        url: `/r/${t}`,
        ...multipart({ submissionId: randomUUID(), text: 'x' }),
      });
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('链接无效');
    }
  });

  test("an upload's memory is bounded: files over 20 MB together are refused with the text kept", async () => {
    const u = unitId('示例第一中心社区');
    const pdf = (n: number) => Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(n)]);
    const submissionId = randomUUID();
    const form = multipart({ submissionId, text: '附件过大的报告' }, [
      { name: 'a.pdf', type: 'application/pdf', data: pdf(8 * 1024 * 1024) },
      { name: 'b.pdf', type: 'application/pdf', data: pdf(8 * 1024 * 1024) },
      { name: 'c.pdf', type: 'application/pdf', data: pdf(8 * 1024 * 1024) },
    ]);
    const res = await app.inject({ method: 'POST', url: `/r/${token({ u, per: 'annual' })}`, ...form });
    expect(res.statusCode).toBe(413);
    expect(res.body).toContain('合计不超过 20 MB');
    expect(res.body).toContain('附件过大的报告');
    const stored = await db.pool.query('SELECT count(*)::int AS n FROM attachments WHERE submission_id = $1', [
      scoped(u, submissionId, 'annual'),
    ]);
    expect(stored.rows[0].n).toBe(0);
  });

  test('a multipart form without a boundary, or cut short, is a 400 that keeps nothing', async () => {
    const u = unitId('示例第一中心社区');
    const t = token({ u });
    const noBoundary = await app.inject({
      method: 'POST',
      url: `/r/${t}`,
      headers: { 'content-type': 'multipart/form-data' },
      payload: 'submissionId=x',
    });
    expect(noBoundary.statusCode).toBe(400);
    const full = multipart({ submissionId: randomUUID(), text: '被截断的报告' }, [
      { name: 'a.pdf', type: 'application/pdf', data: Buffer.from('%PDF-1.4 some bytes') },
    ]);
    const cut = await app.inject({
      method: 'POST',
      url: `/r/${t}`,
      headers: full.headers,
      payload: full.payload.subarray(0, full.payload.length - 30),
    });
    expect(cut.statusCode).toBe(400);
    expect(cut.body).toContain('表单数据不完整');
    expect(cut.body).not.toContain('已收到');
  });
});
