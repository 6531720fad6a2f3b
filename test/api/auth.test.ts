import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ExcelJS from 'exceljs';
import { run } from '../../cli/main';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from '../../cli/token';
import { parsePlan } from '../../domain/plan-parser';
import { savePlan } from '../../db/plans-repo';
import { createToken, verifyToken } from '../../db/tokens-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { bearer, useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();

/** Runs a CLI command against this file's database and returns what it printed. */
async function cli(
  command: typeof tokenCreateCommand,
  args: string[],
  env: Record<string, string | undefined> = { DATABASE_URL: ctx.db.url },
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await command(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) }, env);
  return { code, stdout, stderr };
}

const tokenIn = (text: string): string => {
  const m = /dbn_[A-Za-z0-9_-]{43}/.exec(text);
  if (!m) throw new Error(`no token in: ${text}`);
  return m[0];
};

async function countPlans(): Promise<number> {
  const { rows } = await ctx.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM plans');
  return Number(rows[0]!.n);
}

describe('bearer tokens on /api', () => {
  test('without a token: 401 with WWW-Authenticate: Bearer and a message saying how to get one', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/api/plans' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
    const body = res.json();
    expect(body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(body.error.message).toMatch(/^需要 API 令牌/);
    expect(body.error.message).toContain('Authorization: Bearer <token>');
    expect(body.error.message).toContain('npx duban token create');
  });

  test('with a wrong token: 401 invalid_token, whether well-formed or garbage', async () => {
    const app = await ctx.build();
    for (const token of [`dbn_${randomBytes(32).toString('base64url')}`, 'abc', 'dbn_']) {
      const res = await app.inject({ method: 'GET', url: '/api/plans', headers: bearer(token) });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
      expect(res.json().error.code).toBe('invalid_token');
    }
  });

  test('with another scheme or an empty Bearer: 401 explaining the header format', async () => {
    const app = await ctx.build();
    for (const authorization of ['Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer a b']) {
      const res = await app.inject({ method: 'GET', url: '/api/plans', headers: { authorization } });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.message).toContain('Authorization: Bearer <token>');
    }
  });

  test('a viewer token reads (200) but may not change anything (403 on POST and PUT, nothing stored)', async () => {
    const app = await ctx.build();
    expect((await app.inject({ method: 'GET', url: '/api/plans', headers: ctx.viewer })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/units', headers: ctx.viewer })).statusCode).toBe(200);
    expect((await app.inject({ method: 'HEAD', url: '/api/plans', headers: ctx.viewer })).statusCode).toBe(200);

    const before = await countPlans();
    const post = await app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: { ...ctx.viewer, 'content-type': 'application/json' },
      payload: { text: '2023年工作要点\n一、部分\n1. 事项。（牵头单位：甲局；责任单位：乙局）' },
    });
    expect(post.statusCode).toBe(403);
    expect(post.json().error).toEqual({ code: 'forbidden', message: expect.stringMatching(/^只读令牌.*admin/) });
    expect(await countPlans()).toBe(before);

    const put = await app.inject({ method: 'PUT', url: '/api/units', headers: ctx.viewer, payload: { units: [] } });
    expect(put.statusCode).toBe(403);
  });

  test('an admin token reads and writes', async () => {
    const app = await ctx.build();
    expect((await app.inject({ method: 'GET', url: '/api/plans', headers: ctx.admin })).statusCode).toBe(200);
    const res = await app.inject({
      method: 'POST',
      url: '/api/plans?dryRun=true',
      headers: { ...ctx.admin, 'content-type': 'text/plain' },
      payload: '2023年工作要点\n一、部分\n1. 事项。内容。（牵头单位：甲局；责任单位：乙局）',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().stored).toBe(false);
  });

  test('the token is checked before the body is read: a malformed body without a token is 401, not 400', async () => {
    const app = await ctx.build();
    const res = await app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: { 'content-type': 'application/json' },
      payload: '{"text": ',
    });
    expect(res.statusCode).toBe(401);
  });

  test('a percent-encoded path that routes to /api is still protected', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/%61pi/plans' });
    expect(res.statusCode).toBe(401);
  });

  test('health checks and docs stay public and ignore a bad token', async () => {
    const app = await ctx.build();
    for (const url of ['/healthz', '/readyz', '/docs/json']) {
      expect((await app.inject({ method: 'GET', url })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url, headers: bearer('wrong') })).statusCode).toBe(200);
    }
  });

  test('request.actor names the token holder, and use is recorded in last_used_at', async () => {
    const { token, id } = await createToken(ctx.db.pool, { name: '办公室 王', role: 'admin' });
    const app = await ctx.build();
    app.get('/api/test-probe/actor', async (request) => ({ actor: request.actor }));
    const res = await app.inject({ method: 'GET', url: '/api/test-probe/actor', headers: bearer(token) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ actor: { tokenId: id, name: '办公室 王', role: 'admin' } });
    const { rows } = await ctx.db.pool.query<{ last_used_at: Date | null }>(
      'SELECT last_used_at FROM api_tokens WHERE id = $1',
      [id],
    );
    expect(rows[0]?.last_used_at).toBeInstanceOf(Date);
  });
});

describe('the duban_token cookie (for the dashboard): reads on /api, never changes', () => {
  const tokenOf = (headers: { authorization: string }) => headers.authorization.slice('Bearer '.length);
  const YEAR = 2023;

  beforeAll(async () => {
    // A cycle row without workflows is enough for the annual report (every work point unrated).
    const text = readFileSync(SEED_PLAN_PATH, 'utf8');
    const parsed = parsePlan(text);
    const { id } = await savePlan(ctx.db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);
    await ctx.db.pool.query('INSERT INTO cycles (year, plan_id, workflow_id) VALUES ($1, $2, $3)', [
      YEAR,
      id,
      `cycle-${YEAR}`,
    ]);
  });

  test('a viewer cookie GETs the annual report as HTML, Excel and CSV, as the dashboard links it', async () => {
    const app = await ctx.build();
    const get = (format: string) =>
      app.inject({
        method: 'GET',
        url: `/api/cycles/${YEAR}/report?format=${format}`,
        cookies: { duban_token: tokenOf(ctx.viewer) },
        headers: { 'sec-fetch-site': 'same-origin' },
      });
    const page = await get('html');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain(`${YEAR} 年度报告`);

    const xlsx = await get('xlsx');
    expect(xlsx.statusCode).toBe(200);
    expect(xlsx.headers['content-disposition']).toBe(`attachment; filename="duban-${YEAR}-annual-report.xlsx"`);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    expect(wb.getWorksheet('要点')!.rowCount).toBe(30); // header + the 29 work points of the seed plan

    const csv = await get('csv');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.startsWith('\ufeff年度,要点,标题')).toBe(true);

    const head = await app.inject({
      method: 'HEAD',
      url: `/api/cycles/${YEAR}/report?format=html`,
      cookies: { duban_token: tokenOf(ctx.viewer) },
    });
    expect(head.statusCode).toBe(200);
  });

  test('a wrong cookie is 401 invalid_token, clears the cookie, and counts as a failed sign-in', async () => {
    const app = await ctx.build({ RATE_LIMIT_AUTH_FAILURES: '2' });
    const get = (token: string) =>
      app.inject({
        method: 'GET',
        url: `/api/cycles/${YEAR}/report?format=csv`,
        cookies: { duban_token: token },
        remoteAddress: '10.9.0.1',
      });
    for (const token of ['dbn_wrong', `dbn_${randomBytes(32).toString('base64url')}`]) {
      const bad = await get(token);
      expect(bad.statusCode).toBe(401);
      expect(bad.json().error.code).toBe('invalid_token');
      expect(String(bad.headers['set-cookie'])).toMatch(/^duban_token=; .*Max-Age=0/);
    }
    // Two failures reach the limit: from this address even the right cookie now waits.
    const blocked = await get(tokenOf(ctx.admin));
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('too_many_requests');
  });

  test('a viewer cookie reads what a viewer token reads: the same answer, reply links redacted', async () => {
    await ctx.db.pool.query(
      `INSERT INTO outbox (idempotency_key, workflow_id, cycle_year, work_point, unit_id, kind, period, channel, address,
                           subject, body, link, scheduled_for)
       VALUES ('auth-cookie-1', 'wp-2023-05', 2023, 5, 'jingfa', 'reminder', 'H1', 'log', 'jingfa',
               '提醒', '请报送：http://duban.test/r/secret-link-token', 'http://duban.test/r/secret-link-token', now())`,
    );
    const app = await ctx.build();
    const url = '/api/notifications?cycle=2023';
    const byCookie = await app.inject({ method: 'GET', url, cookies: { duban_token: tokenOf(ctx.viewer) } });
    const byToken = await app.inject({ method: 'GET', url, headers: ctx.viewer });
    expect(byCookie.statusCode).toBe(200);
    expect(byCookie.body).toBe(byToken.body);
    expect(byCookie.body).not.toContain('secret-link-token');
    expect(byCookie.json().items[0].link).toBe('http://duban.test/r/<redacted>');
  });

  test('refuses every state-changing request that carries only the cookie, admin or not, same-origin or not', async () => {
    const app = await ctx.build();
    const auditRows = async () =>
      Number((await ctx.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM audit_log')).rows[0]!.n);
    const before = { plans: await countPlans(), audit: await auditRows() };
    const remind = (cookie: string, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url: `/api/cycles/${YEAR}/work-points/5/remind`,
        cookies: { duban_token: cookie },
        headers: { 'content-type': 'application/json', ...headers },
        payload: {},
      });
    for (const site of [undefined, 'same-origin', 'cross-site']) {
      const headers: Record<string, string> = site ? { 'sec-fetch-site': site } : {};
      for (const token of [tokenOf(ctx.admin), tokenOf(ctx.viewer)]) {
        const res = await remind(token, headers);
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="duban"');
        expect(res.json().error).toEqual({
          code: 'cookie_read_only',
          message: expect.stringMatching(/^管理页面的登录 Cookie 只能用于查看/),
        });
      }
    }
    const plan = await app.inject({
      method: 'POST',
      url: '/api/plans',
      cookies: { duban_token: tokenOf(ctx.admin) },
      headers: { 'content-type': 'text/plain' },
      payload: '2023年工作要点\n一、部分\n1. 事项。内容。（牵头单位：甲局；责任单位：乙局）',
    });
    expect(plan.statusCode).toBe(401);
    for (const method of ['PUT', 'DELETE'] as const) {
      const res = await app.inject({
        method,
        url: method === 'PUT' ? '/api/units' : `/api/cycles/${YEAR}/work-points/5/units/jingfa`,
        cookies: { duban_token: tokenOf(ctx.admin) },
        ...(method === 'PUT' ? { payload: { units: [] } } : {}),
      });
      expect(res.json().error.code).toBe('cookie_read_only');
    }
    expect({ plans: await countPlans(), audit: await auditRows() }).toEqual(before);

    // The header decides when both come along: the cookie does not spoil a bearer request.
    const withHeader = await remind(tokenOf(ctx.viewer), ctx.admin);
    expect(withHeader.json().error?.code).not.toBe('cookie_read_only');
    expect(withHeader.statusCode).not.toBe(401);
  });
});

describe('duban token CLI', () => {
  test('create prints the token once with how to use it; the token works; revoke makes it 401', async () => {
    const created = await cli(tokenCreateCommand, ['--role', 'admin', '--name', 'ops']);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Authorization: Bearer dbn_');
    const token = tokenIn(created.stdout);
    const id = Number(/#(\d+)/.exec(created.stdout)?.[1]);

    const { rows } = await ctx.db.pool.query<{ token_hash: string; role: string }>(
      'SELECT token_hash, role FROM api_tokens WHERE id = $1',
      [id],
    );
    expect(rows[0]?.role).toBe('admin');
    expect(rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.token_hash).not.toContain(token.slice(4));

    const app = await ctx.build();
    expect((await app.inject({ method: 'GET', url: '/api/plans', headers: bearer(token) })).statusCode).toBe(200);

    const list = await cli(tokenListCommand, []);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`#${id}\\s+admin\\s+ops`));
    expect(list.stdout).not.toContain(token);
    expect(list.stdout).not.toContain(rows[0]!.token_hash);

    expect(await cli(tokenRevokeCommand, [String(id)])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('#'),
    });
    expect(await verifyToken(ctx.db.pool, token)).toBeUndefined();
    const after = await app.inject({ method: 'GET', url: '/api/plans', headers: bearer(token) });
    expect(after.statusCode).toBe(401);
    expect((await cli(tokenListCommand, [])).stdout).toMatch(new RegExp(`#${id}\\s+admin\\s+ops.*revoked`));

    expect((await cli(tokenRevokeCommand, [String(id)])).code).toBe(0); // revoking twice is not an error
    expect(await cli(tokenRevokeCommand, ['999999'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('999999'),
    });
  });

  test('the commands are registered with the duban command line', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = ctx.db.url;
    try {
      let stdout = '';
      const code = await run(['token', 'create', '--role', 'viewer'], {
        stdout: (s) => (stdout += s),
        stderr: () => undefined,
      });
      expect(code).toBe(0);
      expect(await verifyToken(ctx.db.pool, tokenIn(stdout))).toMatchObject({ role: 'viewer' });
    } finally {
      // Assigning undefined would store the string "undefined".
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });

  test('wrong usage exits 2 with the usage text', async () => {
    for (const args of [[], ['--role', 'root'], ['--role'], ['--role', 'admin', '--bogus']]) {
      const r = await cli(tokenCreateCommand, args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('duban token create --role admin|viewer');
    }
    expect((await cli(tokenRevokeCommand, ['abc'])).code).toBe(2);
    expect((await cli(tokenRevokeCommand, [])).code).toBe(2);
  });

  test('a missing or unreachable DATABASE_URL is one clear line and exit 1', async () => {
    const missing = await cli(tokenListCommand, [], {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/DATABASE_URL/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    const unreachable = await cli(tokenCreateCommand, ['--role', 'admin'], {
      DATABASE_URL: 'postgres://duban:secret@127.0.0.1:1/duban',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('127.0.0.1:1');
    expect(unreachable.stderr).not.toContain('secret');
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stdout).toBe('');
  });
});
