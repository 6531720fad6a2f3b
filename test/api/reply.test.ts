/**
 * The reply page: signed links, the form, the receipt, and the submission path's guarantees —
 * a report is "received" only once Temporal accepted it, a repeat counts once, nothing is half-stored.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities, cycleScheduleFor } from '../../activities';
import { buildApp } from '../../api/app';
import { parseLinkKeys, signLink, type LinkClaims } from '../../common/links';
import { loadApiConfig } from '../../config';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { toShanghaiIso } from '../../domain/schedule';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { annualCycle } from '../../workflows';
import { statusQuery, workPointWorkflowId, type WorkPointStatus } from '../../workflows/definitions';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createDevServerEnv, workflowBundle } from '../helpers/temporal';
import { until } from '../helpers/wait';

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
  });

async function status(): Promise<WorkPointStatus> {
  return env.client.workflow.getHandle(workPointWorkflowId(YEAR, WP)).query(statusQuery);
}

async function startWorker() {
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ pool: db.pool, publicBaseUrl: 'http://duban.test', linkSecret: SECRET }),
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
  expect(cycleScheduleFor(YEAR, options).periods).toHaveLength(2);
  await startWorker();
  await env.client.workflow.start(annualCycle, {
    taskQueue: TASK_QUEUE,
    workflowId: `cycle-${YEAR}`,
    args: [{ year: YEAR, planId, options }],
  });
  await until('the work point projection', async () => {
    const { rows } = await db.pool.query('SELECT 1 FROM work_point_obligations WHERE workflow_id = $1', [
      workPointWorkflowId(YEAR, WP),
    ]);
    return rows.length > 0 ? true : undefined;
  });
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
  expect(receipt).toMatch(/^2023-05-[0-9A-F]{8}$/);
  const again = await app.inject({ method: 'POST', url: `/r/${t}`, ...form });
  expect(again.statusCode).toBe(200);
  expect(again.body).toContain(receipt);
  expect(again.body).toContain('重复提交只计一次');

  await until('the stored report', async () => {
    const { rows } = await db.pool.query('SELECT unit_id, attachments FROM reports WHERE submission_id = $1', [
      submissionId,
    ]);
    return rows[0] as { unit_id: string; attachments: { sha256: string }[] } | undefined;
  });
  const { rows } = await db.pool.query('SELECT unit_id, attachments FROM reports WHERE submission_id = $1', [
    submissionId,
  ]);
  expect(rows).toHaveLength(1);
  expect(rows[0].unit_id).toBe(town);
  const files = await db.pool.query('SELECT sha256, size FROM attachments WHERE submission_id = $1', [submissionId]);
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

test('with Temporal unreachable the page answers 503, keeps the typed text and stores nothing', async () => {
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
    for (const table of ['attachments', 'receipts']) {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE submission_id = $1`, [
        submissionId,
      ]);
      expect(rows[0].n).toBe(0);
    }
  } finally {
    await down.close();
    await deadClient.connection.close();
  }
}, 30_000);

test('with the worker stopped a department still gets its receipt; after the worker restarts the report is stored exactly once', async () => {
  await stopWorker();
  const community = unitId('示例第二中心社区');
  const submissionId = randomUUID();
  const res = await app.inject({
    method: 'POST',
    url: `/r/${token({ u: community })}`,
    ...multipart({ submissionId, text: '停机时提交' }),
  });
  expect(res.statusCode).toBe(200);
  expect(res.body).toContain('已收到');
  const { rows: before } = await db.pool.query('SELECT count(*)::int AS n FROM reports WHERE submission_id = $1', [
    submissionId,
  ]);
  expect(before[0].n).toBe(0);
  const page = await app.inject({ method: 'GET', url: `/r/${token({ u: community })}` });
  expect(page.body).toContain('已受理，正在入库');

  await startWorker();
  await until('the report', async () => {
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM reports WHERE submission_id = $1', [
      submissionId,
    ]);
    return rows[0].n > 0 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 500));
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM reports WHERE submission_id = $1', [
    submissionId,
  ]);
  expect(rows[0].n).toBe(1);
}, 60_000);
