/**
 * Request logs never carry a reply-link token: the token in /r/<token> lets anyone report as the unit, and logs
 * travel further than the database (files, collectors, support tickets).
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { parseLinkKeys, signLink } from '../../common/links';
import { createPool } from '../../db/pool';
import { TEST_LINK_SECRET, testConfig, useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();

const token = signLink(parseLinkKeys(TEST_LINK_SECRET), {
  y: 2023,
  wp: 5,
  u: 'no-such-unit',
  p: 'report',
  per: 'H1',
  exp: Math.floor(Date.now() / 1000) + 3600,
});
const [payloadPart = '', , signaturePart = ''] = token.split('.');

/** An app logging every line (level trace) into memory; `done` closes it, so the last lines are in, and returns them. */
async function loggedApp(pool = ctx.db.pool): Promise<{ app: FastifyInstance; done: () => Promise<string> }> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  const app = await buildApp(testConfig(), { pool, temporal: ctx.env.client }, { logger: { level: 'trace', stream } });
  const done = async (): Promise<string> => {
    await app.close();
    return lines.join('');
  };
  return { app, done };
}

test('request logs show /r/<redacted> in place of the token, on pages, files, forms and unknown sub-paths', async () => {
  const { app, done } = await loggedApp();
  const answers = [
    await app.inject({ method: 'GET', url: `/r/${token}` }),
    await app.inject({ method: 'GET', url: `/r/${token}/files/00000000-0000-0000-0000-000000000000` }),
    await app.inject({
      method: 'POST',
      url: `/r/${token}`,
      payload: 'submissionId=abcdefgh-1234&text=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
    await app.inject({ method: 'GET', url: `/r/${token}/no/such/route?x=1` }),
  ];
  expect(answers.map((r) => r.statusCode)).toEqual([404, 404, 404, 404]);
  const log = await done();

  expect(log).not.toContain(token);
  expect(log).not.toContain(payloadPart);
  expect(log).not.toContain(signaturePart);
  // The requests were logged, with the path still readable.
  const urls = log
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { req?: { url?: string } })
    .flatMap((l) => (l.req?.url ? [l.req.url] : []));
  expect(urls).toEqual([
    '/r/<redacted>',
    '/r/<redacted>/files/00000000-0000-0000-0000-000000000000',
    '/r/<redacted>',
    '/r/<redacted>/no/such/route?x=1',
  ]);
});

test('the error log of a failed request shows /r/<redacted>', async () => {
  const dead = createPool(ctx.db.url, { max: 1 });
  await dead.end();
  const { app, done } = await loggedApp(dead);
  const res = await app.inject({ method: 'GET', url: `/r/${token}` });
  expect(res.statusCode).toBe(500);
  const log = await done();

  expect(log).not.toContain(token);
  expect(log).not.toContain(signaturePart);
  const failed = log
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg?: string; url?: string })
    .find((l) => l.msg === 'request failed');
  expect(failed?.url).toBe('/r/<redacted>');
});

test('other URLs are logged as they are', async () => {
  const { app, done } = await loggedApp();
  await app.inject({ method: 'GET', url: '/healthz?probe=r' });
  expect(await done()).toContain('"url":"/healthz?probe=r"');
});
