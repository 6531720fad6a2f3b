/**
 * Security headers on the HTML pages: a CSP that allows what the pages use (inline styles, inline SVG, forms posting
 * to themselves) and nothing else (no script at all), no framing, no MIME sniffing, and no Referer that could carry a
 * reply token away. Swagger UI keeps its own, script-allowing policy. The browser tests (test/e2e) show the pages
 * still render and submit under these headers.
 */
import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { parseLinkKeys, signLink } from '../../common/links';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { TEST_LINK_SECRET, useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();
const YEAR = 2023;

beforeAll(async () => {
  await importDirectory(ctx.db.pool, DEMO_UNIT_DIRECTORY, { demo: true });
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const parsed = parsePlan(text);
  const { id: planId } = await savePlan(ctx.db.pool, { ...parsed.plan!, year: YEAR }, text, parsed.warnings);
  // The cycle's record is all the pages below read; no workflow needs to run.
  await ctx.db.pool.query('INSERT INTO cycles (year, plan_id, workflow_id) VALUES ($1, $2, $3)', [
    YEAR,
    planId,
    `cycle-${YEAR}`,
  ]);
});

const town = DEMO_UNIT_DIRECTORY.units.find((u) => u.name === '中川镇')!.id;
const replyToken = () =>
  signLink(parseLinkKeys(TEST_LINK_SECRET), {
    y: YEAR,
    wp: 5,
    u: town,
    p: 'report',
    per: 'H1',
    exp: Math.floor(Date.now() / 1000) + 3600,
  });

function csp(res: LightMyRequestResponse): Map<string, string[]> {
  const header = String(res.headers['content-security-policy'] ?? '');
  return new Map(
    header
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name = '', ...sources] = d.split(/\s+/);
        return [name, sources] as const;
      }),
  );
}

/** The headers every duban page must carry, and a page that needs nothing the policy forbids. */
function expectClosedPage(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  const policy = csp(res);
  expect(policy.get('default-src')).toEqual(["'self'"]);
  expect(policy.get('script-src')).toEqual(["'none'"]);
  expect(policy.get('script-src-attr')).toEqual(["'none'"]);
  expect(policy.get('object-src')).toEqual(["'none'"]);
  expect(policy.get('base-uri')).toEqual(["'none'"]);
  expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
  expect(policy.get('form-action')).toEqual(["'self'"]);
  // Plain-HTTP office deployments must keep working: no forced upgrade of same-origin form posts.
  expect(policy.has('upgrade-insecure-requests')).toBe(false);
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['referrer-policy']).toBe('no-referrer');

  // What the page contains must fit the policy: no script of any kind, forms only to this origin, and inline
  // styles only where style-src allows them.
  const body = res.body;
  expect(body).not.toMatch(/<script/i);
  expect(body).not.toMatch(/\son[a-z]+\s*=/i);
  expect(body).not.toMatch(/javascript:/i);
  for (const m of body.matchAll(/<form\b[^>]*\baction="([^"]*)"/g)) expect(m[1]).toMatch(/^\/(?!\/)/);
  if (/<style|\sstyle="/.test(body)) expect(policy.get('style-src')).toContain("'unsafe-inline'");
}

test('the reply page (form and all) is sent with the closed-page headers', async () => {
  const app = await ctx.build();
  const res = await app.inject({ method: 'GET', url: `/r/${replyToken()}` });
  expect(res.body).toContain('<form method="post"');
  expectClosedPage(res);
  // The refusal pages of the same route too.
  const refused = await app.inject({ method: 'GET', url: '/r/not-a-token' });
  expect(refused.statusCode).toBe(403);
  expect(csp(refused).get('script-src')).toEqual(["'none'"]);
  expect(refused.headers['referrer-policy']).toBe('no-referrer');
});

test('the dashboard pages are sent with the closed-page headers', async () => {
  const app = await ctx.build();
  const login = await app.inject({ method: 'GET', url: '/dashboard/login' });
  expect(login.body).toContain('action="/dashboard/login"');
  expectClosedPage(login);
  expectClosedPage(await app.inject({ method: 'GET', url: '/dashboard', headers: ctx.viewer }));
  const grid = await app.inject({ method: 'GET', url: `/dashboard/cycles/${YEAR}`, headers: ctx.viewer });
  expect(grid.body).toContain('class="grid"');
  expectClosedPage(grid);
});

test('the annual report HTML, with its inline SVG charts, is sent with the closed-page headers', async () => {
  const app = await ctx.build();
  const res = await app.inject({ method: 'GET', url: `/api/cycles/${YEAR}/report?format=html`, headers: ctx.viewer });
  expect(res.body).toContain('<svg');
  expectClosedPage(res);
});

test('Swagger UI at /docs gets a policy that lets its own scripts run, and nothing from elsewhere', async () => {
  const app = await ctx.build();
  const res = await app.inject({ method: 'GET', url: '/docs/' });
  expect(res.statusCode).toBe(200);
  const scripts = [...res.body.matchAll(/<script\b([^>]*)>([^<]*)<\/script>/g)];
  expect(scripts.length).toBeGreaterThan(0);
  // Every script is a file of this origin (script-src 'self' admits no inline script).
  for (const [, attrs = '', inline = ''] of scripts) {
    expect(attrs).toMatch(/\ssrc="\.?\//);
    expect(inline.trim()).toBe('');
  }
  const policy = csp(res);
  expect(policy.get('script-src')).toEqual(["'self'"]);
  expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
  expect(policy.has('upgrade-insecure-requests')).toBe(false);
  const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
  expect(initializer.statusCode).toBe(200);
  expect(initializer.headers['x-content-type-options']).toBe('nosniff');
  expect(initializer.headers['content-type']).toMatch(/javascript/);
});
