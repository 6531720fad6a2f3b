import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createPool } from '../../db/pool';
import { build, useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();

describe('health', () => {
  test('/healthz answers ok without a token and without touching the database', async () => {
    const pool = createPool('postgres://nobody@127.0.0.1:1/none', { connectionTimeoutMillis: 500 });
    try {
      const app = await build({ pool, temporal: ctx.env.client });
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    } finally {
      await pool.end();
    }
  });

  test('/readyz is 200 when PostgreSQL and Temporal answer', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { postgres: { ok: true }, temporal: { ok: true } } });
  });

  test('/readyz is 503 naming PostgreSQL when the database is unreachable', async () => {
    const pool = createPool('postgres://nobody@127.0.0.1:1/none', { connectionTimeoutMillis: 500 });
    try {
      const app = await build({ pool, temporal: ctx.env.client });
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const body = res.json();
      expect(body.status).toBe('not_ready');
      expect(body.checks.postgres.ok).toBe(false);
      expect(body.checks.postgres.error).toEqual(expect.any(String));
      expect(body.checks.temporal).toEqual({ ok: true });
      expect(body.message).toContain('PostgreSQL');
      expect(body.message).not.toContain('Temporal');
    } finally {
      await pool.end();
    }
  });

  test('/readyz is 503 naming PostgreSQL when the pool has been ended', async () => {
    const pool = createPool(ctx.db.url, { max: 1 });
    await pool.end();
    const app = await build({ pool, temporal: ctx.env.client });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toContain('PostgreSQL');
  });

  test('/readyz is 503 naming Temporal when the Temporal server is unreachable', async () => {
    // No retry interceptor: the call fails at once instead of retrying past the test and its connection.
    const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: [] });
    try {
      const app = await build({ pool: ctx.db.pool, temporal: new Client({ connection }) });
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const body = res.json();
      expect(body.checks).toMatchObject({ postgres: { ok: true }, temporal: { ok: false } });
      expect(body.message).toContain('Temporal');
      expect(body.message).not.toContain('PostgreSQL');
    } finally {
      await connection.close();
    }
  });
});

/** Every (method, path) Fastify routes, read from printRoutes' tree (HEAD twins left out). */
function registeredRoutes(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?\s*$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    const path = (stack[depth - 1] ?? '') + (m[2] ?? '');
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

describe('OpenAPI document', () => {
  const EXPECTED = [
    'DELETE /api/cycles/{year}',
    'DELETE /api/cycles/{year}/work-points/{n}/units/{unitId}',
    'GET /api/audit',
    'GET /api/cycles',
    'GET /api/cycles/{year}',
    'GET /api/cycles/{year}/work-points/{n}',
    'GET /api/plans',
    'GET /api/plans/{id}',
    'GET /api/plans/{id}/assignees',
    'GET /api/units',
    'GET /healthz',
    'GET /readyz',
    'POST /api/cycles',
    'POST /api/cycles/{year}/actions',
    'POST /api/cycles/{year}/work-points/{n}/extend',
    'POST /api/cycles/{year}/work-points/{n}/extension-requests/decide',
    'POST /api/cycles/{year}/work-points/{n}/rate',
    'POST /api/cycles/{year}/work-points/{n}/reassign',
    'POST /api/cycles/{year}/work-points/{n}/remind',
    'POST /api/cycles/{year}/work-points/{n}/return',
    'POST /api/cycles/{year}/work-points/{n}/units',
    'POST /api/cycles/{year}/work-points/{n}/waive',
    'POST /api/plans',
    'POST /api/plans/{id}/copy',
    'PUT /api/units',
    'PUT /api/units/groups/{name}',
  ];

  test('/docs/json lists every route of the API, except the HTML pages (docs UI, reply pages, dashboard)', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    const routed = registeredRoutes(app)
      .filter((r) => !/^[A-Z]+ \/(docs|r|dashboard)(\/|$)/.test(r))
      .map((r) => r.replace(/:(\w+)/g, '{$1}'))
      .sort();
    expect(routed).toEqual(expect.arrayContaining(EXPECTED));
    expect(documented).toEqual(routed);
  });

  test('the document declares bearer authentication for /api and none for health checks', async () => {
    const app = await ctx.build();
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.paths['/readyz'].get.security).toEqual([]);
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)) {
      if (!path.startsWith('/api/')) continue;
      for (const op of Object.values(ops)) {
        expect(op.security).toBeUndefined(); // inherits the global bearerAuth requirement
        expect(Object.keys(op.responses as object)).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
  });

  test('the docs page is served without a token', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
  });
});

describe('errors', () => {
  test('a malformed JSON body is a 400 in the error shape, without a stack trace', async () => {
    const app = await ctx.build();
    const res = await app.inject({
      method: 'POST',
      url: '/api/cycles',
      headers: { ...ctx.admin, 'content-type': 'application/json' },
      payload: '{"year": 2023,',
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; message: string } }>();
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code).toEqual(expect.any(String));
    expect(body.error.message).toMatch(/JSON/);
    expect(res.body).not.toMatch(/\bat .+\.(js|ts):\d+/);
    expect(res.body).not.toContain('stack');
  });

  test('an unknown address is a 404 in the error shape', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'not_found', message: expect.stringContaining('/nowhere') } });
  });
});

test('a NUL character anywhere in a request is a 400 that says so, not a database error', async () => {
  const app = await ctx.build();
  const body = await app.inject({
    method: 'POST',
    url: '/api/plans',
    headers: { ...ctx.admin, 'content-type': 'application/json' },
    payload: { text: '2024年工作要点\u0000' },
  });
  expect(body.statusCode).toBe(400);
  expect(body.json().error.code).toBe('nul_character');
  const query = await app.inject({ method: 'GET', url: '/api/notifications?unit=%00', headers: ctx.admin });
  expect(query.statusCode).toBe(400);
});
