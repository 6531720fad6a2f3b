/**
 * Rate limits (api/plugins/rate-limit.ts): wrong API tokens per client address — as bearer on /api, at the dashboard
 * login or in the dashboard cookie — and reply-form submissions per link. Nothing else is limited.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { bearer, useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();

const LIMITS = { RATE_LIMIT_AUTH_FAILURES: '3', RATE_LIMIT_REPLY_MAX: '2' };
const WRONG = bearer('not-a-token-0000000000000000000000000000');
const rawToken = (headers: { authorization: string }) => headers.authorization.replace(/^Bearer /, '');

const api = (app: FastifyInstance, headers: Record<string, string>, remoteAddress = '10.0.0.1') =>
  app.inject({ method: 'GET', url: '/api/notifications?limit=1', headers, remoteAddress });

const login = (app: FastifyInstance, token: string, remoteAddress = '10.0.0.1') =>
  app.inject({
    method: 'POST',
    url: '/dashboard/login',
    payload: new URLSearchParams({ token, next: '/dashboard' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    remoteAddress,
  });

const replyPost = (app: FastifyInstance, link: string, remoteAddress = '10.0.0.1') =>
  app.inject({
    method: 'POST',
    url: `/r/${link}`,
    payload: 'submissionId=abcdefgh-1234&text=%E8%BF%9B%E5%B1%95',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    remoteAddress,
  });

function retryAfter(res: LightMyRequestResponse, windowS: number): number {
  const s = Number(res.headers['retry-after']);
  expect(Number.isInteger(s)).toBe(true);
  expect(s).toBeGreaterThanOrEqual(1);
  expect(s).toBeLessThanOrEqual(windowS);
  return s;
}

function expectTooManyPage(res: LightMyRequestResponse, windowS: number): void {
  expect(res.statusCode).toBe(429);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  const s = retryAfter(res, windowS);
  expect(res.body).toContain(`操作过于频繁，请 ${s} 秒后再试`);
  expect(res.body).toContain('<html lang="zh-CN">');
}

describe('failed authentication on /api', () => {
  it('answers 429 in the JSON error shape after N wrong tokens from one address, even to a correct token', async () => {
    const app = await ctx.build(LIMITS);
    for (let i = 0; i < 3; i++) expect((await api(app, WRONG)).statusCode).toBe(401);
    const blocked = await api(app, WRONG);
    expect(blocked.statusCode).toBe(429);
    const s = retryAfter(blocked, 15 * 60);
    expect(blocked.json()).toEqual({
      error: {
        code: 'too_many_requests',
        message: `操作过于频繁，请 ${s} 秒后再试 / too many attempts; retry in ${s} s`,
        details: { retryAfterSeconds: s },
      },
    });
    // Guessing does not go on with the right answer: the address waits out the window.
    expect((await api(app, ctx.admin)).statusCode).toBe(429);
    // Another address is not affected.
    expect((await api(app, ctx.admin, '10.0.0.2')).statusCode).toBe(200);
    expect((await api(app, WRONG, '10.0.0.2')).statusCode).toBe(401);
  });

  it('counts failures only: successful requests are never limited and do not reset the count', async () => {
    const app = await ctx.build(LIMITS);
    for (let i = 0; i < 2; i++) expect((await api(app, WRONG)).statusCode).toBe(401);
    for (let i = 0; i < 30; i++) {
      const ok = await api(app, i % 2 === 0 ? ctx.viewer : ctx.admin);
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['x-ratelimit-limit']).toBeUndefined();
    }
    expect((await api(app, WRONG)).statusCode).toBe(401); // the third failure
    expect((await api(app, WRONG)).statusCode).toBe(429);
  });

  it('lets the address try again once RATE_LIMIT_AUTH_WINDOW has passed', async () => {
    const app = await ctx.build({ ...LIMITS, RATE_LIMIT_AUTH_WINDOW: 'PT1S' });
    for (let i = 0; i < 3; i++) await api(app, WRONG);
    const blocked = await api(app, ctx.admin);
    expect(blocked.statusCode).toBe(429);
    retryAfter(blocked, 1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await api(app, ctx.admin)).statusCode).toBe(200);
  });
});

describe('dashboard login', () => {
  it('answers a zh-CN 429 page with Retry-After after N wrong tokens, even to a correct one', async () => {
    const app = await ctx.build(LIMITS);
    for (let i = 0; i < 3; i++) {
      const res = await login(app, `wrong-token-${i}`);
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain('令牌无效或已吊销');
    }
    expectTooManyPage(await login(app, 'wrong-token-3'), 15 * 60);
    expectTooManyPage(await login(app, rawToken(ctx.admin)), 15 * 60);
    // One budget per address: the API is closed to it as well.
    expect((await api(app, ctx.admin)).statusCode).toBe(429);
    // Another address signs in.
    const ok = await login(app, rawToken(ctx.admin), '10.0.0.2');
    expect(ok.statusCode).toBe(303);
    expect(String(ok.headers['set-cookie'])).toContain('duban_token=');
  });

  it('counts a wrong token in the dashboard cookie too, and clears that cookie', async () => {
    const app = await ctx.build(LIMITS);
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        method: 'GET',
        url: '/dashboard',
        headers: { cookie: `duban_token=stale-token-${i}` },
        remoteAddress: '10.0.0.1',
      });
      expect(res.statusCode).toBe(303);
      expect(String(res.headers['set-cookie'])).toMatch(/^duban_token=; .*Max-Age=0/);
    }
    expectTooManyPage(await login(app, rawToken(ctx.admin)), 15 * 60);
  });

  it('does not limit successful sign-ins', async () => {
    const app = await ctx.build(LIMITS);
    for (let i = 0; i < 10; i++) expect((await login(app, rawToken(ctx.viewer))).statusCode).toBe(303);
  });
});

describe('reply form', () => {
  it('limits submissions per link, whoever sends them, with a zh-CN 429 page; other links and GETs are not limited', async () => {
    const app = await ctx.build(LIMITS);
    // Not valid links (403 pages): the limit applies before the token is even read.
    for (let i = 0; i < 2; i++) expect((await replyPost(app, 'link-a')).statusCode).toBe(403);
    const limited = await replyPost(app, 'link-a');
    expectTooManyPage(limited, 60);
    expect(limited.body).toContain('本次操作未被受理');
    // Keyed by the link, not the address.
    expectTooManyPage(await replyPost(app, 'link-a', '10.9.9.9'), 60);
    // Another link from the same address is not affected, nor is opening the page.
    expect((await replyPost(app, 'link-b')).statusCode).toBe(403);
    const page = await app.inject({ method: 'GET', url: '/r/link-a', remoteAddress: '10.0.0.1' });
    expect(page.statusCode).toBe(403);
    expect(page.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('allows RATE_LIMIT_REPLY_MAX submissions per link (default 10 per minute)', async () => {
    const app = await ctx.build();
    for (let i = 0; i < 10; i++) expect((await replyPost(app, 'link-c')).statusCode).toBe(403);
    expectTooManyPage(await replyPost(app, 'link-c'), 60);
  });
});

test('nothing else is limited', async () => {
  const app = await ctx.build(LIMITS);
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
  }
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ method: 'GET', url: '/dashboard/login', remoteAddress: '10.0.0.1' });
    expect(res.statusCode).toBe(200);
  }
});
