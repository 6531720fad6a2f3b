import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { verifyToken, type Actor } from '../../db/tokens-repo';
import { DomainError, TooManyRequestsError } from '../errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** The token holder; always set on /api routes (the hook answers 401 otherwise), null elsewhere unless a valid credential came along. */
    actor: Actor | null;
  }
}

/**
 * The HttpOnly cookie the dashboard keeps the token in, set with SameSite=Strict. On /api it authenticates reads only
 * (COOKIE_METHODS), so the dashboard can link to the report and the ledgers while a request a browser sends by itself
 * — a form another site submits — can change nothing.
 */
export const TOKEN_COOKIE = 'duban_token';

/** Set-Cookie value that removes the token cookie. */
export const CLEAR_TOKEN_COOKIE = `${TOKEN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What the dashboard cookie may do on /api: read. A change needs the token in the Authorization header. */
const COOKIE_METHODS = new Set(['GET', 'HEAD']);

const CREATE_HINT = 'npx duban token create';

/** Routes whose pattern starts here need a token; everything else (health, docs, reply pages, dashboard) is public. */
function requiresToken(routeUrl: string): boolean {
  return routeUrl === '/api' || routeUrl.startsWith('/api/');
}

/** Routes that are public but may show who is signed in (the dashboard reads request.actor). */
function mayUseToken(routeUrl: string): boolean {
  return routeUrl === '/dashboard' || routeUrl.startsWith('/dashboard/');
}

type Credential = { source: 'header' | 'cookie'; token: string } | { source: 'malformed-header' } | undefined;

function readCredential(request: FastifyRequest): Credential {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    return m?.[1] ? { source: 'header', token: m[1] } : { source: 'malformed-header' };
  }
  const token = cookieValue(request.headers.cookie, TOKEN_COOKIE);
  return token ? { source: 'cookie', token } : undefined;
}

/** One cookie's value; a hand parser because this is the only cookie the API reads. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

function unauthorized(
  reply: FastifyReply,
  error: 'missing' | 'invalid' | 'malformed' | 'cookie-read-only',
): DomainError {
  // RFC 6750 §3: tell the client which scheme to use, and whether the token it sent was the problem.
  reply.header(
    'WWW-Authenticate',
    error === 'missing' || error === 'cookie-read-only'
      ? 'Bearer realm="duban"'
      : 'Bearer realm="duban", error="invalid_token"',
  );
  if (error === 'cookie-read-only') {
    return new DomainError(
      401,
      'cookie_read_only',
      `管理页面的登录 Cookie 只能用于查看（GET）：修改数据请在请求头加 Authorization: Bearer <token>（用 ${CREATE_HINT} 创建） / ` +
        `the dashboard's sign-in cookie only reads (GET, HEAD); to change data send Authorization: Bearer <token>`,
    );
  }
  if (error === 'missing') {
    return new DomainError(
      401,
      'unauthorized',
      `需要 API 令牌：请在请求头加 Authorization: Bearer <token>（用 ${CREATE_HINT} 创建） / ` +
        `an API token is required: send Authorization: Bearer <token> (create one with ${CREATE_HINT})`,
    );
  }
  if (error === 'malformed') {
    return new DomainError(
      401,
      'unauthorized',
      '请求头格式不正确：应为 Authorization: Bearer <token> / the Authorization header must read "Bearer <token>"',
    );
  }
  return new DomainError(
    401,
    'invalid_token',
    `令牌无效或已吊销：请检查令牌是否完整，或用 ${CREATE_HINT} 创建新令牌 / ` +
      `the token is invalid or revoked: check that it is complete, or create a new one with ${CREATE_HINT}`,
  );
}

/**
 * Bearer-token authentication for the office API. Runs in onRequest, before the body is read, so an
 * unauthenticated caller costs no body parsing. The decision goes by the matched route pattern rather
 * than the raw URL, so percent-encoded or otherwise disguised paths cannot route to /api unchecked.
 */
export default fp(
  async (app) => {
    app.decorateRequest('actor', null);

    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url;
      if (route === undefined) return; // no route matched: the 404 handler answers
      const required = requiresToken(route);
      if (!required && !mayUseToken(route)) return;

      const credential = readCredential(request);
      if (credential === undefined) {
        if (required) throw unauthorized(reply, 'missing');
        return;
      }
      if (credential.source === 'malformed-header') {
        if (required) throw unauthorized(reply, 'malformed');
        return;
      }
      // Refused before the token is looked up: a browser attaches the cookie to whatever it sends, so it cannot
      // stand for the office's intent to change something, and an unchecked token is no guess to count.
      if (required && credential.source === 'cookie' && !COOKIE_METHODS.has(request.method)) {
        throw unauthorized(reply, 'cookie-read-only');
      }
      // Guessing tokens: after too many wrong ones from this address, none is even looked at until the window ends.
      const wait = await app.signInFailures.blockedFor(request);
      if (wait !== undefined) {
        if (required) throw new TooManyRequestsError(wait, false);
        return; // the dashboard shows its login form, whose POST answers 429
      }
      const actor = await verifyToken(app.db, credential.token);
      if (!actor) {
        await app.signInFailures.record(request);
        // A stale dashboard cookie (revoked token) would otherwise count again on every page and every link.
        if (credential.source === 'cookie') reply.header('set-cookie', CLEAR_TOKEN_COOKIE);
        if (required) throw unauthorized(reply, 'invalid');
        return;
      }
      request.actor = actor;
      if (!required || SAFE_METHODS.has(request.method)) return;
      if (actor.role !== 'admin') {
        throw new DomainError(
          403,
          'forbidden',
          `只读令牌（${actor.role}）不能修改数据：请使用 admin 令牌（${CREATE_HINT} --role admin） / ` +
            `a ${actor.role} token may only read; ${request.method} needs an admin token (${CREATE_HINT} --role admin)`,
        );
      }
    });
  },
  { name: 'auth', dependencies: ['db', 'rate-limit'] },
);
