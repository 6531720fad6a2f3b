import { createActivities } from '../../activities';
import { parseInstant } from '../../domain/schedule';
import type { NoticeRequest } from '../../domain/model';
import { useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();
const bj = (local: string): number => parseInstant(`${local}:00+08:00`);

interface Notification {
  id: number;
  cycleYear: number;
  workPoint: number | null;
  unit: { id: string; name: string | null };
  kind: string;
  channel: string;
  address: string;
  status: string;
  attempts: number;
  lastError: string | null;
  digest: boolean;
  dueAt: string | null;
  deliverAfter: string;
  deliveredAt: string | null;
  subject: string;
  body: string;
  link: string | null;
}
interface Page {
  items: Notification[];
  total: number;
  limit: number;
  nextCursor: string | null;
}

let seq = 0;
const notice = (unitId: string, kind: NoticeRequest['kind'], cycleYear: number, workPoint: number): NoticeRequest => {
  seq += 1;
  return {
    key: `api-test:${seq}`,
    workflowId: `wp-${cycleYear}-${String(workPoint).padStart(2, '0')}`,
    cycleYear,
    workPoint,
    workPointTitle: '持续优化政务服务体系',
    unitId,
    kind,
    periodId: 'H1',
    periodLabel: '上半年',
    dueAt: bj(`${cycleYear}-07-10T18:00`),
    scheduledFor: bj(`${cycleYear}-07-07T18:00`),
    link: kind === 'escalation-office' ? 'none' : 'report',
  };
};

/** 3 units × 2 cycles × 2 work points × 2 kinds = 24 notices; the robot unit's webhook has a key in its URL. */
beforeAll(async () => {
  await ctx.db.pool.query(
    `INSERT INTO units (id, name, kind, contacts) VALUES
       ('jingfa', '经发局', 'department', '[{"channel":"email","address":"jingfa@zhongchuan.test"}]'),
       ('zhongchuan-zhen', '中川镇', 'town', '[{"channel":"log","address":"zhongchuan-zhen"}]'),
       ('robot-unit', '综合办', 'department',
        '[{"channel":"webhook","address":"wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY"}]')`,
  );
  const activities = createActivities({
    pool: ctx.db.pool,
    publicBaseUrl: 'http://duban.test',
    linkSecret: 'test-secret-test-secret-test-secret',
  });
  const notices: NoticeRequest[] = [];
  for (const unit of ['jingfa', 'zhongchuan-zhen', 'robot-unit']) {
    for (const year of [2024, 2025]) {
      for (const wp of [6, 7]) {
        notices.push(notice(unit, 'reminder', year, wp), notice(unit, 'overdue', year, wp));
      }
    }
  }
  await activities.notify(notices);
  // Some history: the 2024 notices of 经发局 went out, one of 中川镇's failed for good.
  await ctx.db.pool.query(
    `UPDATE outbox SET status = 'sent', attempts = 1, delivered_at = deliver_after WHERE unit_id = 'jingfa' AND cycle_year = 2024`,
  );
  await ctx.db.pool.query(
    `UPDATE outbox SET status = 'failed', attempts = 10, last_error = 'SMTP_HOST not configured'
     WHERE id = (SELECT min(id) FROM outbox WHERE unit_id = 'zhongchuan-zhen')`,
  );
});

async function get(query: string) {
  const app = await ctx.build();
  return app.inject({ method: 'GET', url: `/api/notifications${query}`, headers: ctx.viewer });
}

test('lists every notice newest first, with its delivery state and the total', async () => {
  const res = await get('');
  expect(res.statusCode).toBe(200);
  const page = res.json<Page>();
  expect(page.total).toBe(24);
  expect(page.limit).toBe(50);
  expect(page.items).toHaveLength(24);
  expect(page.nextCursor).toBeNull();
  const ids = page.items.map((n) => n.id);
  expect(ids).toEqual([...ids].sort((a, b) => b - a));
  expect(page.items.find((n) => n.unit.id === 'jingfa' && n.cycleYear === 2025)).toMatchObject({
    unit: { id: 'jingfa', name: '经发局' },
    channel: 'email',
    address: 'jingfa@zhongchuan.test',
    status: 'pending',
    digest: true,
    dueAt: '2025-07-10T18:00:00+08:00',
    deliverAfter: '2025-07-08T09:00:00+08:00',
    deliveredAt: null,
  });
});

test('shows robot webhook addresses without the key in their query', async () => {
  const page = (await get('?unit=robot-unit&limit=1')).json<Page>();
  expect(page.items[0]?.address).toBe('wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?…');
  expect((await get('?unit=robot-unit')).body).not.toContain('SECRET-KEY');
});

test('filters by unit, kind, status, cycle and work point, alone and combined', async () => {
  const count = async (q: string) => {
    const page = (await get(q)).json<Page>();
    expect(page.items).toHaveLength(page.total);
    return page;
  };
  expect((await count('?unit=jingfa')).items.every((n) => n.unit.id === 'jingfa')).toBe(true);
  expect((await count('?unit=jingfa')).total).toBe(8);
  expect((await count('?kind=overdue')).total).toBe(12);
  expect((await count('?cycle=2024')).total).toBe(12);
  expect((await count('?workPoint=7')).total).toBe(12);
  expect((await count('?status=sent')).total).toBe(4);
  const failed = await count('?status=failed');
  expect(failed.items).toEqual([
    expect.objectContaining({ unit: { id: 'zhongchuan-zhen', name: '中川镇' }, lastError: 'SMTP_HOST not configured' }),
  ]);
  const combined = await count('?unit=jingfa&kind=reminder&cycle=2025&workPoint=6&status=pending');
  expect(combined.items).toEqual([
    expect.objectContaining({ unit: expect.objectContaining({ id: 'jingfa' }), kind: 'reminder', cycleYear: 2025 }),
  ]);
  expect((await count('?unit=nobody')).total).toBe(0);
});

test('pages with an opaque cursor: every notice exactly once, total on every page', async () => {
  const seen: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await get(`?cycle=2025&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.statusCode).toBe(200);
    const page = res.json<Page>();
    expect(page.total).toBe(12);
    expect(page.items.length).toBeLessThanOrEqual(5);
    seen.push(...page.items.map((n) => n.id));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== null && pages < 10);
  expect(pages).toBe(3);
  expect(new Set(seen).size).toBe(12);
  expect(seen).toEqual([...seen].sort((a, b) => b - a));
});

test('refuses a forged cursor and out-of-range or unknown filters with 400 and a message', async () => {
  const forged = await get('?cursor=not-a-cursor');
  expect(forged.statusCode).toBe(400);
  expect(forged.json<{ error: { code: string } }>().error.code).toBe('invalid_cursor');

  for (const q of ['?limit=501', '?limit=0', '?kind=gossip', '?status=lost', '?cycle=abc']) {
    const res = await get(q);
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { code: string; message: string } }>().error.code).toBe('validation_failed');
  }
  const max = (await get('?limit=500')).json<Page>();
  expect(max.limit).toBe(500);
  // Past PostgreSQL's integer: a 400, not a database error.
  expect((await get('?workPoint=99999999999')).statusCode).toBe(400);
});

test('an unknown filter is 422 naming it, not the unfiltered list', async () => {
  const res = await get('?units=jingfa-ju');
  expect(res.statusCode).toBe(422);
  expect(res.json<{ error: { code: string; message: string } }>().error).toEqual({
    code: 'unknown_field',
    message: expect.stringContaining('未知字段 "units"（是否应为 "unit"？）'),
    details: [expect.objectContaining({ where: 'querystring', unknown: ['units'] })],
  });
});

test('is an office route: no token, no list', async () => {
  const app = await ctx.build();
  const res = await app.inject({ method: 'GET', url: '/api/notifications' });
  expect(res.statusCode).toBe(401);
});

test('admins see the live reply links; viewers get every reply link with its token redacted', async () => {
  const app = await ctx.build();
  const as = async (headers: { authorization: string }) => {
    const res = await app.inject({ method: 'GET', url: '/api/notifications?limit=500', headers });
    expect(res.statusCode).toBe(200);
    return { raw: res.body, page: res.json<Page>() };
  };

  const admin = await as(ctx.admin);
  const linked = admin.page.items.filter((n) => n.link !== null);
  expect(linked).toHaveLength(24);
  const tokens = linked.map((n) => {
    const m = /^http:\/\/duban\.test\/r\/([A-Za-z0-9_-]+\.k1\.[A-Za-z0-9_-]+)$/.exec(n.link ?? '');
    expect(m).not.toBeNull();
    // The text sent carries the same link.
    expect(n.body).toContain(n.link);
    return m![1]!;
  });

  const viewer = await as(ctx.viewer);
  expect(viewer.page.total).toBe(admin.page.total);
  for (const n of viewer.page.items) {
    expect(n.link).toBe('http://duban.test/r/<redacted>');
    expect(n.body).toContain('http://duban.test/r/<redacted>');
    expect(`${n.subject}\n${n.body}`).not.toMatch(/\/r\/(?!<redacted>)/);
  }
  // Nowhere in the answer, not even in a field not checked above.
  for (const token of tokens) expect(viewer.raw).not.toContain(token);
  // The rest of the notice is what the admin sees.
  const strip = (n: Notification) => ({ ...n, link: undefined, body: undefined });
  expect(viewer.page.items.map(strip)).toEqual(admin.page.items.map(strip));
});
