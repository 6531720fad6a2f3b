import { z } from 'zod';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { redactReplyTokens } from '../common/links';
import { html, page } from './views/html';
import { MAX_NAMED_KEYS, shown } from './schemas/input';

/** The one error shape every route answers with. */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('machine-readable code, e.g. validation_failed'),
      message: z.string().describe('what went wrong and what to fix (Chinese first, English after)'),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** A business rejection that carries its HTTP status. */
export class DomainError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/**
 * 429: too many attempts (api/plugins/rate-limit.ts). Carries the seconds until the next attempt counts (sent as
 * Retry-After); `asPage` answers with a zh-CN HTML page instead of the JSON shape, for the reply page and dashboard.
 */
export class TooManyRequestsError extends DomainError {
  constructor(
    readonly retryAfterSeconds: number,
    readonly asPage: boolean,
  ) {
    super(
      429,
      'too_many_requests',
      `操作过于频繁，请 ${retryAfterSeconds} 秒后再试 / too many attempts; retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
    this.name = 'TooManyRequestsError';
  }
}

export const errorResponses = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  422: ErrorBodySchema,
  429: ErrorBodySchema,
  500: ErrorBodySchema,
  503: ErrorBodySchema,
} as const;

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof TooManyRequestsError) {
      void reply.header('retry-after', String(err.retryAfterSeconds));
      if (err.asPage) {
        return reply
          .status(429)
          .type('text/html; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(
            page(
              '操作过于频繁',
              html`<section class="error">
                <h2>操作过于频繁</h2>
                <p>操作过于频繁，请 ${err.retryAfterSeconds} 秒后再试。本次操作未被受理。</p>
              </section>`,
            ),
          );
      }
    }
    if (err instanceof DomainError) {
      return reply.status(err.statusCode).send(errorBody(err.code, err.message, err.details));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        where: `${err.validationContext ?? 'request'}${v.instancePath === '/' ? '' : v.instancePath}`,
        message: v.message ?? 'invalid',
        ...(v.keyword === 'unrecognized_keys' ? { unknown: unknownKeys(v.params) } : {}),
      }));
      // An unknown field is most often a misspelt one whose intended field then looks missing: name it first.
      const unknown = issues.some((i) => i.unknown !== undefined);
      if (unknown) issues.sort((a, b) => Number(b.unknown !== undefined) - Number(a.unknown !== undefined));
      const summary = issues.map((i) => `${i.where}: ${i.message}`).join('; ');
      return unknown
        ? reply
            .status(422)
            .send(errorBody('unknown_field', `请求含有无法识别的字段，未做任何处理 — ${summary}`, issues))
        : reply
            .status(400)
            .send(errorBody('validation_failed', `请求格式不正确 / invalid request — ${summary}`, issues));
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ err, url: redactReplyTokens(request.url) }, 'response did not match its schema');
      return reply.status(500).send(errorBody('internal_error', '服务器内部错误 / internal error'));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own 4xx (malformed JSON, body too large, unsupported media type): its message says what to fix.
      return reply.status(status).send(errorBody(err.code ?? 'bad_request', `请求无法处理 / ${err.message}`));
    }
    request.log.error({ err, url: redactReplyTokens(request.url), method: request.method }, 'request failed');
    return reply
      .status(500)
      .send(errorBody('internal_error', '服务器内部错误，请稍后重试 / internal error, please retry later'));
  });

  // PostgreSQL text cannot hold U+0000: refuse it up front with a 400 rather than fail at the INSERT.
  app.addHook('preValidation', async (request) => {
    if ([request.body, request.query, request.params].some(containsNul)) {
      throw new DomainError(
        400,
        'nul_character',
        '请求中含有空字符（U+0000），无法保存：请删除后重试 / the request contains a NUL character (U+0000); remove it and retry',
      );
    }
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('not_found', `没有这个地址 / no route ${request.method} ${request.url}`));
  });
}

/** Fastify's errors before routing (a URL whose %-encoding is broken), in the same shape as every other error. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode ?? 400;
  if (status >= 500) request.log.error({ err, url: request.url }, 'request failed before routing');
  const message =
    err.code === 'FST_ERR_BAD_URL'
      ? `请求地址中的 % 编码无效：请检查地址 / ${err.message}`
      : `请求无法处理 / ${status >= 500 ? 'internal error' : err.message}`;
  void reply.status(status).send(errorBody(err.code ?? 'bad_request', message));
}

function unknownKeys(params: Record<string, unknown>): string[] {
  return Array.isArray(params.keys) ? params.keys.slice(0, MAX_NAMED_KEYS).map((k) => shown(String(k))) : [];
}

function containsNul(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return value.includes('\u0000');
  if (Buffer.isBuffer(value)) return false;
  return typeof value === 'object' && JSON.stringify(value).includes('\\u0000');
}
