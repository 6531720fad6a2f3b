/**
 * Bad input to the office side — the API and the dashboard — is a 4xx that says what to fix: never a 500,
 * never a silent guess. Unknown fields are tested next to each route as well (actions, cycles, plans, units,
 * notifications); the routes without a test file of their own (audit, reports, dashboard) are here.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { MAX_NESTING } from '../../api/input-limits';
import { parsePlan } from '../../domain/plan-parser';
import { savePlan } from '../../db/plans-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();
const YEAR = 2023;

let app: FastifyInstance;

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

beforeAll(async () => {
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(text);
  const { id } = await savePlan(ctx.db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);
  // A cycle row without workflows: enough for the dashboard page and the annual report (every point unrated).
  await ctx.db.pool.query(`INSERT INTO cycles (year, plan_id, workflow_id) VALUES ($1, $2, 'cycle-2023')`, [YEAR, id]);
});

beforeEach(async () => {
  app = await ctx.build();
});

const get = (url: string, headers: Record<string, string> = ctx.admin) => app.inject({ method: 'GET', url, headers });
const carry = (payload: object) =>
  app.inject({ method: 'POST', url: '/api/plans/carry-over', headers: ctx.admin, payload });

describe('unknown fields of the routes without a test file of their own', () => {
  test('GET /api/audit?actr= is 422 naming it and suggesting actor, not an unfiltered list', async () => {
    const res = await get('/api/audit?actr=test-admin');
    expect(res.statusCode).toBe(422);
    expect(res.json<ErrorBody>().error).toMatchObject({
      code: 'unknown_field',
      message: expect.stringContaining('未知字段 "actr"（是否应为 "actor"？）'),
      details: [{ where: 'querystring', unknown: ['actr'] }],
    });
  });

  test('GET /api/cycles/:year/report?fromat=csv is 422, not the JSON report', async () => {
    const res = await get(`/api/cycles/${YEAR}/report?fromat=csv`);
    expect(res.statusCode).toBe(422);
    expect(res.json<ErrorBody>().error.message).toContain('unknown field "fromat" (did you mean "format"?)');
  });

  test('POST /api/plans/carry-over with number for numbers is 422, not a carry-over of every candidate', async () => {
    const plansBefore = (await ctx.db.pool.query('SELECT id FROM plans')).rowCount;
    const typo = await carry({ fromYear: YEAR, toYear: YEAR + 1, number: [3] });
    expect(typo.statusCode).toBe(422);
    expect(typo.json<ErrorBody>().error.message).toContain('"number"（是否应为 "numbers"？）');
    expect((await ctx.db.pool.query('SELECT id FROM plans')).rowCount).toBe(plansBefore);
  });
});

describe('other malformed requests', () => {
  test('a query parameter given twice is 400 naming it', async () => {
    const res = await get(`/api/cycles/${YEAR}/work-points/1?live=true&live=false`);
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.message).toContain('querystring/live');
  });

  test('an empty JSON body, a wrong content type, a non-UTF-8 body and huge numbers are 4xx in the error shape', async () => {
    const post = (payload: string | Buffer, contentType = 'application/json') =>
      app.inject({
        method: 'POST',
        url: '/api/cycles',
        headers: { ...ctx.admin, 'content-type': contentType },
        payload,
      });
    const answers = [
      [await post(''), 400],
      [await post('year=2023', 'application/x-www-form-urlencoded'), 415],
      [await post('{"year":2023}', 'text/xml'), 415],
      [await post(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), 422],
      [await post('{"year":1e400}'), 400],
      [await post('{"year":2023,"planId":1e300}'), 400],
    ] as const;
    for (const [res, status] of answers) {
      expect(res.statusCode).toBe(status);
      expect(Object.keys(res.json<ErrorBody>())).toEqual(['error']);
      expect(res.json<ErrorBody>().error.message).toEqual(expect.any(String));
    }
  });
});

describe('path numbers in the API', () => {
  test.each([
    ['/api/cycles/abc', 'params/year'],
    ['/api/cycles/99999999999', 'params/year'],
    ['/api/cycles/2023.0', 'params/year'],
    ['/api/cycles/0x7e7', 'params/year'],
    ['/api/cycles/2023/work-points/0', 'params/n'],
    ['/api/cycles/2023/work-points/x', 'params/n'],
    ['/api/cycles/2023/work-points/1e3', 'params/n'],
    ['/api/cycles/-1/report', 'params/year'],
    ['/api/plans/1.5', 'params/id'],
  ])('API %s is 400 naming %s', async (url, where) => {
    const res = await get(url);
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error).toMatchObject({
      code: 'validation_failed',
      message: expect.stringContaining(where),
    });
  });
});

describe('carry-over numbers', () => {
  test('a work point that is not a carry-over candidate is 422 naming it, and nothing is imported', async () => {
    const plansBefore = (await ctx.db.pool.query('SELECT id FROM plans')).rowCount;
    // Dropping 300 silently would import a plan with item 3 only.
    const missing = await carry({ fromYear: YEAR, toYear: YEAR + 1, numbers: [3, 300] });
    expect(missing.statusCode).toBe(422);
    expect(missing.json<ErrorBody>().error).toMatchObject({
      code: 'not_carry_over_candidates',
      message: expect.stringContaining('第300条不是 2023 年度的结转候选'),
    });
    expect((await carry({ fromYear: YEAR, toYear: YEAR + 1, numbers: [99_999_999_999] })).statusCode).toBe(400);
    expect((await ctx.db.pool.query('SELECT id FROM plans')).rowCount).toBe(plansBefore);
  });
});

describe('broken URLs', () => {
  test('a URL whose %-encoding is broken is a 400 in the error shape', async () => {
    for (const url of ['/api/cycles/%ff', '/dashboard/cycles/%zz']) {
      const res = await get(url);
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorBody>().error).toEqual({
        code: 'FST_ERR_BAD_URL',
        message: expect.stringContaining('% 编码无效'),
      });
    }
  });
});

describe('deeply nested bodies', () => {
  const deepArrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const deepObjects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

  test.each([
    ['POST', '/api/cycles', deepArrays(100_000)],
    ['POST', '/api/cycles', deepObjects(100_000)],
    ['POST', '/api/cycles', `{"year":2023,"options":${deepObjects(100_000)}}`],
    ['PUT', '/api/units', `{"units":${deepArrays(100_000)}}`],
    ['POST', '/api/plans', `{"plan":${deepObjects(MAX_NESTING)}}`],
    ['POST', `/api/cycles/${YEAR}/actions`, deepArrays(MAX_NESTING + 1)],
  ] as const)('%s %s with JSON nested too deep is 400 body_too_deep, not a 500', async (method, url, payload) => {
    const res = await app.inject({
      method,
      url,
      headers: { ...ctx.admin, 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error).toEqual({
      code: 'body_too_deep',
      message: expect.stringContaining(`嵌套超过 ${MAX_NESTING} 层`),
    });
  });

  test('nesting up to the limit, and brackets inside strings, are read as usual', async () => {
    const atLimit = await app.inject({
      method: 'POST',
      url: '/api/cycles',
      headers: { ...ctx.admin, 'content-type': 'application/json' },
      payload: `{"year":"${'['.repeat(1000)}","planId":${deepArrays(MAX_NESTING - 1)}}`,
    });
    expect(atLimit.statusCode).toBe(400);
    expect(atLimit.json<ErrorBody>().error.code).toBe('validation_failed');
  });

  test.each([
    ['a block sequence', '- '.repeat(100_000) + 'x'],
    ['flow sequences', '['.repeat(100_000) + ']'.repeat(100_000)],
    ['nested maps', Array.from({ length: 1_000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1'],
  ])('YAML with %s nested too deep is 400 body_too_deep, and the server keeps answering', async (_what, yaml) => {
    const res = await app.inject({
      method: 'PUT',
      url: '/api/units',
      headers: { ...ctx.admin, 'content-type': 'application/yaml' },
      payload: yaml,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error).toEqual({
      code: 'body_too_deep',
      message: expect.stringContaining('YAML'),
    });
    expect((await get('/api/units')).statusCode).toBe(200);
  });

  test('a YAML alias bomb (billion laughs) is 400 directory_unreadable before it expands', async () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const [name, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      lines.push(`${name}: &${name} [${Array<string>(9).fill(`*${prev}`).join(',')}]`);
    }
    const res = await app.inject({
      method: 'PUT',
      url: '/api/units',
      headers: { ...ctx.admin, 'content-type': 'application/yaml' },
      payload: lines.join('\n'),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error).toEqual({
      code: 'directory_unreadable',
      message: expect.stringContaining('alias'),
    });
  });
});

/** The text of a dashboard page's error list, tags stripped. */
const problems = (body: string) => (/<ul>([\s\S]*?)<\/ul>/.exec(body)?.[1] ?? '').replace(/<[^>]+>/g, ' ').trim();

describe('dashboard year', () => {
  test.each(['abc', '99999999999', '2023.5', '1e400', '-1', '0x7e7'])(
    'dashboard /dashboard/cycles/%s is a 400 page in Chinese naming the year, not a 500',
    async (year) => {
      const res = await get(`/dashboard/cycles/${year}`);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('text/html');
      expect(problems(res.body)).toContain(`年度 “${year}” 无效：年度应为 2000–2100 之间的整数`);
    },
  );
});

describe('dashboard ?asOf=', () => {
  test('a valid date or instant shows the cycle as of then, also far outside the working-day calendar', async () => {
    const date = await get(`/dashboard/cycles/${YEAR}?asOf=2023-07-15`);
    expect(date.statusCode).toBe(200);
    expect(date.body).toContain('截至 2023-07-15 23:59');
    const instant = await get(`/dashboard/cycles/${YEAR}?asOf=${encodeURIComponent('2023-07-15T09:30:00+08:00')}`);
    expect(instant.body).toContain('截至 2023-07-15 09:30');
    expect((await get(`/dashboard/cycles/${YEAR}?asOf=2100-12-31`)).statusCode).toBe(200);
    // The empty date field of the filter form means "now".
    expect((await get(`/dashboard/cycles/${YEAR}?asOf=&unit=&state=`)).body).toContain('当前');
  });

  test.each(['2023-13-45', '99999-01-01', 'abc', '2023-02-30', '1999-12-31', '2023-07-01T00:00', '1'])(
    'asOf=%s is a 400 page saying what asOf must be, never a 500 or a silent "now"',
    async (asOf) => {
      const res = await get(`/dashboard/cycles/${YEAR}?asOf=${encodeURIComponent(asOf)}`);
      expect(res.statusCode).toBe(400);
      expect(problems(res.body)).toContain(`asOf “${asOf}” 无效：应为 2000–2100 年间的日期（如 2023-07-15）`);
    },
  );

  test('asOf given twice, a misspelt asof and an unknown state are 400 pages naming them', async () => {
    const twice = await get(`/dashboard/cycles/${YEAR}?asOf=2023-07-01&asOf=2023-08-01`);
    expect(twice.statusCode).toBe(400);
    expect(problems(twice.body)).toContain('asOf 只能给一个值');
    const misspelt = await get(`/dashboard/cycles/${YEAR}?asof=2023-07-01`);
    expect(misspelt.statusCode).toBe(400);
    expect(problems(misspelt.body)).toContain('未知字段 &quot;asof&quot;（是否应为 &quot;asOf&quot;？）');
    const state = await get(`/dashboard/cycles/${YEAR}?state=late-ish`);
    expect(state.statusCode).toBe(400);
    expect(problems(state.body)).toContain('state 应为 pending / acknowledged');
  });
});

describe('dashboard login target (next)', () => {
  const token = () => ctx.admin.authorization.replace(/^Bearer /, '');
  const login = (next: string) =>
    app.inject({
      method: 'POST',
      url: '/dashboard/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${encodeURIComponent(token())}&next=${encodeURIComponent(next)}`,
    });

  test.each([
    '/dashboard\r\nSet-Cookie: x=1',
    '/dashboard/\r\nSet-Cookie: x=1',
    '//evil.example',
    'https://evil.example/dashboard',
    '/dashboard/..//evil.example',
    '/dashboard/../api/cycles',
    '/\\evil.example',
    'javascript:alert(1)',
  ])('next=%j is a 400 page with no redirect and no cookie, on the form and on the login', async (next) => {
    const form = await get(`/dashboard/login?next=${encodeURIComponent(next)}`, {});
    expect(form.statusCode).toBe(400);
    expect(problems(form.body)).toContain('登录后要返回的地址（next）无效');
    const res = await login(next);
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(problems(res.body)).toContain('只能是本系统 /dashboard 下的页面');
  });

  test('a dashboard page is the redirect target, percent-encoded when it has Chinese (not a 500)', async () => {
    const plain = await login('/dashboard/cycles/2023?asOf=2023-07-15');
    expect(plain.statusCode).toBe(303);
    expect(plain.headers.location).toBe('/dashboard/cycles/2023?asOf=2023-07-15');
    const chinese = await login('/dashboard/cycles/2023?unit=中川镇');
    expect(chinese.statusCode).toBe(303);
    expect(chinese.headers.location).toBe(`/dashboard/cycles/2023?unit=${encodeURIComponent('中川镇')}`);
    expect((await login('')).headers.location).toBe('/dashboard');
  });
});
