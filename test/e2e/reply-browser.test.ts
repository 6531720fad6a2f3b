/// <reference lib="dom" />
/**
 * End to end, with real parts only: a Temporal dev server, PostgreSQL, the worker with its outbox
 * dispatcher, an SMTP server that receives the assignment mail, the API listening on a port, and
 * Debian's Chromium driven by playwright-core. A department opens the link from its mail, reads the
 * work point, submits a report with an evidence file and sees the receipt; the workflow then has it.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { Browser } from 'playwright-core';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { buildApp } from '../../api/app';
import { loadApiConfig } from '../../config';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { toShanghaiIso } from '../../domain/schedule';
import { UnitDirectorySchema } from '../../domain/units';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { ensureDispatcher } from '../../worker/dispatcher';
import { statusQuery, workPointWorkflowId } from '../../workflows/shared';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { launchChromium } from '../helpers/browser';
import { createDevServerEnv } from '../helpers/temporal';
import { until } from '../helpers/wait';
import { createTestWorker, startTestCycle } from '../helpers/worker';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const SECRET = 'e2e-link-secret-0123456789abcdef012345';
const TASK_QUEUE = 'e2e';
const YEAR = 2023;
const TOWN_EMAIL = 'zhongchuan@duban.test';

interface Mail {
  to: string;
  subject: string;
  text: string;
}

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let app: FastifyInstance;
let smtp: SMTPServer;
let worker: Worker;
let workerRun: Promise<void>;
let browser: Browser | undefined;
const mails: Mail[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [env, db] = await Promise.all([createDevServerEnv(), createTestDatabase()]);

  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((m) => {
          const to = Array.isArray(m.to) ? m.to.map((a) => a.text).join(',') : (m.to?.text ?? '');
          mails.push({ to, subject: m.subject ?? '', text: m.text ?? '' });
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  // The town gets its notices by email; everyone else keeps the demo's log channel.
  const units = DEMO_UNIT_DIRECTORY.units.map((u) =>
    u.name === '中川镇' ? { ...u, contacts: [{ channel: 'email' as const, address: TOWN_EMAIL }] } : u,
  );
  await importDirectory(db.pool, UnitDirectorySchema.parse({ ...DEMO_UNIT_DIRECTORY, units }));
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(text);
  const { id: planId } = await savePlan(db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);

  app = await buildApp(
    loadApiConfig({ DATABASE_URL: db.url, LINK_SECRET: SECRET, LOG_LEVEL: 'warn', TEMPORAL_ADDRESS: '127.0.0.1:7233' }),
    { pool: db.pool, temporal: env.client },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  worker = await createTestWorker({
    connection: env.nativeConnection,
    pool: db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: SECRET,
    publicBaseUrl: baseUrl,
    config: {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: smtpPort,
      SMTP_SECURE: false,
      SMTP_FROM: 'duban <duban@duban.test>',
      // A drill: every notice on its own and at once.
      DIGEST_ENABLED: false,
      DIGEST_BYPASS_KINDS: 'none',
      QUIET_HOURS: 'off',
    },
  });
  workerRun = worker.run();
  await ensureDispatcher(env.client, TASK_QUEUE, { intervalMs: 1000 });

  const now = Date.now();
  const day = 86_400_000;
  const options = {
    periods: [
      { id: 'H1', label: '上半年', opens: toShanghaiIso(now), due: toShanghaiIso(now + 20 * day) },
      { id: 'annual', label: '全年', due: toShanghaiIso(now + 200 * day) },
    ],
    reminderBefore: 'P3D',
    leadEscalationAfter: 'P3D',
    officeEscalationAfter: 'P5D',
    review: {
      request: toShanghaiIso(now + 201 * day),
      summaryDue: toShanghaiIso(now + 230 * day),
      rating: toShanghaiIso(now + 240 * day),
    },
  };
  await startTestCycle(env.client, { year: YEAR, planId, taskQueue: TASK_QUEUE, options });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (worker) {
    worker.shutdown();
    await workerRun;
  }
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  await env?.teardown();
  await db?.drop();
});

test('a department opens the link from its assignment mail, submits a report with an evidence file and gets a receipt; the workflow has the report', async () => {
  const mail = await until('the assignment mail for item 5', () =>
    mails.find((m) => m.to.includes(TOWN_EMAIL) && m.subject.includes('【交办】') && m.subject.includes('第5条')),
  );
  expect(mail.subject).toContain('落实市场准入负面清单制度');
  expect(mail.text).toMatch(/截止时间：\d{4}-\d{2}-\d{2} 18:00|截止时间：\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  const link = /(http:\/\/127\.0\.0\.1:\d+\/r\/[A-Za-z0-9_.-]+)/.exec(mail.text)?.[1];
  expect(link).toBeDefined();

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' });
  await page.goto(link!);
  expect(await page.textContent('body')).toContain('第5条 落实市场准入负面清单制度');
  expect(await page.textContent('body')).toContain('中川镇');
  await page.fill('textarea[name="text"]', '中川镇已完成市场准入负面清单的梳理，未发现清单外许可事项。');
  await page.setInputFiles('input[type="file"]', {
    name: '负面清单梳理表.pdf',
    mimeType: 'application/pdf',
    buffer: Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from('梳理表')]),
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'reply-form.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  const receiptText = await page.textContent('body');
  expect(receiptText).toContain('已收到');
  const receipt = await page.textContent('.receipt');
  expect(receipt).toMatch(/^2023-05-[0-9A-F]{10}$/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'reply-receipt.png'), fullPage: true });

  const town = DEMO_UNIT_DIRECTORY.units.find((u) => u.name === '中川镇')!.id;
  const handle = env.client.workflow.getHandle(workPointWorkflowId(YEAR, 5));
  const obligation = await until('the report in the workflow', async () => {
    const s = await handle.query(statusQuery);
    const o = s.obligations.find((x) => x.unitId === town && x.periodId === 'H1');
    return o?.state === 'submitted' ? o : undefined;
  });
  expect(obligation.submissions).toBe(1);
  const { rows } = await db.pool.query<{ attachments: { name: string }[] }>(
    "SELECT attachments FROM reports WHERE workflow_id = $1 AND unit_id = $2 AND period = 'H1'",
    [workPointWorkflowId(YEAR, 5), town],
  );
  expect(rows).toHaveLength(1);
  expect(rows[0]!.attachments.map((a) => a.name)).toEqual(['负面清单梳理表.pdf']);
}, 120_000);
