import type { FastifyInstance } from 'fastify';
import { verifyToken } from '../../../db/tokens-repo';
import { TooManyRequestsError } from '../../errors';
import { CLEAR_TOKEN_COOKIE, TOKEN_COOKIE } from '../../plugins/auth';
import { html, raw } from '../../views/html';
import { badRequest, sendPage } from './layout';

/** The dashboard's sign-in: a form that takes an API token and keeps it in an HttpOnly cookie; and sign-out. */

/**
 * Where the login sends the browser afterwards: a page under /dashboard on this site, normalised by the URL
 * parser (dot segments resolved, non-ASCII percent-encoded). Undefined for anything else — another host
 * (//evil.example, https://…), control characters (a CR/LF would split the Location header) or backslashes.
 */
export function loginTarget(next: unknown): string | undefined {
  if (next === undefined || next === '') return '/dashboard';
  if (typeof next !== 'string' || /[\u0000-\u001f\u007f\\]/.test(next)) return undefined;
  const base = 'http://duban.invalid';
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return undefined;
  }
  if (url.origin !== base || !/^\/dashboard(\/|$)/.test(url.pathname) || !next.startsWith('/dashboard'))
    return undefined;
  return `${url.pathname}${url.search}${url.hash}`;
}

const loginForm = (next: string, error?: string) => html`<section${error ? raw(' class="error"') : ''}>
  <h2>登录督办管理页面</h2>
  ${error ? html`<p><strong>${error}</strong></p>` : ''}
  <form method="post" action="/dashboard/login">
    <input type="hidden" name="next" value="${next}">
    <label for="token">API 令牌</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required style="width:100%;font:inherit;padding:8px">
    <div class="hint">由管理员用 <code>npx duban token create --role viewer</code> 创建。令牌只保存在本浏览器的 HttpOnly Cookie 中。</div>
    <button type="submit">登录</button>
  </form></section>`;

const BAD_NEXT = [
  '登录后要返回的地址（next）无效：只能是本系统 /dashboard 下的页面。请打开 /dashboard/login 重新登录。',
];

export default async function dashboardSignIn(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: { next?: unknown } }>(
    '/dashboard/login',
    { schema: { hide: true } },
    async (request, reply) => {
      const next = loginTarget(request.query.next);
      return next === undefined ? badRequest(reply, BAD_NEXT) : sendPage(reply, 200, '登录', loginForm(next));
    },
  );

  app.post<{ Body: { token?: string; next?: unknown } | undefined }>(
    '/dashboard/login',
    { schema: { hide: true } },
    async (request, reply) => {
      const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
      const next = loginTarget(request.body?.next);
      if (next === undefined) return badRequest(reply, BAD_NEXT);
      // The same failed-sign-in budget per address as bearer tokens on /api (api/plugins/rate-limit.ts).
      const wait = await app.signInFailures.blockedFor(request);
      if (wait !== undefined) throw new TooManyRequestsError(wait, true);
      const actor = token ? await verifyToken(app.db, token) : undefined;
      if (!actor) {
        if (token) await app.signInFailures.record(request);
        return sendPage(reply, 401, '登录', loginForm(next, '令牌无效或已吊销，请检查后重试。'));
      }
      const secure = request.protocol === 'https' ? '; Secure' : '';
      return reply
        .header(
          'set-cookie',
          `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${secure}; Max-Age=${12 * 3600}`,
        )
        .redirect(next, 303);
    },
  );

  app.post('/dashboard/logout', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('set-cookie', CLEAR_TOKEN_COOKIE).redirect('/dashboard/login', 303),
  );
}
