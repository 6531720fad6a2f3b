import { z } from 'zod';
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { redactReplyTokens } from '../common/links';
import { html, page } from './views/html';

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
        where: `${err.validationContext ?? 'request'}${v.instancePath || ''}`,
        message: v.message ?? 'invalid',
      }));
      const summary = issues.map((i) => `${i.where}: ${i.message}`).join('; ');
      return reply
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

function containsNul(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return value.includes('\u0000');
  if (Buffer.isBuffer(value)) return false;
  return typeof value === 'object' && JSON.stringify(value).includes('\\u0000');
}
