/**
 * Delivery of the outbox against real parts: a real SMTP server (smtp-server, mails parsed with mailparser),
 * a real HTTP server for webhooks, a fresh PostgreSQL database, and the activities as the worker builds them.
 * Notices enter through `notify`, exactly as the work-point workflow writes them.
 *
 * Above ~400 lines on purpose: every scenario shares the SMTP and HTTP peers and the database they are built on.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Pool } from 'pg';
import { createActivities, type ActivityDeps } from '../../activities';
import { createMailer, OUTCOME_UNKNOWN, SMTP_NOT_CONFIGURED, type DeliveryLogger } from '../../activities/delivery';
import { loadCalendar } from '../../domain/calendar';
import { parseInstant } from '../../domain/schedule';
import type { NoticeRequest } from '../../domain/model';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const bj = (local: string): number => parseInstant(`${local}:00+08:00`);
const MINUTE = 60_000;

// ─── a real SMTP server ──────────────────────────────────────────────────────────────────────────

interface ReceivedMail {
  rcpt: string[];
  user: string | undefined;
  mail: ParsedMail;
}

const mails: ReceivedMail[] = [];
let smtp: SMTPServer | undefined;
let smtpPort = 0;

async function startSmtp(port = 0): Promise<number> {
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, cb) {
      if (auth.username === 'duban' && auth.password === 's3cret') cb(null, { user: auth.username });
      else cb(new Error('invalid credentials'));
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((mail) => {
          mails.push({
            rcpt: session.envelope.rcptTo.map((r) => r.address),
            user: typeof session.user === 'string' ? session.user : undefined,
            mail,
          });
          cb();
        })
        .catch((err: Error) => cb(err));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  smtp = server;
  return (server.server.address() as AddressInfo).port;
}

async function stopSmtp(): Promise<void> {
  const server = smtp;
  smtp = undefined;
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
}

const toAddresses = (a: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((o) => o.value.map((v) => v.address ?? ''));

// ─── a real HTTP server for webhooks ─────────────────────────────────────────────────────────────

interface Hook {
  url: URL;
  headers: IncomingHttpHeaders;
  body: unknown;
}
const hooks: Hook[] = [];
let http: Server;
let httpBase = '';

async function startHttp(): Promise<void> {
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      hooks.push({ url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      if (url.pathname.startsWith('/broken')) {
        res.writeHead(503).end('maintenance');
      } else if (url.pathname.startsWith('/wecom-limited')) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"errcode":45009,"errmsg":"api freq out of limit"}');
      } else if (url.pathname.startsWith('/cgi-bin') || url.pathname.startsWith('/robot')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
      } else {
        res.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

// ─── the system under test ───────────────────────────────────────────────────────────────────────

let db: TestDatabase;
const warnings: string[] = [];
const logLines: { message: string; meta?: Record<string, unknown> }[] = [];
const logger: DeliveryLogger = {
  info: (message, meta) => logLines.push({ message, ...(meta ? { meta } : {}) }),
  warn: (message) => warnings.push(message),
};

function activities(overrides: Partial<ActivityDeps['delivery']> = {}, pool: Pool = db.pool) {
  return createActivities({
    pool,
    publicBaseUrl: 'http://duban.test',
    linkSecret: 'test-secret-test-secret-test-secret',
    delivery: {
      mailer: createMailer({ host: '127.0.0.1', port: smtpPort, user: 'duban', pass: 's3cret' }),
      mailFrom: '园区依法治区办 <duban@zhongchuan.test>',
      logger,
      ...overrides,
    },
  });
}

const UNITS = [
  { id: 'jingfa', name: '经发局', contacts: [{ channel: 'email', address: 'jingfa@zhongchuan.test' }] },
  { id: 'zhongchuan-zhen', name: '中川镇', contacts: [{ channel: 'email', address: 'town@zhongchuan.test' }] },
  { id: 'fazhiban', name: '园区依法治区办', contacts: [{ channel: 'email', address: 'office@zhongchuan.test' }] },
  { id: 'shequ-log', name: '某社区', contacts: [{ channel: 'log', address: 'shequ-log' }] },
  ...Array.from({ length: 8 }, (_, i) => ({
    id: `dept-${i}`,
    name: `部门${i}`,
    contacts: [{ channel: 'email', address: `dept${i}@zhongchuan.test` }],
  })),
];

async function addUnit(id: string, name: string, contacts: { channel: string; address: string }[]): Promise<void> {
  await db.pool.query(
    `INSERT INTO units (id, name, kind, contacts) VALUES ($1, $2, 'department', $3)
     ON CONFLICT (id) DO UPDATE SET contacts = EXCLUDED.contacts`,
    [id, name, JSON.stringify(contacts)],
  );
}

let seq = 0;
function notice(
  unitId: string,
  kind: NoticeRequest['kind'],
  scheduledFor: string,
  extra: Partial<NoticeRequest> = {},
): NoticeRequest {
  seq += 1;
  const workPoint = extra.workPoint ?? 6;
  return {
    key: `test:${seq}:${unitId}:${kind}`,
    workflowId: `wp-2025-${String(workPoint).padStart(2, '0')}`,
    cycleYear: 2025,
    workPoint,
    workPointTitle: workPoint === 6 ? '持续优化政务服务体系' : '深化行政执法体制改革',
    unitId,
    kind,
    periodId: 'H1',
    periodLabel: '上半年',
    dueAt: bj('2025-03-14T18:00'),
    scheduledFor: bj(scheduledFor),
    link: kind.startsWith('escalation') ? 'none' : 'report',
    ...(kind === 'escalation-office' ? { aboutUnits: [{ id: 'zhongchuan-zhen', name: '中川镇' }] } : {}),
    ...extra,
  };
}

interface OutboxRow {
  id: string;
  unit_id: string;
  kind: string;
  status: string;
  attempts: number;
  last_error: string | null;
  link: string | null;
  digest: boolean;
  digest_id: string | null;
  deliver_after: Date;
  delivered_at: Date | null;
  next_attempt_at: Date | null;
}
async function rows(unitId?: string): Promise<OutboxRow[]> {
  const { rows: r } = await db.pool.query<OutboxRow>(
    `SELECT id::text, unit_id, kind, status, attempts, last_error, link, digest, digest_id::text, deliver_after,
            delivered_at, next_attempt_at
     FROM outbox ${unitId ? 'WHERE unit_id = $1' : ''} ORDER BY id`,
    unitId ? [unitId] : [],
  );
  return r;
}

beforeAll(async () => {
  db = await createTestDatabase();
  for (const u of UNITS) await addUnit(u.id, u.name, u.contacts);
  await startHttp();
  smtpPort = await startSmtp();
}, 60_000);

afterAll(async () => {
  await stopSmtp();
  await new Promise<void>((resolve) => http?.close(() => resolve()));
  await db?.drop();
});

beforeEach(async () => {
  await db.pool.query('DELETE FROM outbox');
  await db.pool.query('DELETE FROM digests');
  mails.length = 0;
  hooks.length = 0;
  warnings.length = 0;
  logLines.length = 0;
  if (!smtp) smtpPort = await startSmtp(smtpPort);
});

// ─── tests ───────────────────────────────────────────────────────────────────────────────────────

test('two notices for one unit on the same day go out as ONE digest mail listing both, with links and due dates', async () => {
  const a = activities();
  await a.notify([
    notice('jingfa', 'reminder', '2025-03-11T18:00'),
    notice('jingfa', 'overdue', '2025-03-12T08:30', { workPoint: 7, dueAt: bj('2025-03-11T18:00') }),
    notice('zhongchuan-zhen', 'reminder', '2025-03-11T18:00'),
  ]);
  const written = await rows('jingfa');
  expect(written.map((r) => [r.kind, r.status, r.digest, r.deliver_after.getTime()])).toEqual([
    ['reminder', 'pending', true, bj('2025-03-12T09:00')],
    ['overdue', 'pending', true, bj('2025-03-12T09:00')],
  ]);

  // Before the digest slot nothing leaves, although both notices were raised already.
  expect((await a.deliverDue({ now: bj('2025-03-12T08:59') })).messages).toBe(0);
  expect(mails).toHaveLength(0);

  const r = await a.deliverDue({ now: bj('2025-03-12T09:00') });
  expect(r).toMatchObject({ quiet: false, messages: 2, notices: 3, retrying: 0, failed: 0, more: false });

  const digest = mails.filter((m) => m.rcpt.includes('jingfa@zhongchuan.test'));
  expect(digest).toHaveLength(1);
  const { mail } = digest[0]!;
  expect(digest[0]!.user).toBe('duban');
  expect(toAddresses(mail.to)).toEqual(['jingfa@zhongchuan.test']);
  expect(toAddresses(mail.from)).toEqual(['duban@zhongchuan.test']);
  expect(mail.subject).toBe('【督办汇总】经发局 2025-03-12 共2项通知');
  const text = mail.text ?? '';
  // Most urgent first: the overdue notice (due 03-11) before the reminder (due 03-14).
  expect(text.indexOf('【催办】2025年第7条')).toBeGreaterThan(-1);
  expect(text.indexOf('【催办】2025年第7条')).toBeLessThan(text.indexOf('【提醒】2025年第6条'));
  expect(text).toContain('截止时间：2025-03-11 18:00（北京时间）');
  expect(text).toContain('截止时间：2025-03-14 18:00（北京时间）');
  for (const row of written) {
    expect(row.link).toMatch(/^http:\/\/duban\.test\/r\//);
    expect(text).toContain(row.link!);
  }

  // A unit with a single notice gets that notice itself, not a digest of one.
  const single = mails.find((m) => m.rcpt.includes('town@zhongchuan.test'));
  expect(single?.mail.subject).toBe('【提醒】2025年第6条 持续优化政务服务体系 · 上半年');
  expect(single?.mail.text).toContain('中川镇：');

  const sent = await rows('jingfa');
  expect(sent.every((x) => x.status === 'sent' && x.attempts === 1)).toBe(true);
  expect(sent.every((x) => x.delivered_at?.getTime() === bj('2025-03-12T09:00'))).toBe(true);
  expect(new Set(sent.map((x) => x.digest_id)).size).toBe(1);
  const { rows: digests } = await db.pool.query<{ id: string; status: string; notices: number; unit_id: string }>(
    'SELECT id::text, status, notices, unit_id FROM digests',
  );
  expect(digests).toEqual([{ id: sent[0]!.digest_id, status: 'sent', notices: 2, unit_id: 'jingfa' }]);

  // Another pass sends nothing again.
  expect((await a.deliverDue({ now: bj('2025-03-12T09:05') })).messages).toBe(0);
  expect(mails).toHaveLength(2);
});

test('an office escalation bypasses the digest and goes out at once, but waits out quiet hours', async () => {
  const a = activities();
  await a.notify([
    notice('fazhiban', 'escalation-office', '2025-03-12T10:00'),
    notice('fazhiban', 'rating-due', '2025-03-12T10:00'),
    notice('fazhiban', 'escalation-office', '2025-03-12T22:30', { workPoint: 7 }),
  ]);

  await a.deliverDue({ now: bj('2025-03-12T10:00') });
  expect(mails.map((m) => m.mail.subject)).toEqual(['【通报】2025年第6条 持续优化政务服务体系 · 上半年']);
  expect(mails[0]!.mail.text).toContain('以下单位经督办仍逾期未报：中川镇');

  // Raised at 22:30: nothing at 22:31 nor at 07:59 (quiet hours), out at 08:00 — before the 09:00 digest.
  expect(await a.deliverDue({ now: bj('2025-03-12T22:31') })).toMatchObject({ quiet: true, messages: 0 });
  expect(await a.deliverDue({ now: bj('2025-03-13T07:59') })).toMatchObject({ quiet: true, messages: 0 });
  await a.deliverDue({ now: bj('2025-03-13T08:00') });
  expect(mails.map((m) => m.mail.subject)).toEqual([
    '【通报】2025年第6条 持续优化政务服务体系 · 上半年',
    '【通报】2025年第7条 深化行政执法体制改革 · 上半年',
  ]);

  // The rating reminder is a digest notice: next working morning at 09:00.
  await a.deliverDue({ now: bj('2025-03-13T09:00') });
  expect(mails.map((m) => m.mail.subject)).toHaveLength(3);
  expect(mails[2]!.mail.subject).toMatch(/^【待评定】/);
  const office = await rows('fazhiban');
  expect(office.map((r) => [r.kind, r.digest, r.delivered_at?.getTime()])).toEqual([
    ['escalation-office', false, bj('2025-03-12T10:00')],
    ['rating-due', true, bj('2025-03-13T09:00')],
    ['escalation-office', false, bj('2025-03-13T08:00')],
  ]);
});

test('a mail server that is down records attempts and last_error, backs off, and delivers once after recovery', async () => {
  const a = activities();
  await a.notify([
    notice('jingfa', 'reminder', '2025-03-11T18:00'),
    notice('jingfa', 'overdue', '2025-03-12T08:00', { workPoint: 7 }),
  ]);
  await stopSmtp();

  const t0 = bj('2025-03-12T09:00');
  expect(await a.deliverDue({ now: t0 })).toMatchObject({ messages: 0, retrying: 1, failed: 0 });
  let state = await rows('jingfa');
  for (const r of state) {
    expect(r).toMatchObject({ status: 'pending', attempts: 1, digest_id: null, delivered_at: null });
    expect(r.last_error).toMatch(/ECONNREFUSED|ECONNECTION|connect/i);
    expect(r.next_attempt_at?.getTime()).toBe(t0 + MINUTE);
  }

  // Still down at the retry: the second attempt doubles the back-off.
  await a.deliverDue({ now: t0 + MINUTE });
  state = await rows('jingfa');
  expect(state.map((r) => [r.attempts, r.next_attempt_at?.getTime()])).toEqual([
    [2, t0 + 3 * MINUTE],
    [2, t0 + 3 * MINUTE],
  ]);

  smtpPort = await startSmtp(smtpPort);
  // Back up, but the back-off has not run out: no attempt yet.
  expect((await a.deliverDue({ now: t0 + 2 * MINUTE })).messages).toBe(0);
  expect(mails).toHaveLength(0);

  expect(await a.deliverDue({ now: t0 + 3 * MINUTE })).toMatchObject({ messages: 1, notices: 2 });
  expect(await a.deliverDue({ now: t0 + 10 * MINUTE })).toMatchObject({ messages: 0 });
  expect(mails).toHaveLength(1);
  expect(mails[0]!.mail.subject).toBe('【督办汇总】经发局 2025-03-12 共2项通知');
  state = await rows('jingfa');
  for (const r of state) {
    expect(r).toMatchObject({ status: 'sent', attempts: 3 });
    expect(r.delivered_at?.getTime()).toBe(t0 + 3 * MINUTE);
    // The history of the failure stays visible next to the success.
    expect(r.last_error).toMatch(/ECONNREFUSED|ECONNECTION|connect/i);
  }
  const { rows: digests } = await db.pool.query<{ status: string }>('SELECT status FROM digests ORDER BY id');
  expect(digests.map((d) => d.status)).toEqual(['failed', 'failed', 'sent']);
});

test('after the last allowed attempt a row stays failed and is not tried again', async () => {
  const a = activities({ maxAttempts: 2 });
  await a.notify([notice('jingfa', 'escalation-office', '2025-03-12T10:00')]);
  await stopSmtp();
  const t0 = bj('2025-03-12T10:00');
  expect(await a.deliverDue({ now: t0 })).toMatchObject({ retrying: 1, failed: 0 });
  expect(await a.deliverDue({ now: t0 + MINUTE })).toMatchObject({ retrying: 0, failed: 1 });
  smtpPort = await startSmtp(smtpPort);
  await a.deliverDue({ now: t0 + 60 * MINUTE });
  expect(mails).toHaveLength(0);
  expect(await rows('jingfa')).toEqual([expect.objectContaining({ status: 'failed', attempts: 2 })]);
});

test('without SMTP_HOST email rows are kept and fail with a clear last_error instead of being dropped', async () => {
  const a = activities({ mailer: undefined });
  await a.notify([notice('jingfa', 'escalation-office', '2025-03-12T10:00')]);
  await a.deliverDue({ now: bj('2025-03-12T10:00') });
  expect(await rows('jingfa')).toEqual([
    expect.objectContaining({ status: 'pending', attempts: 1, last_error: SMTP_NOT_CONFIGURED }),
  ]);
  expect(SMTP_NOT_CONFIGURED).toBe('SMTP_HOST not configured');
});

test('passes running concurrently (two workers) send every row exactly once', async () => {
  const otherWorkerPool = new Pool({ connectionString: db.url, max: 10 });
  try {
    const units = UNITS.filter((u) => u.id.startsWith('dept-')).map((u) => u.id);
    const a = activities();
    const b = activities({}, otherWorkerPool);
    await a.notify(
      units.flatMap((u) => [
        notice(u, 'reminder', '2025-03-11T18:00'),
        notice(u, 'overdue', '2025-03-12T08:00', { workPoint: 7 }),
        notice(u, 'extension-request', '2025-03-12T08:30'),
      ]),
    );
    const now = bj('2025-03-12T09:00');
    // Three passes at once: two workers, one of them running two (an activity retry overlapping a slow attempt).
    const results = await Promise.all([a.deliverDue({ now }), b.deliverDue({ now }), b.deliverDue({ now })]);
    // They really overlapped: more than one pass found work (a serialised run would leave the others idle).
    expect(results.filter((r) => r.messages > 0).length).toBeGreaterThan(1);
    // Each unit: one digest (reminder + overdue) and one bypassing extension request.
    expect(results.reduce((n, r) => n + r.messages, 0)).toBe(units.length * 2);
    expect(results.reduce((n, r) => n + r.notices, 0)).toBe(units.length * 3);
    expect(mails).toHaveLength(units.length * 2);
    for (const [i] of units.entries()) {
      const got = mails.filter((m) => m.rcpt.includes(`dept${i}@zhongchuan.test`)).map((m) => m.mail.subject);
      expect(got.sort()).toEqual([
        `【延期申请】2025年第6条 持续优化政务服务体系 · 上半年`,
        `【督办汇总】部门${i} 2025-03-12 共2项通知`,
      ]);
    }
    const all = await rows();
    expect(all.every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
  } finally {
    await otherWorkerPool.end();
  }
});

test('webhooks: WeCom and DingTalk robots get their text format, other URLs the duban JSON', async () => {
  await addUnit('webhook-unit', '综合办', [
    { channel: 'webhook', address: `wecom:${httpBase}/cgi-bin/webhook/send?key=wecom-key` },
    { channel: 'webhook', address: `dingtalk:${httpBase}/robot/send?access_token=ding-token&secret=SECtest` },
    { channel: 'webhook', address: `${httpBase}/duban/hook` },
  ]);
  const a = activities();
  await a.notify([
    notice('webhook-unit', 'reminder', '2025-03-11T18:00'),
    notice('webhook-unit', 'overdue', '2025-03-12T08:00', { workPoint: 7, dueAt: bj('2025-03-11T18:00') }),
  ]);
  const links = [...new Set((await rows('webhook-unit')).map((r) => r.link!))];
  expect(links).toHaveLength(2);

  await a.deliverDue({ now: bj('2025-03-12T09:00') });
  expect(hooks).toHaveLength(3);

  const wecom = hooks.find((h) => h.url.pathname === '/cgi-bin/webhook/send')!;
  expect(wecom.url.searchParams.get('key')).toBe('wecom-key');
  const wecomBody = wecom.body as { msgtype: string; text: { content: string } };
  expect(wecomBody.msgtype).toBe('text');
  expect(wecomBody.text.content).toMatch(/^【督办汇总】综合办 2025-03-12 共2项通知/);
  for (const link of links) expect(wecomBody.text.content).toContain(link);
  expect(wecomBody.text.content).toContain('截止时间：2025-03-11 18:00（北京时间）');
  expect(Buffer.byteLength(wecomBody.text.content, 'utf8')).toBeLessThanOrEqual(2048);

  const ding = hooks.find((h) => h.url.pathname === '/robot/send')!;
  expect(ding.url.searchParams.get('access_token')).toBe('ding-token');
  expect(ding.url.searchParams.has('secret')).toBe(false);
  const timestamp = ding.url.searchParams.get('timestamp')!;
  expect(Math.abs(Number(timestamp) - Date.now())).toBeLessThan(60_000);
  expect(ding.url.searchParams.get('sign')).toBe(
    createHmac('sha256', 'SECtest').update(`${timestamp}\nSECtest`).digest('base64'),
  );
  expect((ding.body as { msgtype: string; text: { content: string } }).text.content).toContain(links[0]!);

  const duban = hooks.find((h) => h.url.pathname === '/duban/hook')!;
  expect(duban.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(duban.headers['idempotency-key']).toMatch(/^digest-\d+$/);
  expect(duban.body).toMatchObject({
    type: 'duban.notices',
    digest: true,
    unit: { id: 'webhook-unit', name: '综合办' },
    subject: '【督办汇总】综合办 2025-03-12 共2项通知',
    notices: [
      { kind: 'overdue', workPoint: 7, dueAt: '2025-03-11T18:00:00+08:00', link: expect.any(String) },
      { kind: 'reminder', workPoint: 6, dueAt: '2025-03-14T18:00:00+08:00', link: expect.any(String) },
    ],
  });
  expect((await rows('webhook-unit')).every((r) => r.status === 'sent')).toBe(true);
});

test('a WeCom digest longer than 2048 bytes lists what fits and says how many more there are', async () => {
  await addUnit('busy-unit', '忙碌单位', [
    { channel: 'webhook', address: `wecom:${httpBase}/cgi-bin/webhook/send?key=k` },
  ]);
  const a = activities();
  await a.notify(
    Array.from({ length: 12 }, (_, i) => notice('busy-unit', 'reminder', '2025-03-11T18:00', { workPoint: i + 1 })),
  );
  await a.deliverDue({ now: bj('2025-03-12T09:00') });
  expect(hooks).toHaveLength(1);
  const content = (hooks[0]!.body as { text: { content: string } }).text.content;
  expect(Buffer.byteLength(content, 'utf8')).toBeLessThanOrEqual(2048);
  expect(content).toMatch(/另有 \d+ 项未列出/);
  expect(content).toMatch(/督办系统自动发送）$/);
});

test('webhook failures: a robot refusal and an HTTP 503 are retried, a malformed address fails at once', async () => {
  await addUnit('hook-fail', '失败单位', [
    { channel: 'webhook', address: `wecom:${httpBase}/wecom-limited?key=k` },
    { channel: 'webhook', address: `${httpBase}/broken` },
    { channel: 'webhook', address: 'not a url' },
  ]);
  const a = activities();
  await a.notify([notice('hook-fail', 'escalation-office', '2025-03-12T10:00')]);
  await a.deliverDue({ now: bj('2025-03-12T10:00') });
  const byAddress = Object.fromEntries(
    (
      await db.pool.query<{ address: string; status: string; last_error: string }>(
        "SELECT address, status, last_error FROM outbox WHERE unit_id = 'hook-fail'",
      )
    ).rows.map((r) => [r.address, r]),
  );
  expect(byAddress[`wecom:${httpBase}/wecom-limited?key=k`]).toMatchObject({
    status: 'pending',
    last_error: 'wecom robot refused: errcode 45009 api freq out of limit',
  });
  expect(byAddress[`${httpBase}/broken`]).toMatchObject({
    status: 'pending',
    last_error: 'webhook answered HTTP 503: maintenance',
  });
  expect(byAddress['not a url']?.status).toBe('failed');
  expect(byAddress['not a url']?.last_error).toMatch(/not a URL/);
  // No error text ever carries the robot key.
  expect(Object.values(byAddress).some((r) => r.last_error.includes('key=k'))).toBe(false);
});

test('the log channel goes through the same rules and writes the message to the log', async () => {
  const a = activities();
  await a.notify([
    notice('shequ-log', 'reminder', '2025-03-11T18:00'),
    notice('shequ-log', 'overdue', '2025-03-12T08:00', { workPoint: 7 }),
  ]);
  await a.deliverDue({ now: bj('2025-03-12T08:59') });
  expect(logLines).toHaveLength(0);
  await a.deliverDue({ now: bj('2025-03-12T09:00') });
  expect(logLines.map((l) => l.message)).toEqual(['notice → 某社区 [log]: 【督办汇总】某社区 2025-03-12 共2项通知']);
  expect((await rows('shequ-log')).every((r) => r.status === 'sent')).toBe(true);
});

test('a row left in "sending" by a worker that died is settled as failed (outcome unknown), never sent twice', async () => {
  const a = activities();
  await a.notify([notice('jingfa', 'escalation-office', '2025-03-12T10:00')]);
  await db.pool.query(
    "UPDATE outbox SET status = 'sending', claim_token = 'dead-worker', claimed_at = now() - interval '1 hour'",
  );
  expect(await a.deliverDue({ now: bj('2025-03-12T10:05') })).toMatchObject({ unknown: 1, messages: 0 });
  expect(mails).toHaveLength(0);
  expect(await rows('jingfa')).toEqual([
    expect.objectContaining({ status: 'failed', attempts: 1, last_error: OUTCOME_UNKNOWN }),
  ]);
});

test('a notice in a year without calendar data is still scheduled (next 09:00) and the missing year is logged', async () => {
  const a = activities({ calendar: loadCalendar([2025]) });
  await a.notify([notice('jingfa', 'reminder', '2030-03-02T07:00', { cycleYear: 2030 })]);
  expect((await rows('jingfa'))[0]?.deliver_after.getTime()).toBe(bj('2030-03-02T09:00'));
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain('2030');
  expect(warnings[0]).toContain('domain/calendar/2030.json');
});

test('a drill (演练) says so and goes out at once, in quiet hours too; a real cycle of the same night waits', async () => {
  // Year 2025 is a drill here; a real notice of another year raised at the same instant keeps the rules.
  const plan = await db.pool.query<{ id: string }>(
    `INSERT INTO plans (year, title, source_text, source_sha256, sections) VALUES (2025, '演练计划', 'x', 'drill-test', '[]')
     RETURNING id::text`,
  );
  await db.pool.query(
    `INSERT INTO cycles (year, plan_id, workflow_id, options) VALUES (2025, $1, 'cycle-2025', '{"drill": true}')`,
    [plan.rows[0]!.id],
  );
  try {
    const a = activities();
    await a.notify([
      notice('jingfa', 'reminder', '2025-03-12T22:30'),
      notice('zhongchuan-zhen', 'reminder', '2025-03-12T22:30', { cycleYear: 2024, workflowId: 'wp-2024-06' }),
    ]);
    const drill = await rows('jingfa');
    expect(drill.map((r) => [r.digest, r.deliver_after.getTime()])).toEqual([[false, bj('2025-03-12T22:30')]]);
    const r = await a.deliverDue({ now: bj('2025-03-12T22:31') });
    expect(r).toMatchObject({ quiet: true, messages: 1 });
    expect(mails.map((m) => m.mail.subject)).toEqual([expect.stringMatching(/^【演练】【提醒】2025年第6条/)]);
    expect(mails[0]!.mail.text).toContain('不是正式督办');
    expect((await rows('zhongchuan-zhen')).map((x) => x.status)).toEqual(['pending']);
  } finally {
    await db.pool.query('DELETE FROM cycles WHERE year = 2025');
    await db.pool.query(`DELETE FROM plans WHERE source_sha256 = 'drill-test'`);
  }
});
